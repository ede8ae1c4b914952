package server

import (
	"context"
	"crypto/subtle"

	"github.com/certbound/certbound/certs/secret"
)

// adminKeys checks admin API keys against the hashes loaded at start. Every
// stored hash is compared, in constant time, whatever the outcome, so the
// time taken says nothing about which key (if any) was close.
type adminKeys struct {
	hashes [][]byte // immutable after load
}

func loadAdminKeys(ctx context.Context, src interface {
	AdminKeyHashes(context.Context) ([][]byte, error)
}) (*adminKeys, error) {
	h, err := src.AdminKeyHashes(ctx)
	if err != nil {
		return nil, err
	}
	return &adminKeys{hashes: h}, nil
}

// AdminKeyValid implements httpapi.AdminAuthenticator.
func (k *adminKeys) AdminKeyValid(key secret.Secret) bool {
	if key.IsZero() {
		return false
	}
	got := key.Hash()
	match := 0
	for _, h := range k.hashes {
		match |= subtle.ConstantTimeCompare(got, h)
	}
	return match == 1
}
