package ca

import (
	"crypto/x509"
	"fmt"
	"testing"
	"time"
)

func TestVerifyCacheBound(t *testing.T) {
	var c verifyCache
	for i := range maxVerified + 100 {
		c.put(fmt.Sprint(i), &verified{})
	}
	if n := len(c.m); n != maxVerified {
		t.Fatalf("%d entries, want %d", n, maxVerified)
	}
	c.put("last", &verified{})
	if c.get("last") == nil {
		t.Fatal("the newest entry was evicted")
	}
	c.drop("last")
	if c.get("last") != nil {
		t.Fatal("drop kept the entry")
	}
}

func TestChainWindow(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	leaf := &x509.Certificate{NotBefore: t0, NotAfter: t0.Add(24 * time.Hour)}
	inter := &x509.Certificate{NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour)}
	root := &x509.Certificate{NotBefore: t0.Add(-2 * time.Hour), NotAfter: t0.Add(48 * time.Hour)}
	nb, na := chainWindow([]*x509.Certificate{leaf, inter, root})
	if !nb.Equal(t0) || !na.Equal(t0.Add(time.Hour)) {
		t.Fatalf("window [%v, %v], want [%v, %v]", nb, na, t0, t0.Add(time.Hour))
	}
	v := &verified{notBefore: nb, notAfter: na}
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{t0.Add(-time.Nanosecond), false}, {t0, true}, {na, true}, {na.Add(time.Nanosecond), false},
	} {
		if got := v.validAt(tc.at); got != tc.want {
			t.Errorf("validAt(%v) = %v, want %v", tc.at, got, tc.want)
		}
	}
}
