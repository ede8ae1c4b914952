// Package metrics exposes certbound's Prometheus metrics: request latency
// per route, counters of security events by type, client and result, and
// gauges read at scrape time (CA and signing-key expiry, active
// certificates, certificates expiring within 24 h), plus Go runtime metrics.
//
// Client ids are labels on the event counters. They are not secrets, and
// their number is bounded by the registry; an unauthenticated caller can
// never create a label value (refusals before authentication are counted
// under client "").
package metrics

import (
	"context"
	"crypto/x509"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/certbound/certbound/storage"
)

// Inventory answers the scrape-time questions. storage.Store includes it.
type Inventory interface {
	CountCertificates(ctx context.Context, now time.Time, window time.Duration) (storage.CertificateCounts, error)
}

// Config lists what the gauges read.
type Config struct {
	Inventory Inventory
	// CA certificates whose NotAfter is exported (root, intermediate).
	CACertificates []*x509.Certificate
	// SigningKeys returns each published signing key's kid and the time
	// after which it may no longer be published (zero for the current key).
	SigningKeys func() map[string]time.Time
	// AuditDropped returns how many audit events were dropped (nil: none).
	AuditDropped func() int64
	Now          func() time.Time
}

// Metrics is the registry and its instruments. Safe for concurrent use.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.HistogramVec
	events   *prometheus.CounterVec
}

// New builds the registry.
func New(cfg Config) *Metrics {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "certbound_http_request_duration_seconds",
		Help:    "Latency of HTTP requests by method, route pattern and status code.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"method", "route", "code"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "certbound_events_total",
		Help: "Security events (certificate.issued, certificate.renewed, certificate.revoked, token.issued, token.refused, ...) by client and result reason.",
	}, []string{"type", "client_id", "reason"})
	m.reg.MustRegister(m.requests, m.events,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&gauges{cfg: cfg})
	return m
}

// ObserveRequest records one request's latency.
func (m *Metrics) ObserveRequest(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Observe(d.Seconds())
}

// ObserveEvent counts one security event. Refusals are counted without the
// client id: it is whatever the unauthenticated caller claimed, and label
// values must not be the caller's to invent.
func (m *Metrics) ObserveEvent(e storage.AuditEvent) {
	client := e.ClientID
	if strings.HasSuffix(e.Type, ".refused") || e.Type == "admin.auth_failed" {
		client = ""
	}
	m.events.WithLabelValues(e.Type, client, e.Reason).Inc()
}

// Handler serves the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// gauges are computed at scrape time.
type gauges struct{ cfg Config }

var (
	descCAExpiry = prometheus.NewDesc("certbound_ca_certificate_expiry_timestamp_seconds",
		"NotAfter of the CA certificates.", []string{"subject"}, nil)
	descKeyRetire = prometheus.NewDesc("certbound_signing_key_publish_until_timestamp_seconds",
		"When a retired token-signing key leaves the JWKS (0 for the current key).", []string{"kid"}, nil)
	descActive = prometheus.NewDesc("certbound_certificates_active",
		"Certificates in state active: unexpired, not revoked, not superseded by a renewal (each client's current one).", nil, nil)
	descExpiring = prometheus.NewDesc("certbound_certificates_expiring_24h",
		"Active certificates that expire within 24 hours.", nil, nil)
	descAuditDropped = prometheus.NewDesc("certbound_audit_events_dropped_total",
		"Audit events dropped because the database fell behind.", nil, nil)
)

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- descCAExpiry
	ch <- descKeyRetire
	ch <- descActive
	ch <- descExpiring
	ch <- descAuditDropped
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	for _, c := range g.cfg.CACertificates {
		ch <- prometheus.MustNewConstMetric(descCAExpiry, prometheus.GaugeValue, float64(c.NotAfter.Unix()), strings.TrimSpace(c.Subject.CommonName))
	}
	if g.cfg.SigningKeys != nil {
		for kid, until := range g.cfg.SigningKeys() {
			v := 0.0
			if !until.IsZero() {
				v = float64(until.Unix())
			}
			ch <- prometheus.MustNewConstMetric(descKeyRetire, prometheus.GaugeValue, v, kid)
		}
	}
	if g.cfg.AuditDropped != nil {
		ch <- prometheus.MustNewConstMetric(descAuditDropped, prometheus.CounterValue, float64(g.cfg.AuditDropped()))
	}
	if g.cfg.Inventory != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if c, err := g.cfg.Inventory.CountCertificates(ctx, g.cfg.Now(), 24*time.Hour); err == nil {
			ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(c.Active))
			ch <- prometheus.MustNewConstMetric(descExpiring, prometheus.GaugeValue, float64(c.ExpiringSoon))
		}
	}
}
