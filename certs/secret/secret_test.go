package secret_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/certbound/certbound/certs/secret"
)

func TestSecretNeverPrints(t *testing.T) {
	s := secret.New("cbe_")
	v := s.Reveal()
	if !strings.HasPrefix(v, "cbe_") || len(v) != 4+43 {
		t.Fatalf("unexpected shape %d", len(v))
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("x", "token", s, "struct", struct{ T secret.Secret }{s})
	js, _ := json.Marshal(map[string]any{"t": s})
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x", s, s, s, s, s, s),
		fmt.Sprintf("%+v", struct{ T secret.Secret }{s}), logBuf.String(), string(js)} {
		if strings.Contains(out, v) || strings.Contains(out, v[4:]) {
			t.Fatalf("secret leaked into %q", out)
		}
	}
}

func TestHashAndMatches(t *testing.T) {
	a, b := secret.New(""), secret.New("")
	if a.Reveal() == b.Reveal() {
		t.Fatal("two secrets are equal")
	}
	if !a.Matches(a.Hash()) || a.Matches(b.Hash()) || secret.FromString(a.Reveal()+"x").Matches(a.Hash()) {
		t.Fatal("Matches is wrong")
	}
	if !secret.FromString(a.Reveal()).Matches(a.Hash()) {
		t.Fatal("a secret received back does not match its hash")
	}
}
