package load

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Conn is one HTTP/1.1 connection over TLS, used by one goroutine.
type Conn struct {
	raw  *net.TCPConn
	tc   *tls.Conn
	br   *bufio.Reader
	body bytes.Buffer
}

// Dial connects to addr and completes the TLS handshake with cfg.
func Dial(addr string, cfg *tls.Config) (*Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(nc, cfg)
	_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.Handshake(); err != nil {
		nc.Close()
		return nil, err
	}
	_ = tc.SetDeadline(time.Time{})
	return &Conn{raw: nc.(*net.TCPConn), tc: tc, br: bufio.NewReaderSize(tc, 8<<10)}, nil
}

// State returns the TLS connection state.
func (c *Conn) State() tls.ConnectionState { return c.tc.ConnectionState() }

// Do writes req (a complete HTTP/1.1 request, see Request) and reads the
// response. The body is valid until the next Do.
func (c *Conn) Do(req []byte) (status int, body []byte, err error) {
	_ = c.tc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.tc.Write(req); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, nil, err
	}
	c.body.Reset()
	_, err = c.body.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, nil, err
	}
	if resp.Close {
		err = fmt.Errorf("the server closed the connection after status %d", resp.StatusCode)
	}
	return resp.StatusCode, c.body.Bytes(), err
}

// Close closes the connection gracefully (close_notify, FIN).
func (c *Conn) Close() error { return c.tc.Close() }

// Abort closes the connection with a TCP reset, so that the generator's
// side keeps no TIME_WAIT entry: loads that open thousands of connections a
// second would otherwise run out of loopback ports. Call it only after the
// response was read.
func (c *Conn) Abort() error {
	_ = c.raw.SetLinger(0)
	return c.raw.Close()
}

// Request builds the bytes of an HTTP/1.1 request with a body.
func Request(method, host, path, contentType string, body []byte, header ...string) []byte {
	var b bytes.Buffer
	b.WriteString(method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\n")
	if contentType != "" {
		b.WriteString("Content-Type: " + contentType + "\r\n")
	}
	for i := 0; i+1 < len(header); i += 2 {
		b.WriteString(header[i] + ": " + header[i+1] + "\r\n")
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	b.Write(body)
	return b.Bytes()
}
