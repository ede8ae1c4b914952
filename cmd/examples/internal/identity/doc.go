// Package identity is the start-up code both example services share: it
// loads the service's certbound identity from its directory or, the first
// time, enrolls with a one-time token, and returns an
// enrollclient.Renewer that keeps the certificate fresh.
//
// It is example code written only against certbound's public SDK
// (enroll/enrollclient, certs/secret), as a service outside this repository
// would write it. It never prints the enrollment token and never overwrites
// a working identity: it enrolls only into an empty directory, or over a
// certificate that has already expired.
package identity
