package tokenex

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.step.sm/crypto/pemutil"

	"github.com/certbound/certbound/storage"
)

// rsaBits is the modulus size of new RS256 keys: 3072 bits is NIST's
// 128-bit security level, matching P-256 (RFC 7518 §3.3 asks for ≥ 2048).
const rsaBits = 3072

// signingKey is one parsed signing key. Immutable after parseSigningKey.
type signingKey struct {
	kid          string
	alg          string            // ES256 or RS256; pinned to the key, never taken from a token
	method       jwt.SigningMethod // matches alg
	private      crypto.PrivateKey // *ecdsa.PrivateKey or *rsa.PrivateKey
	public       crypto.PublicKey  // for verification (introspection)
	header       string            // base64url of the JOSE header, then "."
	jwk          json.RawMessage   // the public JWK: kty, key members, kid, use, alg
	createdAt    time.Time         //
	retiredAt    time.Time         // zero while current
	publishUntil time.Time         // retired keys only
}

// keySet is an immutable snapshot of the keys: Service.keys swaps whole sets.
// Which key signs depends on the time as well as on the stored keys: a key
// rotated with an activation delay (Config.ActivationDelay) is published at
// once and signs only from its CreatedAt on, when the key before it retires.
// So the set records when its answer changes (changes, expires) and keySet
// rebuilds it in memory at that moment, without a database read or a timer:
// every use after the activation time signs with the new key, on every
// replica at the same time of the shared clock.
type keySet struct {
	current *signingKey   // signs new tokens at the time the set was built; never nil
	keys    []*signingKey // every published key, current first, then newest first
	jwks    []byte        // {"keys":[...]}, the public members only
	expires time.Time     // earliest publishUntil among retired keys; zero if none
	changes time.Time     // earliest future CreatedAt or RetiredAt: current may change then; zero if none
}

// lookup returns the published key with kid, or nil.
func (ks *keySet) lookup(kid string, now time.Time) *signingKey {
	for _, k := range ks.keys {
		if k.kid == kid {
			if !k.retiredAt.IsZero() && !now.Before(k.publishUntil) {
				return nil
			}
			return k
		}
	}
	return nil
}

// active reports whether k may sign at now: CreatedAt <= now < RetiredAt (or
// not retired).
func (k *signingKey) active(now time.Time) bool {
	return !now.Before(k.createdAt) && (k.retiredAt.IsZero() || now.Before(k.retiredAt))
}

// newKeySet builds the set of keys (newest first, as SigningKeys lists them)
// at now, leaving out retired keys whose publication has ended. The signing
// key is the newest active one. When none is active yet — a first key whose
// CreatedAt, stored by another replica, is a moment ahead of this clock —
// it is the oldest key not retired, the one every replica publishes
// already. Nil when no key can sign.
func newKeySet(keys []*signingKey, now time.Time) *keySet {
	var current *signingKey
	for _, k := range keys {
		if k.active(now) {
			current = k
			break
		}
	}
	if current == nil {
		for _, k := range slices.Backward(keys) {
			if k.retiredAt.IsZero() || now.Before(k.retiredAt) {
				current = k
				break
			}
		}
	}
	if current == nil {
		return nil
	}
	ks := &keySet{current: current, keys: []*signingKey{current}}
	for _, k := range keys {
		if k == current || (!k.retiredAt.IsZero() && !now.Before(k.publishUntil)) {
			continue
		}
		ks.keys = append(ks.keys, k)
	}
	jwks := []byte(`{"keys":[`)
	for i, k := range ks.keys {
		if i > 0 {
			jwks = append(jwks, ',')
		}
		jwks = append(jwks, k.jwk...)
		if !k.retiredAt.IsZero() {
			ks.expires = earliest(ks.expires, k.publishUntil)
		}
		if now.Before(k.createdAt) {
			ks.changes = earliest(ks.changes, k.createdAt)
		}
		if !k.retiredAt.IsZero() && now.Before(k.retiredAt) {
			ks.changes = earliest(ks.changes, k.retiredAt)
		}
	}
	ks.jwks = append(jwks, "]}"...)
	return ks
}

