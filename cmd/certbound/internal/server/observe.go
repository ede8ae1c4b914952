package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
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

// serveMetrics serves /metrics over plain HTTP on addr until ctx ends.
// Metrics carry no secret, but they do name clients: bind it to a private
// address.
func (s *Server) serveMetrics(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	s.log.Info("serving metrics", slog.String("listen", ln.Addr().String()))
	s.metricsAddr.Store(ptr(ln.Addr().String()))
	go srv.Serve(ln)
	return nil
}

func ptr[T any](v T) *T { return &v }

// pruneLoop deletes audit events and expired certificate records past their
// retention, once at start and then every hour.
func (s *Server) pruneLoop(ctx context.Context) {
	for {
		now := s.cfg.Now()
		if s.cfg.AuditRetention > 0 {
			if n, err := s.db.PruneAuditEvents(ctx, now.Add(-s.cfg.AuditRetention)); err != nil {
				s.log.Warn("pruning audit events failed", slog.Any("err", err))
			} else if n > 0 {
				s.log.Info("pruned audit events", slog.Int64("rows", n))
			}
		}
		if s.cfg.CertRetention > 0 {
			if n, err := s.db.PruneExpiredCertificates(ctx, now.Add(-s.cfg.CertRetention)); err != nil {
				s.log.Warn("pruning expired certificate records failed", slog.Any("err", err))
			} else if n > 0 {
				s.log.Info("pruned expired certificate records", slog.Int64("rows", n))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Hour):
		}
	}
}
