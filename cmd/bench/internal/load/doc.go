// Package load drives loads against a server and measures them: Conn is one
// keep-alive HTTP/1.1 connection over TLS that sends pre-built request bytes
// (so the generator spends little CPU of the two cores it shares with the
// server), and Run runs a fixed number of operations, or for a fixed time,
// on N goroutines, recording each operation's latency and the server's CPU
// time and memory around the timed window. Every load stops by itself.
package load
