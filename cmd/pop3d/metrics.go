package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gopop3/pop3"
	"github.com/gopop3/pop3/passwd"
)

// metrics are pop3d's Prometheus metrics, fed by the server's hooks.
type metrics struct {
	accepted  prometheus.Counter
	refused   *prometheus.CounterVec
	active    prometheus.Gauge
	ended     *prometheus.CounterVec
	logins    *prometheus.CounterVec
	commands  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	sent      prometheus.Counter
	retrieved prometheus.Counter
	deleted   prometheus.Counter
}

// registerCacheMetrics registers the verification cache's counters, read
// from it at each scrape.
func registerCacheMetrics(reg prometheus.Registerer, cache *passwd.Cache) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pop3_auth_cache_hits_total",
			Help: "Password checks answered by the verification cache, without running the password hash."},
			func() float64 { return float64(cache.Stats().Hits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pop3_auth_cache_misses_total",
			Help: "Password checks that ran the password hash: a first login, an expired entry, a changed hash or a wrong password."},
			func() float64 { return float64(cache.Stats().Misses) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pop3_auth_cache_shared_total",
			Help: "Password checks that took the success of a concurrent check of the same password, without running the hash."},
			func() float64 { return float64(cache.Stats().Shared) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pop3_auth_cache_offline_logins_total",
			Help: "Logins let in by the verification cache while the user database could not be reached."},
			func() float64 { return float64(cache.Stats().Offline) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pop3_auth_cache_entries",
			Help: "Users whose last good password the verification cache remembers."},
			func() float64 { return float64(cache.Stats().Entries) }),
	)
}

// newMetrics registers pop3d's metrics, the Go runtime's and the
// process's with reg, and sets srv's hooks to feed them.
func newMetrics(reg prometheus.Registerer, srv *pop3.Server) *metrics {
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{Name: "pop3_connections_accepted_total",
			Help: "Connections accepted as sessions."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pop3_connections_refused_total",
			Help: "Connections refused without a session, by reason."}, []string{"reason"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pop3_sessions_active",
			Help: "Sessions in progress."}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pop3_sessions_ended_total",
			Help: "Sessions ended, by reason."}, []string{"reason"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pop3_logins_total",
			Help: "Login attempts, by method (USER, APOP, AUTH PLAIN, ...) and result (ok, failed, in_use, login_delay, error)."},
			[]string{"method", "result"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pop3_commands_total",
			Help: "Commands answered, by command and result (ok, err, or none when the connection failed first)."},
			[]string{"command", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pop3_command_duration_seconds",
			Help:    "Time from a command line read to its reply, by command; RETR and TOP include sending the message.",
			Buckets: []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5, 30}}, []string{"command"}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "pop3_sent_bytes_total",
			Help: "Octets written to clients."}),
		retrieved: prometheus.NewCounter(prometheus.CounterOpts{Name: "pop3_messages_retrieved_total",
			Help: "Messages sent by RETR."}),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{Name: "pop3_messages_deleted_total",
			Help: "Messages removed at UPDATE, after QUIT."}),
	}
	for _, c := range []prometheus.Collector{m.accepted, m.refused, m.active, m.ended, m.logins, m.commands,
		m.duration, m.sent, m.retrieved, m.deleted} {
		f(c)
	}
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pop3_auth_penalized_addresses",
		Help: "Client addresses whose next login waits for the auth penalty of their failed ones."},
		func() float64 { return float64(srv.PenalizedAddresses()) }))
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []pop3.RefuseReason{pop3.RefusedMaxConnections, pop3.RefusedMaxConnectionsPerIP, pop3.RefusedShuttingDown} {
		m.refused.WithLabelValues(string(r))
	}

	srv.Hooks = &pop3.Hooks{
		ConnAccepted: func(*pop3.ConnInfo) { m.accepted.Inc(); m.active.Inc() },
		ConnRefused:  func(ev pop3.ConnRefusedEvent) { m.refused.WithLabelValues(string(ev.Reason)).Inc() },
		Login: func(ev pop3.LoginEvent) {
			m.logins.WithLabelValues(ev.Method, string(ev.Result)).Inc()
		},
		Command: func(ev pop3.CommandEvent) {
			name := ev.Name
			if name == "" {
				name = "unknown"
			}
			result := "none"
			switch ev.Status {
			case "+OK":
				result = "ok"
				if name == "RETR" {
					m.retrieved.Inc()
				}
			case "-ERR":
				result = "err"
			}
			m.commands.WithLabelValues(name, result).Inc()
			m.duration.WithLabelValues(name).Observe(ev.Duration.Seconds())
			m.sent.Add(float64(ev.BytesSent))
		},
		SessionEnded: func(ev pop3.SessionEndEvent) {
			m.active.Dec()
			m.ended.WithLabelValues(string(ev.Reason)).Inc()
			m.sent.Add(float64(ev.BytesSent))
			m.deleted.Add(float64(ev.Deleted))
		},
	}
	return m
}

// metricsServer serves /metrics and /healthz.
type metricsServer struct {
	addr     string
	http     *http.Server
	stopping atomic.Bool // /healthz fails once shutdown has begun
}

// startMetrics listens on addr and serves the metrics of srv there.
func startMetrics(addr string, srv *pop3.Server, cache *passwd.Cache, logger *slog.Logger) (*metricsServer, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	newMetrics(reg, srv)
	if cache != nil {
		registerCacheMetrics(reg, cache)
	}
	ms := &metricsServer{addr: l.Addr().String()}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError)}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if ms.stopping.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	ms.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	go func() {
		if err := ms.http.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("pop3d: metrics server failed", "err", err)
		}
	}()
	logger.Info("pop3d: serving metrics", "addr", ms.addr)
	return ms, nil
}

func (ms *metricsServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = ms.http.Shutdown(ctx)
}
