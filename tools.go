//go:build tools

// This file pins modules that later packages build on, so `go mod tidy`
// keeps them while the packages that use them are being written.
package tools

import (
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/labstack/echo/v4"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/cobra"
	_ "github.com/spiffe/go-spiffe/v2/svid/x509svid"
	_ "go.step.sm/crypto/jose"
	_ "go.step.sm/crypto/keyutil"
	_ "go.step.sm/crypto/pemutil"
	_ "go.step.sm/crypto/x509util"
	_ "golang.org/x/oauth2/clientcredentials"
	_ "golang.org/x/time/rate"
	_ "modernc.org/sqlite"
)
