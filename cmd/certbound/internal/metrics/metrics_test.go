package metrics_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/certbound/certbound/cmd/certbound/internal/metrics"
	"github.com/certbound/certbound/storage"
)

type fakeInventory struct{}

func (fakeInventory) CountCertificates(context.Context, time.Time, time.Duration) (storage.CertificateCounts, error) {
	return storage.CertificateCounts{Active: 7, ExpiringSoon: 2}, nil
}

func TestScrapeParses(t *testing.T) {
	root := &x509.Certificate{Subject: pkix.Name{CommonName: "certbound Root CA"}, NotAfter: time.Unix(2000000000, 0)}
	m := metrics.New(metrics.Config{Inventory: fakeInventory{}, CACertificates: []*x509.Certificate{root},
		SigningKeys: func() map[string]time.Time { return map[string]time.Time{"k1": {}} }})
	m.ObserveRequest("POST", "/oauth2/token", 200, 3*time.Millisecond)
	m.ObserveRequest("POST", "/oauth2/token", 200, 40*time.Millisecond)
	m.ObserveEvent(storage.AuditEvent{Type: "token.issued", ClientID: "svc"})

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	h := fams["certbound_http_request_duration_seconds"]
	if h == nil || h.Metric[0].GetHistogram().GetSampleCount() != 2 {
		t.Fatalf("latency histogram: %v", h)
	}
	if ev := fams["certbound_events_total"]; ev == nil || ev.Metric[0].GetCounter().GetValue() != 1 {
		t.Fatalf("events: %v", ev)
	}
	if g := fams["certbound_certificates_active"]; g == nil || g.Metric[0].GetGauge().GetValue() != 7 {
		t.Fatalf("active gauge: %v", g)
	}
	if g := fams["certbound_ca_certificate_expiry_timestamp_seconds"]; g == nil || g.Metric[0].GetGauge().GetValue() != 2e9 {
		t.Fatalf("ca expiry: %v", g)
	}
	if fams["go_goroutines"] == nil {
		t.Fatal("no Go runtime metrics")
	}
}