// earliest returns the earlier of a and b, where zero means none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// byAge returns the set's keys newest first (the order SigningKeys uses),
// for rebuilding the set.
func (ks *keySet) byAge() []*signingKey {
	out := slices.Clone(ks.keys)
	slices.SortStableFunc(out, func(a, b *signingKey) int { return b.createdAt.Compare(a.createdAt) })
	return out
}

// keySet returns the current snapshot, first rebuilding it in memory when
// the time passed a moment at which its answer changes: a retired key's
// publication ended, or a pending key's activation came (no database
// access).
func (s *Service) keySet() *keySet {
	for {
		ks := s.keys.Load()
		now := s.now()
		if !due(ks.expires, now) && !due(ks.changes, now) {
			return ks
		}
		next := newKeySet(ks.byAge(), now)
		if next == nil {
			return ks // cannot happen: the newest key never retires by time alone
		}
		if s.keys.CompareAndSwap(ks, next) {
			return next
		}
	}
}

// due reports whether the moment t (zero: never) has come at now.
func due(t, now time.Time) bool { return !t.IsZero() && !now.Before(t) }

// PublishedKeys returns the kid of every published signing key and when it
// leaves the JWKS: zero for keys not retired (for the expiry metrics).
func (s *Service) PublishedKeys() map[string]time.Time {
	out := map[string]time.Time{}
	for _, k := range s.keySet().keys {
		out[k.kid] = k.publishUntil
	}
	return out
}

// JWKS returns the JWK Set (RFC 7517 §5) of every published signing key —
// the current one first, then a pending one that signs from its activation
// on, then retired ones whose tokens may still be alive — with public
// members only, each with kid, use "sig" and alg. The bytes are shared:
// callers must not modify them.
func (s *Service) JWKS() []byte { return s.keySet().jwks }

// CurrentKeyID returns the kid that signs new tokens now.
func (s *Service) CurrentKeyID() string { return s.keySet().current.kid }

// Rotation is what RotateKey did.
type Rotation struct {
	// KID is the new key's.
	KID string
	// ActiveAt is when it starts signing and the previous key retires: now
	// plus Config.ActivationDelay. Until then it is published only.
	ActiveAt time.Time
}

// RotateKey stores a fresh key of the configured algorithm. It is published
// at once and signs from now + Config.ActivationDelay on; the previous key
// signs until that moment and stays in the JWKS until every token it signed
// has expired: MaxTokenTTL plus ClockSkew after it. With a delay at least
// the time every replica takes to reload (the server's: the change feed's
// MaxStaleness plus ClockSkew), every replica publishes the new key before
// any signs with it. Other processes see the new key after their Reload.
func (s *Service) RotateKey(ctx context.Context) (Rotation, error) {
	now := s.now()
	k, err := s.rotate(ctx, now, s.activationDelay)
	if err != nil {
		return Rotation{}, err
	}
	if err := s.Reload(ctx); err != nil {
		return Rotation{}, err
	}
	return Rotation{KID: k.KID, ActiveAt: k.CreatedAt}, nil
}

// rotate stores a new key that signs from now+delay on, retiring the keys
// that sign until then at that moment (RotateSigningKey retires them at the
// new key's CreatedAt).
func (s *Service) rotate(ctx context.Context, now time.Time, delay time.Duration) (storage.SigningKey, error) {
	activeAt := now.Add(delay)
	rec, err := generateSigningKey(s.alg, activeAt, s.keyPassword)
	if err != nil {
		return storage.SigningKey{}, err
	}
	if err := s.store.RotateSigningKey(ctx, rec, activeAt.Add(s.maxTTL+ClockSkew)); err != nil {
		return storage.SigningKey{}, fmt.Errorf("tokenex: store signing key: %w", err)
	}
	return rec, nil
}

