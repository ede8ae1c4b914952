// Package floor measures the cost of the primitives each certbound path
// cannot avoid, with the standard library alone, on certificates of the
// shape certbound issues (a P-256 root and intermediate made by ca.Bootstrap,
// leaves made by ca.IssueLeaf): CSR parse + signature check, leaf creation,
// ES256 sign and verify, SHA-256 of a certificate, chain verification, and a
// TLS 1.3 handshake with a client certificate, full and resumed.
//
// Each figure is CPU time per operation of one OS thread (getrusage
// RUSAGE_THREAD), so the other load on the machine does not inflate it. For
// the handshakes it is the server side's thread only, over real loopback TCP,
// so the kernel's share of the server's send and receive calls counts, as it
// does for the certbound process.
package floor
