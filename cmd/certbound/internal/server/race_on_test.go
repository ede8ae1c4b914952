//go:build race

package server_test

// raceBuild: the tests run with the race detector.
const raceBuild = true