// Reload reads the signing keys from the store; the signing key is then the
// newest key with CreatedAt <= now < RetiredAt (or not retired), and every
// key the store lists is published. Call it when another process may have
// rotated (the server calls it on the store's change feed). Keys already
// loaded are not parsed again. On error the previous key set stays in use.
func (s *Service) Reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	now := s.now()
	recs, err := s.store.SigningKeys(ctx, now)
	if err != nil {
		return fmt.Errorf("tokenex: load signing keys: %w", err)
	}
	known := map[string]*signingKey{}
	if old := s.keys.Load(); old != nil {
		for _, k := range old.keys {
			known[k.kid] = k
		}
	}
	keys := make([]*signingKey, 0, len(recs))
	for _, rec := range recs {
		k, ok := known[rec.KID]
		if ok {
			cp := *k // same key material; the retirement dates may have changed
			k = &cp
		} else if k, err = parseSigningKey(rec, s.keyPassword); err != nil {
			return err
		}
		k.retiredAt, k.publishUntil = rec.RetiredAt, rec.PublishUntil
		keys = append(keys, k)
	}
	ks := newKeySet(keys, now)
	if ks == nil {
		return errors.New("tokenex: the store holds no current signing key")
	}
	s.keys.Store(ks)
	return nil
}

// initKeys loads the keys, creating the first one or rotating to the
// configured algorithm when needed.
func (s *Service) initKeys(ctx context.Context) error {
	now := s.now()
	recs, err := s.store.SigningKeys(ctx, now)
	if err != nil {
		return fmt.Errorf("tokenex: load signing keys: %w", err)
	}
	var newest *storage.SigningKey // the newest key not retired: signing, or pending
	for i := range recs {
		if recs[i].RetiredAt.IsZero() {
			newest = &recs[i]
			break
		}
	}
	switch {
	case newest == nil:
		// The first key: there is no other to sign with meanwhile, so it
		// signs at once.
		if _, err := s.rotate(ctx, now, 0); err != nil {
			return err
		}
	case newest.Alg != s.alg:
		if _, err := s.rotate(ctx, now, s.activationDelay); err != nil {
			return err
		}
	}
	return s.Reload(ctx)
}

// generateSigningKey makes a key for alg and its storage record: PKCS #8
// PEM, encrypted with password when there is one (PBES2, as the CA keys).
func generateSigningKey(alg string, now time.Time, password []byte) (storage.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	default:
		err = fmt.Errorf("unsupported algorithm %q", alg)
	}
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("tokenex: generate signing key: %w", err)
	}
	opts := []pemutil.Options{pemutil.WithPKCS8(true)}
	if len(password) > 0 {
		opts = append(opts, pemutil.WithPassword(password))
	}
	block, err := pemutil.Serialize(priv, opts...)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("tokenex: encode signing key: %w", err)
	}
	_, kid, err := publicJWK(priv.Public(), "", "")
	if err != nil {
		return storage.SigningKey{}, err
	}
	return storage.SigningKey{
		KID:        kid,
		Alg:        alg,
		PrivatePEM: string(pem.EncodeToMemory(block)),
		CreatedAt:  now,
	}, nil
}

