package enroll_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/ca/catest"
	"github.com/certbound/certbound/certs"
	"github.com/certbound/certbound/enroll"
	"github.com/certbound/certbound/storage"
	"github.com/certbound/certbound/storage/sqlite/sqlitetest"
)

// fixture is a real CA whose status source is a real database, and an
// enroll.Service on both.
type fixture struct {
	db        storage.Store
	authority *ca.Authority
	svc       *enroll.Service
	peers     enroll.PeerVerifier // svc.RecordingVerifier(authority)
}

func newFixture(t testing.TB, action enroll.CloneAction) *fixture {
	t.Helper()
	db := sqlitetest.Open(t)
	c := catest.New(t)
	authority, err := ca.New(ca.Config{Dir: c.Dir, TrustDomain: catest.TrustDomain, Status: db})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := enroll.New(enroll.Config{Store: db, CA: authority, OnClone: action})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := db.CreateClient(context.Background(), storage.Client{ID: "svc", AuthMethod: "tls_client_auth",
		GrantTypes: []string{"client_credentials"}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, authority: authority, svc: svc, peers: svc.RecordingVerifier(authority)}
}

func csrFor(t testing.TB) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "svc"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return certs.EncodeCSR(der)
}

// enroll mints a token and redeems it.
func (f *fixture) enroll(t testing.TB) *enroll.Issued {
	t.Helper()
	ctx := context.Background()
	tok, err := f.svc.MintToken(ctx, enroll.TokenRequest{ClientID: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	is, err := f.svc.Enroll(ctx, tok.Token, csrFor(t))
	if err != nil {
		t.Fatal(err)
	}
	return is
}

// peer verifies is's certificate through the recording verifier, as the
// token endpoint and the renewal route do.
func (f *fixture) peer(t *testing.T, is *enroll.Issued) (ca.Peer, error) {
	t.Helper()
	return f.peers.VerifyClient(context.Background(), []*x509.Certificate{is.Leaf, f.authority.Intermediate()})
}

func (f *fixture) renew(t *testing.T, is *enroll.Issued) (*enroll.Issued, error) {
	t.Helper()
	p, err := f.peer(t, is)
	if err != nil {
		t.Fatalf("verify %s: %v", is.Record.Serial, err)
	}
	return f.svc.Renew(context.Background(), p, csrFor(t))
}

func (f *fixture) disabled(t *testing.T) bool {
	t.Helper()
	off, err := f.db.ClientDisabled(context.Background(), "svc")
	if err != nil {
		t.Fatal(err)
	}
	return off
}

func TestCloneActions(t *testing.T) {
	for _, tc := range []struct {
		name          string
		action        enroll.CloneAction
		successorUsed bool
		wantDisabled  bool
	}{
		{"refuse/lost response", enroll.CloneRefuse, false, false},
		{"refuse/successor in use", enroll.CloneRefuse, true, false},
		{"disable-if-used/lost response keeps the client", enroll.CloneDisableIfUsed, false, false},
		{"disable-if-used/successor in use disables", enroll.CloneDisableIfUsed, true, true},
		{"default is disable-if-used", "", true, true},
		{"disable/lost response disables", enroll.CloneDisable, false, true},
		{"disable/successor in use disables", enroll.CloneDisable, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.action)
			first := f.enroll(t)
			second, err := f.renew(t, first)
			if err != nil {
				t.Fatalf("first renewal: %v", err)
			}
			if tc.successorUsed {
				if _, err := f.peer(t, second); err != nil {
					t.Fatal(err)
				}
			}
			_, err = f.renew(t, first)
			var ce *enroll.CloneError
			if !errors.Is(err, enroll.ErrAlreadyRenewed) || !errors.As(err, &ce) {
				t.Fatalf("second renewal of %s: %v, want a CloneError", first.Record.Serial, err)
			}
			if ce.ClientID != "svc" || ce.Serial != first.Record.Serial || ce.SupersededBy != second.Record.Serial {
				t.Fatalf("clone error names %+v; want serial %s superseded by %s", ce, first.Record.Serial, second.Record.Serial)
			}
			if ce.SuccessorUsed != tc.successorUsed || ce.Disabled != tc.wantDisabled || f.disabled(t) != tc.wantDisabled {
				t.Fatalf("successor used %v, disabled %v (db %v); want %v, %v", ce.SuccessorUsed, ce.Disabled, f.disabled(t), tc.successorUsed, tc.wantDisabled)
			}
			// Disabled or not, the lineage is unchanged: one successor.
			rec, err := f.db.GetCertificate(context.Background(), first.Record.Serial)
			if err != nil || rec.SupersededBy != second.Record.Serial {
				t.Fatalf("lineage changed: %+v %v", rec, err)
			}
			if tc.wantDisabled {
				if _, err := f.peer(t, second); !errors.Is(err, ca.ErrClientDisabled) {
					t.Fatalf("the successor still authenticates after the client was disabled: %v", err)
				}
			}
		})
	}
}

