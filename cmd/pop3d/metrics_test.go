package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scrape fetches /metrics and parses it as Prometheus does.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return families
}

// value is the value of the sample of family name whose labels are
// labels (name=value pairs), or -1 when there is none.
func value(families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := families[name]
	if f == nil {
		return -1
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		match := len(got) == len(labels)/2
		for i := 0; match && i+1 < len(labels); i += 2 {
			match = got[labels[i]] == labels[i+1]
		}
		if !match {
			continue
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

// After a real session, /metrics tells what it did, by Prometheus's
// conventions, with the Go runtime's metrics beside pop3d's.
func TestMetrics(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-metrics", "127.0.0.1:0")
	require.NotEmpty(t, s.MetricsAddr)
	assert.Contains(t, s.stderr.String(), "serving metrics")

	c := dial(t, s.Addr)
	c.Send("USER demo")
	c.ReadReply()
	c.Send("PASS wrong")
	require.False(t, c.ReadReply().OK)
	c.Login("demo", "demo")
	wire, _ := retr(t, c, 1)
	c.OK("DELE 1")
	c.Send("XYZZY")
	require.False(t, c.ReadReply().OK)
	idle := dial(t, s.Addr) // a session still open at the scrape
	c.Quit()
	c.ExpectClosed()

	var m map[string]*dto.MetricFamily
	require.Eventually(t, func() bool {
		m = scrape(t, s.MetricsAddr)
		return value(m, "pop3_messages_deleted_total") == 1
	}, 5*time.Second, 20*time.Millisecond, "the QUIT's deletion is counted once the session has ended")

	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"pop3_connections_accepted_total", nil, 2},
		{"pop3_sessions_active", nil, 1},
		{"pop3_sessions_ended_total", []string{"reason", "quit"}, 1},
		{"pop3_logins_total", []string{"method", "USER", "result", "ok"}, 1},
		{"pop3_logins_total", []string{"method", "USER", "result", "failed"}, 1},
		{"pop3_commands_total", []string{"command", "RETR", "result", "ok"}, 1},
		{"pop3_commands_total", []string{"command", "PASS", "result", "err"}, 1},
		{"pop3_commands_total", []string{"command", "unknown", "result", "err"}, 1},
		{"pop3_command_duration_seconds", []string{"command", "RETR"}, 1},
		{"pop3_messages_retrieved_total", nil, 1},
		{"pop3_messages_deleted_total", nil, 1},
		{"pop3_connections_refused_total", []string{"reason", "max_connections_per_ip"}, 0},
		{"pop3_auth_penalized_addresses", nil, 0},
	} {
		assert.Equal(t, tc.want, value(m, tc.name, tc.labels...), "%s%v", tc.name, tc.labels)
	}
	sent := value(m, "pop3_sent_bytes_total")
	assert.Greater(t, sent, float64(len(wire)), "the message and the replies, the open session's greeting included")
	assert.Positive(t, value(m, "go_goroutines"), "the Go runtime collector")
	assert.Positive(t, value(m, "process_open_fds"), "the process collector")
	for name, f := range m {
		if strings.HasPrefix(name, "pop3_") {
			assert.NotEmpty(t, f.GetHelp(), name)
		}
	}
	idle.Quit()

	resp, err := http.Get("http://" + s.MetricsAddr + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ok\n", string(body))

	require.NoError(t, s.stop(t))
	_, err = http.Get("http://" + s.MetricsAddr + "/healthz")
	assert.Error(t, err, "the metrics server stops with pop3d")
}

// A busy -metrics port fails the start, as a busy -addr does.
func TestMetricsPortBusy(t *testing.T) {
	s := start(t, "-addr", "127.0.0.1:0", "-metrics", "127.0.0.1:0")
	err := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-metrics", s.MetricsAddr}, io.Discard, io.Discard, nil)
	assert.ErrorContains(t, err, "address already in use")
}
