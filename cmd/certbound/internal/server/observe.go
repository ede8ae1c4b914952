package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/certbound/certbound/cmd/certbound/internal/audit"
	"github.com/certbound/certbound/cmd/certbound/internal/metrics"
	"github.com/certbound/certbound/storage"
)

// observer fans each request's outcome out to the metrics and the audit trail.
type observer struct {
	metrics *metrics.Metrics // nil when --metrics-listen is unset
	audit   *audit.Writer
}

func (o observer) ObserveRequest(method, route string, status int, d time.Duration) {
	if o.metrics != nil {
		o.metrics.ObserveRequest(method, route, status, d)
	}
}

func (o observer) ObserveEvent(e storage.AuditEvent) {
	if o.metrics != nil {
		o.metrics.ObserveEvent(e)
	}
	o.audit.Record(e)
}

// serveMetrics serves /metrics over plain HTTP on addr until ctx ends; its
// goroutines are counted in wg. Metrics carry no secret, but they do name
// clients: bind it to a private address.
func (s *Server) serveMetrics(ctx context.Context, wg *sync.WaitGroup, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	s.log.Info("serving metrics", slog.String("listen", ln.Addr().String()))
	s.metricsAddr.Store(ptr(ln.Addr().String()))
	wg.Go(func() { _ = srv.Serve(ln) })
	wg.Go(func() {
		<-ctx.Done()
		srv.Close()
	})
	return nil
}

func ptr[T any](v T) *T { return &v }

// pruneLoop prunes (prune) once at start and then every hour, until ctx ends.
func (s *Server) pruneLoop(ctx context.Context) {
	for {
		s.prune(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Hour):
		}
	}
}

// prune deletes what has outlived its retention: audit events and expired
// enrollment tokens after --audit-retention (a token is dead once expired;
// its row, which names the certificate it was redeemed for, is history kept
// as long as the audit trail), and the records of expired certificates
// after --cert-retention.
func (s *Server) prune(ctx context.Context) {
	now := s.cfg.Now()
	for _, p := range []struct {
		what      string
		retention time.Duration
		delete    func(context.Context, time.Time) (int64, error)
	}{
		{"audit events", s.cfg.AuditRetention, s.db.PruneAuditEvents},
		{"expired enrollment tokens", s.cfg.AuditRetention, s.db.DeleteExpiredEnrollTokens},
		{"expired certificate records", s.cfg.CertRetention, s.db.PruneExpiredCertificates},
	} {
		if p.retention <= 0 {
			continue
		}
		if n, err := p.delete(ctx, now.Add(-p.retention)); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("pruning "+p.what+" failed", slog.Any("err", err))
			}
		} else if n > 0 {
			s.log.Info("pruned "+p.what, slog.Int64("rows", n))
		}
	}
}
