//go:build race

package httpapi

// raceBuild: the tests run with the race detector, which makes the big
// loops of some tests ten times slower.
const raceBuild = true
