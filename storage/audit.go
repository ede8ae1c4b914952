package storage

import (
	"time"
)

// AuditEvent is one row of the security trail.
type AuditEvent struct {
	ID        int64
	At        time.Time
	Type      string // dotted, e.g. "certificate.issued"
	ClientID  string
	Serial    string
	Reason    string // a non-secret enum
	Remote    string // source address
	RequestID string // of the first request the row stands for
	// Count is how many like events the row stands for (within one flush
	// window, from the first at At); zero is stored as 1.
	Count int
	// AdminKey names the admin key the request was authenticated with, if
	// any; TargetKey the admin key an admin_key.* event is about.
	AdminKey  string
	TargetKey string
}

// AuditFilter selects events; zero fields select everything.
type AuditFilter struct {
	Since    time.Time
	ClientID string
	Type     string // exact type, or a prefix ending in "." ("token.")
	AfterID  int64  // pagination: events with a larger id
	Limit    int    // <= 0 means 1000
}