func TestConcurrentRenewalsOfOneCertificate(t *testing.T) {
	f := newFixture(t, enroll.CloneRefuse)
	first := f.enroll(t)
	p, err := f.peer(t, first)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	results := make([]*enroll.Issued, n)
	errs := make([]error, n)
	for i := range n {
		csr := csrFor(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = f.svc.Renew(context.Background(), p, csr)
		}()
	}
	wg.Wait()
	var winner string
	for i := range n {
		if errs[i] == nil {
			if winner != "" {
				t.Fatalf("two renewals of %s succeeded: %s and %s", first.Record.Serial, winner, results[i].Record.Serial)
			}
			winner = results[i].Record.Serial
		}
	}
	if winner == "" {
		t.Fatal("no renewal succeeded")
	}
	for i := range n {
		var ce *enroll.CloneError
		if errs[i] != nil && (!errors.As(errs[i], &ce) || ce.SupersededBy != winner) {
			t.Fatalf("losing renewal: %v, want a CloneError naming %s", errs[i], winner)
		}
	}
}

func TestRecordingVerifierRecordsFirstUseOnly(t *testing.T) {
	f := newFixture(t, "")
	is := f.enroll(t)
	ctx := context.Background()
	if used, _ := f.db.CertificateFirstUsed(ctx, is.Record.Serial); !used.IsZero() {
		t.Fatal("a certificate counts as used before it authenticated")
	}
	for range 3 {
		if _, err := f.peer(t, is); err != nil {
			t.Fatal(err)
		}
	}
	used, err := f.db.CertificateFirstUsed(ctx, is.Record.Serial)
	if err != nil || used.IsZero() {
		t.Fatalf("first use not recorded: %v %v", used, err)
	}
	// A refused certificate is not "used".
	if _, err := f.db.RevokeCertificate(ctx, is.Record.Serial, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	other := f.enroll(t)
	if _, err := f.db.RevokeCertificate(ctx, other.Record.Serial, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.peer(t, other); !errors.Is(err, ca.ErrRevoked) {
		t.Fatalf("revoked certificate verified: %v", err)
	}
	if used, _ := f.db.CertificateFirstUsed(ctx, other.Record.Serial); !used.IsZero() {
		t.Fatal("a refused certificate was recorded as used")
	}
}

func TestParseCloneAction(t *testing.T) {
	for in, want := range map[string]enroll.CloneAction{
		"": enroll.CloneDisableIfUsed, "refuse": enroll.CloneRefuse, "disable": enroll.CloneDisable,
		"disable-if-used": enroll.CloneDisableIfUsed,
	} {
		if got, err := enroll.ParseCloneAction(in); err != nil || got != want {
			t.Errorf("accept/%q: %q %v", in, got, err)
		}
	}
	for _, in := range []string{"Refuse", "off", "disable "} {
		if _, err := enroll.ParseCloneAction(in); !errors.Is(err, enroll.ErrInvalidRequest) {
			t.Errorf("reject/%q: %v", in, err)
		}
	}
	if _, err := enroll.New(enroll.Config{Store: sqlitetest.Open(t), CA: catest.New(t).Authority, OnClone: "sometimes"}); err == nil {
		t.Error("reject/New with an unknown clone action")
	}
}

func TestTokenDNSNamesMatchTheProfile(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	for _, names := range [][]string{{"10.0.0.1"}, {"svc.123"}, {"UPPER.example"}, {"*.example"}, make([]string, 101)} {
		if _, err := f.svc.MintToken(ctx, enroll.TokenRequest{ClientID: "svc", DNSNames: names}); !errors.Is(err, enroll.ErrInvalidRequest) {
			t.Errorf("reject/%.20q: %v", names, err)
		}
	}
	if _, err := f.svc.MintToken(ctx, enroll.TokenRequest{ClientID: "svc", DNSNames: []string{"svc.internal", "a1.b2"}}); err != nil {
		t.Errorf("accept: %v", err)
	}
}

// TestRenewalRecordsTheUse: a certificate verified with VerifyRenewal (which
// records nothing) is recorded as used by Renew — in the renewal's
// transaction, or on its own when the renewal is refused — so a successor
// that has only ever renewed still counts as used when its predecessor is
// presented again.
func TestRenewalRecordsTheUse(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, enroll.CloneDisableIfUsed)
	renew := func(is *enroll.Issued, csr []byte) (*enroll.Issued, error) {
		t.Helper()
		p, err := f.svc.VerifyRenewal(ctx, []*x509.Certificate{is.Leaf, f.authority.Intermediate()})
		if err != nil {
			t.Fatalf("verify %s: %v", is.Record.Serial, err)
		}
		return f.svc.Renew(ctx, p, csr)
	}
	firstUse := func(is *enroll.Issued) time.Time {
		t.Helper()
		used, err := f.db.CertificateFirstUsed(ctx, is.Record.Serial)
		if err != nil {
			t.Fatal(err)
		}
		return used
	}

	refused := f.enroll(t)
	if _, err := renew(refused, []byte("not a CSR")); !errors.Is(err, enroll.ErrBadCSR) {
		t.Fatalf("renewal with a bad CSR: %v", err)
	}
	if firstUse(refused).IsZero() {
		t.Error("reject/bad-csr: the refused renewal did not record the use of the presented certificate")
	}

	a := f.enroll(t)
	b, err := renew(a, csrFor(t))
	if err != nil {
		t.Fatal(err)
	}
	if firstUse(a).IsZero() || !firstUse(b).IsZero() {
		t.Fatalf("accept/renewal: first use of the presented %v, of the new %v; want set, unset", firstUse(a), firstUse(b))
	}
	if _, err := renew(b, csrFor(t)); err != nil {
		t.Fatal(err)
	}
	// b has only renewed; presenting a again is a clone with a used successor.
	var ce *enroll.CloneError
	if _, err := renew(a, csrFor(t)); !errors.As(err, &ce) || !ce.SuccessorUsed || !ce.Disabled || !f.disabled(t) {
		t.Fatalf("second renewal of a: %v (%+v), want a CloneError with the successor used and the client disabled", err, ce)
	}
}

// auditRows returns the client.disabled rows of the trail.
func (f *fixture) disabledRows(t *testing.T) []storage.AuditEvent {
	t.Helper()
	rows, err := f.db.ListAuditEvents(context.Background(), storage.AuditFilter{Type: "client.disabled"})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestDelayedUseOfTheSuccessor is the attack clone detection must not miss:
// an attacker holding a copy of the client's key renews first and does not
// use the new certificate; the real client's renewal is refused as a clone
// (the successor unused: it may have been a lost response); then the
// attacker starts using the successor. Under disable-if-used that first use
// disables the client, whichever way it comes: a token request (the
// recording verifier), a renewal, or the introspection of a token bound to
// it.
func TestDelayedUseOfTheSuccessor(t *testing.T) {
	ctx := context.Background()
	uses := map[string]func(f *fixture, successor *enroll.Issued) error{
		"token": func(f *fixture, successor *enroll.Issued) error {
			_, err := f.peers.VerifyClient(ctx, []*x509.Certificate{successor.Leaf, f.authority.Intermediate()})
			return err
		},
		"renewal": func(f *fixture, successor *enroll.Issued) error {
			_, err := f.svc.VerifyRenewal(ctx, []*x509.Certificate{successor.Leaf, f.authority.Intermediate()})
			return err
		},
		"introspection": func(f *fixture, successor *enroll.Issued) error {
			ok, err := f.svc.BoundCertificateUsable(ctx, successor.Record.Fingerprint)
			if err == nil && ok {
				return errors.New("the bound certificate counts as usable")
			}
			return err
		},
	}
	for name, use := range uses {
		t.Run("reject/"+name, func(t *testing.T) {
			f := newFixture(t, enroll.CloneDisableIfUsed)
			stolen := f.enroll(t)
			// The attacker renews first, through the real renewal path.
			p, err := f.svc.VerifyRenewal(ctx, []*x509.Certificate{stolen.Leaf, f.authority.Intermediate()})
			if err != nil {
				t.Fatal(err)
			}
			successor, err := f.svc.Renew(ctx, p, csrFor(t))
			if err != nil {
				t.Fatal(err)
			}
			// The real client's renewal is refused; nothing proves a clone yet.
			var ce *enroll.CloneError
			if _, err := f.renew(t, stolen); !errors.As(err, &ce) || ce.Disabled || ce.SuccessorUsed || !ce.LineageSuspect {
				t.Fatalf("real client's renewal: %v (%+v), want a CloneError that marks the lineage and disables nothing", err, ce)
			}
			if f.disabled(t) {
				t.Fatal("disabled before the successor was used")
			}
			// The attacker now uses the successor.
			var se *enroll.SuspectUseError
			if err := use(f, successor); name != "introspection" && (!errors.As(err, &se) || !errors.Is(err, ca.ErrClientDisabled) || se.Serial != successor.Record.Serial) {
				t.Fatalf("use of the successor: %v, want a SuspectUseError wrapping ca.ErrClientDisabled", err)
			} else if err != nil && name == "introspection" {
				t.Fatal(err)
			}
			if !f.disabled(t) {
				t.Fatal("the delayed use of the successor left the client enabled")
			}
			rows := f.disabledRows(t)
			if len(rows) != 1 || rows[0].ClientID != "svc" || rows[0].Reason != enroll.ReasonSuspectLineageUsed || rows[0].Serial != successor.Record.Serial {
				t.Fatalf("audit rows %+v, want one client.disabled row for svc, reason %s, serial %s", rows, enroll.ReasonSuspectLineageUsed, successor.Record.Serial)
			}
			if _, err := f.peer(t, successor); !errors.Is(err, ca.ErrClientDisabled) {
				t.Fatalf("the successor still authenticates: %v", err)
			}
		})
	}
}

// TestSuspectLineageAfterReenable: the mark decides once. When an admin
// re-enables the client after the disable, the lineage's marks are gone and
// the certificates work again (the admin revokes what should not).
func TestSuspectLineageAfterReenable(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, enroll.CloneDisableIfUsed)
	first := f.enroll(t)
	second, err := f.renew(t, first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.renew(t, first); !errors.Is(err, enroll.ErrAlreadyRenewed) {
		t.Fatal(err)
	}
	if _, err := f.peer(t, second); !errors.Is(err, ca.ErrClientDisabled) {
		t.Fatalf("use of the suspect successor: %v", err)
	}
	if _, err := f.db.ModifyClient(ctx, "svc", func(c *storage.Client) error { c.Disabled = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := f.peer(t, second); err != nil {
		t.Fatalf("after re-enabling: %v", err)
	}
	if n := len(f.disabledRows(t)); n != 1 {
		t.Fatalf("%d client.disabled rows, want 1", n)
	}
}

// TestSuspectLineageCoversDescendants: a mark reaches every certificate
// renewed from the successor, and a renewal of a marked certificate that
// reaches the database is refused there too.
func TestSuspectLineageCoversDescendants(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, enroll.CloneDisableIfUsed)
	a := f.enroll(t)
	b, err := f.renew(t, a)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.renew(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.db.MarkLineageSuspect(ctx, b.Record.Serial, a.Record.Serial); err != nil || n != 2 {
		t.Fatalf("marked %d records (%v), want b and c", n, err)
	}
	for _, is := range []*enroll.Issued{b, c} {
		if s, err := f.db.CertificateSuspect(ctx, is.Record.Serial); err != nil || !s {
			t.Fatalf("%s suspect = %v %v", is.Record.Serial, s, err)
		}
	}
	if s, _ := f.db.CertificateSuspect(ctx, a.Record.Serial); s {
		t.Fatal("the refused certificate itself is marked")
	}
	// c renews through a Peer verified before the mark: the database refuses.
	p, err := f.authority.VerifyClient(ctx, []*x509.Certificate{c.Leaf, f.authority.Intermediate()})
	if err != nil {
		t.Fatal(err)
	}
	var se *enroll.SuspectUseError
	if _, err := f.svc.Renew(ctx, p, csrFor(t)); !errors.As(err, &se) || !se.Disabled {
		t.Fatalf("renewal of a marked certificate: %v", err)
	}
	if !f.disabled(t) {
		t.Fatal("not disabled")
	}
	if s, _ := f.db.CertificateSuspect(ctx, c.Record.Serial); s {
		t.Fatal("the marks outlived the disable")
	}
}

// TestCloneDisableLeavesAnAuditRow (issue 18): the renewal path's disable
// leaves a client.disabled row with the reason and no admin.
func TestCloneDisableLeavesAnAuditRow(t *testing.T) {
	f := newFixture(t, enroll.CloneDisable)
	first := f.enroll(t)
	if _, err := f.renew(t, first); err != nil {
		t.Fatal(err)
	}
	if _, err := f.renew(t, first); !errors.Is(err, enroll.ErrAlreadyRenewed) {
		t.Fatal(err)
	}
	rows := f.disabledRows(t)
	if len(rows) != 1 || rows[0].ClientID != "svc" || rows[0].Reason != enroll.ReasonPossibleClone || rows[0].Serial != first.Record.Serial || rows[0].Remote != "" {
		t.Fatalf("audit rows %+v, want one client.disabled row for svc, reason possible_clone, serial %s", rows, first.Record.Serial)
	}
	// Disabling a disabled client is no change: no second row.
	if err := f.db.DisableClientAudited(context.Background(), "svc", first.Record.Serial, enroll.ReasonPossibleClone, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.disabledRows(t)); n != 1 {
		t.Fatalf("%d client.disabled rows after a second refusal, want 1", n)
	}
}

// TestSupersededCertificateStillGetsTokens is the decision SECURITY.md
// explains: a certificate that was renewed keeps authenticating (tokens,
// not renewal) until it expires, so that requests in flight during a
// renewal and pooled connections do not fail; only a suspect lineage or a
// disable stops it earlier.
func TestSupersededCertificateStillGetsTokens(t *testing.T) {
	f := newFixture(t, enroll.CloneDisableIfUsed)
	first := f.enroll(t)
	if _, err := f.renew(t, first); err != nil {
		t.Fatal(err)
	}
	if _, err := f.peer(t, first); err != nil {
		t.Fatalf("accept/superseded: %v", err)
	}
}

// TestRefuseMarksNothing: under refuse a clone refusal marks no lineage and
// the successor keeps working.
func TestRefuseMarksNothing(t *testing.T) {
	f := newFixture(t, enroll.CloneRefuse)
	first := f.enroll(t)
	second, err := f.renew(t, first)
	if err != nil {
		t.Fatal(err)
	}
	var ce *enroll.CloneError
	if _, err := f.renew(t, first); !errors.As(err, &ce) || ce.LineageSuspect {
		t.Fatalf("%v %+v", err, ce)
	}
	if _, err := f.peer(t, second); err != nil || f.disabled(t) {
		t.Fatalf("successor under refuse: %v, disabled %v", err, f.disabled(t))
	}
}
