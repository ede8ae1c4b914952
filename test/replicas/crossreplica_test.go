package replicas

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/certs/secret"
	"github.com/certbound/certbound/enroll/enrollclient"
	"github.com/certbound/certbound/tokenex/tokenclient"
	"github.com/certbound/certbound/tokenex/verify"
)

// TestEnrollOnARenewOnBTokenOnCVerifiedWithBsJWKSIntrospectedOnA: one
// identity's life spread over three replicas, through the SDKs a service
// uses (enrollclient, tokenclient, verify), as a load balancer would spread
// it: every step works on a replica that did not do the step before.
func TestEnrollOnARenewOnBTokenOnCVerifiedWithBsJWKSIntrospectedOnA(t *testing.T) {
	t.Parallel() // no timed assertion: it may share the CPU with the long tests
	db := sharedDatabase(t)
	c := startCluster(t, db, 3)
	a, b, cc := c.replicas[0], c.replicas[1], c.replicas[2]
	ctx := context.Background()
	const clientID = "spread-service"
	c.createClient(ctx, a, clientID)
	dir := filepath.Join(t.TempDir(), "identity")

	enrolled, err := enrollclient.Enroll(ctx, enrollclient.Options{
		Server: a.url, Fingerprint: c.fingerprint, Dir: dir,
		Token: secret.FromString(c.mustMintToken(ctx, a, clientID)),
	})
	if err != nil {
		t.Fatalf("enroll on A: %v", err)
	}
	renewed, err := enrollclient.Renew(ctx, dir, b.url)
	if err != nil {
		t.Fatalf("renew on B: %v", err)
	}
	if renewed.Serial == enrolled.Serial {
		t.Fatalf("renewal on B returned the enrolled serial %s", enrolled.Serial)
	}
	if from := dbColumn(t, db, `SELECT renewed_from FROM certificates WHERE serial = $1`, renewed.Serial); len(from) != 1 || from[0] != enrolled.Serial {
		t.Fatalf("the database records %s as renewed from %v, want %s", renewed.Serial, from, enrolled.Serial)
	}

	src, err := tokenclient.New(tokenclient.Config{
		TokenURL: cc.url + "/oauth2/token", ClientID: clientID, Audience: testAudience,
		HTTPClient: renewed.HTTPClient(), Certificate: renewed.Leaf,
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := src.TokenContext(ctx)
	if err != nil {
		t.Fatalf("token on C: %v", err)
	}

	v, err := verify.New(ctx, verify.Config{Issuer: issuer, Audience: testAudience,
		JWKSURL: b.url + "/.well-known/jwks.json", Roots: c.roots})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := v.Verify(ctx, tok.AccessToken, renewed.Leaf())
	if err != nil {
		t.Fatalf("C's token does not verify with B's JWKS: %v", err)
	}
	if claims.ClientID != clientID || claims.Thumbprint != certs.X5tS256(renewed.Leaf().Raw) {
		t.Errorf("claims: client_id %q, cnf.x5t#S256 %q; want %q bound to the renewed certificate", claims.ClientID, claims.Thumbprint, clientID)
	}

	active, err := c.introspect(ctx, a, tok.AccessToken)
	if err != nil || !active {
		t.Fatalf("introspection of C's token on A: active=%v, %v; want active", active, err)
	}
}
