package storage

// SuspectCertificate is a marked certificate found by its fingerprint.
type SuspectCertificate struct {
	Serial    string
	ClientID  string
	SuspectOf string // the refused certificate the mark names
}
