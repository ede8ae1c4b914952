package server

import (
	"fmt"
	"net"
)

// DefaultIssuer is the issuer a server with this listen address and these
// DNS names has when none is configured: https://<first DNS name>:<port>,
// without the port when it is 443. The listen address's host does not count
// (0.0.0.0 or an empty host say where to listen, not how clients reach it).
// A port of 0 or none gives an error: the issuer cannot be known in advance.
func DefaultIssuer(listen string, dns []string) (string, error) {
	_, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" || port == "0" || len(dns) == 0 {
		return "", fmt.Errorf("cannot derive the issuer from --listen %q and --dns %v; pass --issuer https://<name clients use>:<port>", listen, dns)
	}
	if port == "443" {
		return "https://" + hostForURL(dns[0]), nil
	}
	return "https://" + net.JoinHostPort(dns[0], port), nil
}

func hostForURL(h string) string {
	if ip := net.ParseIP(h); ip != nil && ip.To4() == nil {
		return "[" + h + "]"
	}
	return h
}
