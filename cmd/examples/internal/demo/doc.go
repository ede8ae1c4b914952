// Package demo plays the seed guide's scenario end to end with real
// processes, for `make demo`: it starts `certbound serve` on a fresh
// temporary data dir and a free port, registers the task and calendar
// services and mints their enrollment tokens with the certbound CLI, starts
// both example services, creates an event (201), and then plays an attacker
// who copied the task service's access token and replays it without a
// certificate, with another service's certificate and with the calendar
// service's own certificate (401 each time). It explains every step in plain
// words and fails if any step does not behave as stated.
//
// Everything it starts it stops, also on failure or interruption, and it
// removes its temporary directory unless asked to keep it. It prints no
// secret in full: enrollment and access tokens are shortened.
package demo
