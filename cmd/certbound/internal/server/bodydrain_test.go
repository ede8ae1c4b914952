package server_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"testing"

	"github.com/certbound/certbound/cmd/certbound/internal/server/servertest"
)

// rawRequest is an oversized request written by hand on its own TLS
// connection, as a simple client does it: the whole body first, the
// response afterwards.
type rawRequest struct {
	path, ctype, auth string
	size              int  // body bytes
	chunked           bool // Transfer-Encoding: chunked instead of Content-Length
}

// dialRaw opens a TLS connection to s that trusts its root. Its send
// buffer is small, as on a real network where the bytes in flight are few:
// on loopback the kernel would otherwise swallow a megabyte at once.
func dialRaw(t *testing.T, s *servertest.Server) *tls.Conn {
	t.Helper()
	tcp, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tcp.(*net.TCPConn).SetWriteBuffer(8 << 10); err != nil {
		t.Fatal(err)
	}
	conn := tls.Client(tcp, &tls.Config{RootCAs: s.Roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	t.Cleanup(func() { conn.Close() })
	if err := conn.Handshake(); err != nil {
		t.Fatal(err)
	}
	return conn
}

// send writes the request line, headers and body to w, stopping at the
// first write error; it returns the body bytes written and that error.
func (r rawRequest) send(w io.Writer, host string) (int, error) {
	head := "POST " + r.path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: " + r.ctype + "\r\n"
	if r.auth != "" {
		head += "Authorization: " + r.auth + "\r\n"
	}
	if r.chunked {
		head += "Transfer-Encoding: chunked\r\n\r\n"
	} else {
		head += fmt.Sprintf("Content-Length: %d\r\n\r\n", r.size)
	}
	if _, err := io.WriteString(w, head); err != nil {
		return 0, err
	}
	body := w
	var cw io.WriteCloser
	if r.chunked {
		cw = httputil.NewChunkedWriter(w)
		body = cw
	}
	filler := []byte(strings.Repeat("a", 32<<10))
	sent := 0
	for sent < r.size {
		n, err := body.Write(filler[:min(len(filler), r.size-sent)])
		sent += n
		if err != nil {
			return sent, err
		}
	}
	if cw != nil {
		if err := cw.Close(); err != nil {
			return sent, err
		}
		if _, err := io.WriteString(w, "\r\n"); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// TestOversizedBodyIs413NotReset: a client that sends a whole body over the
// limit before it reads anything gets the JSON 413, not a reset connection,
// whether the length was declared or the body chunked, on JSON and on form
// (OAuth) routes. The server reads and discards the rest of the body up to a
// bound (httpapi.MaxDiscardBytes) so that closing the connection afterwards
// does not destroy the answer.
func TestOversizedBodyIs413NotReset(t *testing.T) {
	s := servertest.Start(t)
	host := strings.TrimPrefix(s.URL, "https://")
	routes := []rawRequest{
		{path: "/v1/clients", ctype: "application/json", auth: "Bearer " + s.AdminKey},
		{path: "/v1/enroll", ctype: "application/json"},
		{path: "/oauth2/token", ctype: "application/x-www-form-urlencoded"},
		{path: "/oauth2/introspect", ctype: "application/x-www-form-urlencoded", auth: "Bearer " + s.AdminKey},
		{path: "/auth/oauth/token", ctype: "application/json"},
	}
	for _, rt := range routes {
		for _, chunked := range []bool{false, true} {
			rq := rt
			rq.size, rq.chunked = 1<<20, chunked
			name := "reject/1 MiB " + rq.path
			if chunked {
				name += " chunked"
			}
			t.Run(name, func(t *testing.T) {
				conn := dialRaw(t, s)
				if _, err := rq.send(conn, host); err != nil {
					t.Fatalf("sending the body: %v", err)
				}
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatalf("reading the response: %v", err)
				}
				data, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatalf("reading the response body: %v", err)
				}
				r := &servertest.Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
				if r.Status != http.StatusRequestEntityTooLarge {
					t.Fatalf("%d %s, want 413", r.Status, data)
				}
				if err := checkErrorBody(r, "request_too_large"); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	// Over HTTP/2 the server ends the stream after its answer (RST_STREAM
	// NO_ERROR, RFC 9113 §8.1) instead of reading on.
	h2 := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{RootCAs: s.Roots, MinVersion: tls.VersionTLS12}}}
	t.Cleanup(h2.CloseIdleConnections)
	for _, chunked := range []bool{false, true} {
		name := "reject/HTTP2 1 MiB"
		if chunked {
			name += " chunked"
		}
		t.Run(name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(strings.Repeat("a", 1<<20))
			if chunked {
				body = io.MultiReader(body) // unknown length
			}
			req, _ := http.NewRequest("POST", s.URL+"/oauth2/token", body)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := h2.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != 2 {
				t.Fatalf("spoke %s, want HTTP/2", resp.Proto)
			}
			r := &servertest.Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
			if r.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d %s, want 413", r.Status, data)
			}
			if err := checkErrorBody(r, "request_too_large"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestHugeBodyIsCutOff: a client that keeps sending (100 MiB) is not read to
// the end: the server answers 413, discards a bounded amount and closes the
// connection, so the client's writes fail long before it is done, and the
// server goes on serving.
func TestHugeBodyIsCutOff(t *testing.T) {
	s := servertest.Start(t)
	host := strings.TrimPrefix(s.URL, "https://")
	const huge = 100 << 20
	for _, chunked := range []bool{false, true} {
		name := "reject/100 MiB"
		if chunked {
			name += " chunked"
		}
		t.Run(name, func(t *testing.T) {
			conn := dialRaw(t, s)
			rq := rawRequest{path: "/v1/clients", ctype: "application/json", auth: "Bearer " + s.AdminKey, size: huge, chunked: chunked}
			type result struct {
				sent int
				err  error
			}
			done := make(chan result, 1)
			go func() {
				n, err := rq.send(conn, host)
				done <- result{n, err}
			}()
			// Reading while the body is still going out, as HTTP clients do.
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("reading the response: %v", err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d %s, want 413", resp.StatusCode, data)
			}
			res := <-done
			if res.err == nil || res.sent >= huge {
				t.Fatalf("the server read all %d bytes (write error %v); it must stop after a bound", res.sent, res.err)
			}
			var ne interface{ Timeout() bool }
			if errors.As(res.err, &ne) && ne.Timeout() {
				t.Fatalf("write timed out instead of the server closing: %v", res.err)
			}
			if r := s.Do(t, nil, "GET", "/v1/health", nil); r.Status != 200 {
				t.Fatalf("health after the huge body: %d", r.Status)
			}
		})
	}
}

// TestOversizedBodyWithExpectContinue: a client that declares a body over
// the limit and waits for "100 Continue" gets the 413 at once, and is never
// invited to send the body.
func TestOversizedBodyWithExpectContinue(t *testing.T) {
	s := servertest.Start(t)
	conn := dialRaw(t, s)
	head := "POST /oauth2/token HTTP/1.1\r\nHost: " + strings.TrimPrefix(s.URL, "https://") +
		"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1048576\r\nExpect: 100-continue\r\n\r\n"
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := &servertest.Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
	if r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("first answer %d %s, want 413 (no 100 Continue)", r.Status, data)
	}
	if err := checkErrorBody(r, "request_too_large"); err != nil {
		t.Fatal(err)
	}
}
