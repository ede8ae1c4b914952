package floor

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.step.sm/crypto/pemutil"

	"github.com/certbound/certbound/ca"
	"github.com/certbound/certbound/certs"
)

// fixtures are certbound-shaped keys and certificates.
type fixtures struct {
	dir          string
	auth         *ca.Authority
	interKey     crypto.Signer
	clientKey    *ecdsa.PrivateKey
	leaf         *x509.Certificate // issued by ca.IssueLeaf
	leafTemplate *x509.Certificate // the same profile, for x509.CreateCertificate
	csr          []byte            // DER
	jwtKey       *ecdsa.PrivateKey
	verifyOpts   x509.VerifyOptions
	server       tls.Certificate
	client       tls.Certificate
}

// noStatus answers VerifyClient's status questions; the floors never call it.
type noStatus struct{}

func (noStatus) CertificateRevoked(context.Context, string) (bool, error) { return false, nil }
func (noStatus) ClientDisabled(context.Context, string) (bool, error)     { return false, nil }

func newFixtures() (*fixtures, error) {
	dir, err := os.MkdirTemp("", "certbound-floor-")
	if err != nil {
		return nil, err
	}
	fx := &fixtures{dir: dir}
	if err := fx.init(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return fx, nil
}

func (fx *fixtures) init() error {
	caDir := filepath.Join(fx.dir, "ca")
	if err := ca.Bootstrap(caDir, ca.BootstrapOptions{}); err != nil {
		return err
	}
	auth, err := ca.New(ca.Config{Dir: caDir, Status: noStatus{}})
	if err != nil {
		return err
	}
	fx.auth = auth
	k, err := pemutil.Read(filepath.Join(caDir, ca.IntermediateKeyFile))
	if err != nil {
		return err
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return errors.New("the intermediate key is not a signer")
	}
	fx.interKey = signer
	if fx.clientKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return err
	}
	if fx.jwtKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return err
	}
	const clientID = "bench-floor"
	if fx.leaf, err = auth.IssueLeaf(ca.LeafRequest{ClientID: clientID, PublicKey: &fx.clientKey.PublicKey, Lifetime: 24 * time.Hour}); err != nil {
		return err
	}
	fx.leafTemplate = &x509.Certificate{
		Subject:               fx.leaf.Subject,
		URIs:                  fx.leaf.URIs,
		NotBefore:             fx.leaf.NotBefore,
		NotAfter:              fx.leaf.NotAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		SubjectKeyId:          fx.leaf.SubjectKeyId,
	}
	if fx.csr, err = x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: clientID}}, fx.clientKey); err != nil {
		return err
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(auth.Root())
	inters.AddCert(auth.Intermediate())
	fx.verifyOpts = x509.VerifyOptions{Roots: roots, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if fx.server, err = auth.IssueServer([]string{"127.0.0.1"}, 24*time.Hour); err != nil {
		return err
	}
	fx.client = tls.Certificate{Certificate: [][]byte{fx.leaf.Raw, auth.Intermediate().Raw}, PrivateKey: fx.clientKey, Leaf: fx.leaf}
	return nil
}

// token returns the signing input and signature of a JWT shaped like a
// certbound access token (same header and claim names, similar lengths).
func (fx *fixtures) token() (string, []byte) {
	b64 := base64.RawURLEncoding.EncodeToString
	header, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": b64(make([]byte, 32)), "typ": "at+jwt"})
	now := time.Now().Unix()
	claims, _ := json.Marshal(map[string]any{
		"iss": "https://127.0.0.1:8443", "sub": "bench-tok-00", "aud": "bench", "exp": now + 3600, "nbf": now, "iat": now,
		"jti": b64(make([]byte, 16)), "client_id": "bench-tok-00", "scope": "bench.read", "scp": []string{"bench.read"},
		"stt": 1, "cnf": map[string]string{"x5t#S256": certs.X5tS256(fx.leaf.Raw)},
	})
	input := b64(header) + "." + b64(claims)
	sig, err := jwt.SigningMethodES256.Sign(input, fx.jwtKey)
	if err != nil {
		panic(err)
	}
	return input, sig
}

// handshake measures the server side of TLS handshakes with a client
// certificate over loopback TCP, with the configuration certbound's listener
// uses (TLS 1.2+, client certificate requested, session tickets on, Go's
// default key exchange). The server goroutine is locked to its thread and
// counts that thread's CPU from Accept's return to the connection's close,
// one byte of application data included. With resume, the client keeps a
// session cache and every measured handshake must have resumed.
func (fx *fixtures) handshake(d time.Duration, resume bool) (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	srvCfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		ClientAuth:   tls.RequestClientCert,
		Certificates: []tls.Certificate{fx.server},
		NextProtos:   []string{"h2", "http/1.1"},
	}
	type conn struct {
		cpu     time.Duration
		resumed bool
		err     error
	}
	done := make(chan []conn, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var out []conn
		for {
			c, err := ln.Accept()
			if err != nil {
				break
			}
			c0 := threadCPU()
			tc := tls.Server(c, srvCfg)
			err = tc.Handshake()
			st := tc.ConnectionState()
			if err == nil && len(st.PeerCertificates) == 0 {
				err = errors.New("no client certificate on the connection")
			}
			if err == nil {
				_, err = tc.Write([]byte{1})
			}
			tc.Close()
			out = append(out, conn{cpu: threadCPU() - c0, resumed: st.DidResume, err: err})
		}
		done <- out
	}()
	cliCfg := &tls.Config{RootCAs: fx.verifyOpts.Roots, ServerName: "127.0.0.1", Certificates: []tls.Certificate{fx.client},
		NextProtos: []string{"http/1.1"}}
	if resume {
		cliCfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	}
	const warmup = 5
	var clientErr error
	for n, end := 0, time.Now().Add(d); n < warmup+20 || time.Now().Before(end); n++ {
		c, err := tls.Dial("tcp", ln.Addr().String(), cliCfg)
		if err != nil {
			clientErr = err
			break
		}
		var b [1]byte
		_, err = io.ReadFull(c, b[:])
		c.Close()
		if err != nil {
			clientErr = err
			break
		}
	}
	ln.Close()
	conns := <-done
	if clientErr != nil {
		return 0, clientErr
	}
	var total time.Duration
	var n int
	for _, c := range conns[warmup:] {
		if c.err != nil {
			return 0, c.err
		}
		if c.resumed != resume {
			return 0, fmt.Errorf("a handshake resumed=%v, want %v", c.resumed, resume)
		}
		total += c.cpu
		n++
	}
	return total / time.Duration(n), nil
}