// parseSigningKey parses a stored key and checks that it is what its record
// says: the right key type for alg, and kid its RFC 7638 thumbprint. An
// encrypted key needs password; an unencrypted one (stored before a
// passphrase was set) loads without.
func parseSigningKey(rec storage.SigningKey, password []byte) (*signingKey, error) {
	fail := func(why string) (*signingKey, error) {
		return nil, fmt.Errorf("tokenex: signing key %s: %s", rec.KID, why)
	}
	block, rest := pem.Decode([]byte(rec.PrivatePEM))
	if block == nil || len(bytes.TrimSpace(rest)) != 0 {
		return fail("not one PKCS #8 PEM block")
	}
	var priv any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		priv, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		if len(password) == 0 {
			return nil, fmt.Errorf("%w: signing key %s: encrypted, and no passphrase was given", ErrKeyPassword, rec.KID)
		}
		priv, err = pemutil.ParseKey([]byte(rec.PrivatePEM), pemutil.WithPassword(password))
		if err != nil {
			return nil, fmt.Errorf("%w: signing key %s: cannot decrypt it with the passphrase given", ErrKeyPassword, rec.KID)
		}
	default:
		return fail("not one PKCS #8 PEM block")
	}
	if err != nil {
		return fail("unparsable PKCS #8")
	}
	k := &signingKey{kid: rec.KID, alg: rec.Alg, private: priv, createdAt: rec.CreatedAt}
	switch p := priv.(type) {
	case *ecdsa.PrivateKey:
		if rec.Alg != ES256 || p.Curve != elliptic.P256() {
			return fail("algorithm does not match the key")
		}
		k.method, k.public = jwt.SigningMethodES256, &p.PublicKey
	case *rsa.PrivateKey:
		if rec.Alg != RS256 || p.N.BitLen() < 2048 {
			return fail("algorithm does not match the key")
		}
		k.method, k.public = jwt.SigningMethodRS256, &p.PublicKey
	default:
		return fail("unsupported key type")
	}
	jwk, kid, err := publicJWK(k.public, rec.KID, rec.Alg)
	if err != nil {
		return nil, err
	}
	if kid != rec.KID {
		return fail("kid is not the key's RFC 7638 thumbprint")
	}
	k.jwk = jwk
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{rec.Alg, rec.KID, "at+jwt"})
	if err != nil {
		return nil, err
	}
	k.header = base64.RawURLEncoding.EncodeToString(header) + "."
	return k, nil
}

// publicJWK returns the public JWK of pub (RFC 7517, RFC 7518 §6) with kid,
// use "sig" and alg, and its RFC 7638 thumbprint. EC coordinates are always
// the full 32 bytes (RFC 7518 §6.2.1.2): ecdsa's Bytes encoding is
// fixed-length, unlike big.Int.Bytes.
func publicJWK(pub crypto.PublicKey, kid, alg string) (json.RawMessage, string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	var members []byte // the RFC 7638 required members, in lexicographic order
	var jwk any
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return nil, "", errors.New("tokenex: EC signing keys must be P-256")
		}
		pt, err := p.Bytes() // 0x04 || X || Y, 32 bytes each
		if err != nil {
			return nil, "", fmt.Errorf("tokenex: %w", err)
		}
		x, y := b64(pt[1:33]), b64(pt[33:65])
		members, _ = json.Marshal(struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{"P-256", "EC", x, y})
		jwk = struct {
			Kty string `json:"kty"`
			Crv string `json:"crv"`
			X   string `json:"x"`
			Y   string `json:"y"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			Alg string `json:"alg"`
		}{"EC", "P-256", x, y, kid, "sig", alg}
	case *rsa.PublicKey:
		n, e := b64(p.N.Bytes()), b64(big.NewInt(int64(p.E)).Bytes())
		members, _ = json.Marshal(struct {
			E   string `json:"e"`
			Kty string `json:"kty"`
			N   string `json:"n"`
		}{e, "RSA", n})
		jwk = struct {
			Kty string `json:"kty"`
			N   string `json:"n"`
			E   string `json:"e"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			Alg string `json:"alg"`
		}{"RSA", n, e, kid, "sig", alg}
	default:
		return nil, "", fmt.Errorf("tokenex: unsupported signing key type %T", pub)
	}
	sum := sha256.Sum256(members)
	out, err := json.Marshal(jwk)
	if err != nil {
		return nil, "", err
	}
	return out, b64(sum[:]), nil
}
