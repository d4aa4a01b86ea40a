package main

// Tests of the deployment files in contrib/: the systemd units are checked by
// systemd's own parser, the HAProxy example by HAProxy's, and both for the
// settings pop3d relies on, which a parser cannot know about.

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/testprog"
)

const contribDir = "../../contrib"

// contribUnits are the systemd units in contrib/.
var contribUnits = []string{"pop3d.service", "pop3d.socket", "pop3d-tls.socket"}

// contribDropIn is the drop-in of contrib/ for a classic Unix mail host.
const contribDropIn = "pop3d.service.d/classic-host.conf"

// contribExecStart is the binary ExecStart= names in pop3d.service.
const contribExecStart = "ExecStart=/usr/local/bin/pop3d "

// unitFile is a systemd unit file as systemd reads it: every value assigned
// to each key of each section, in order, with continued lines joined.
type unitFile map[string]map[string][]string

// last is the value that wins for a single-valued key, and whether the key
// is set at all (an empty assignment is set, to "").
func (u unitFile) last(section, key string) (string, bool) {
	values := u[section][key]
	if len(values) == 0 {
		return "", false
	}
	return values[len(values)-1], true
}

// readUnit parses contrib/name.
func readUnit(t *testing.T, name string) unitFile {
	t.Helper()
	f, err := os.Open(filepath.Join(contribDir, name))
	require.NoError(t, err)
	defer f.Close()
	u := unitFile{}
	section, pending := "", ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if pending == "" && (line == "" || line[0] == '#' || line[0] == ';') {
			continue
		}
		// systemd joins a line ending in a backslash to the next one.
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending += cont + " "
			continue
		}
		line, pending = pending+line, ""
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s: not a setting: %q", name, line)
		require.NotEmpty(t, section, "%s: %q before any section", name, line)
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		u[section][key] = append(u[section][key], value)
	}
	require.NoError(t, sc.Err())
	require.Empty(t, pending, "%s ends in a continued line", name)
	return u
}

// TestContribUnitSettings checks the settings pop3d and its hardening rely
// on, which systemd-analyze accepts whatever their values.
func TestContribUnitSettings(t *testing.T) {
	tests := []struct {
		file, section, key string
		want               string
	}{
		// pop3d tells systemd when it serves, reloads and stops.
		{"pop3d.service", "Service", "Type", "notify"},
		{"pop3d.service", "Service", "NotifyAccess", "main"},
		{"pop3d.service", "Service", "ExecReload", "/bin/kill -HUP $MAINPID"},
		{"pop3d.service", "Service", "Sockets", "pop3d.socket pop3d-tls.socket"},
		// No privilege survives: systemd opens the ports.
		{"pop3d.service", "Service", "CapabilityBoundingSet", ""},
		{"pop3d.service", "Service", "AmbientCapabilities", ""},
		{"pop3d.service", "Service", "NoNewPrivileges", "yes"},
		{"pop3d.service", "Service", "ProtectSystem", "strict"},
		{"pop3d.service", "Service", "ProtectHome", "yes"},
		{"pop3d.service", "Service", "ProtectProc", "invisible"},
		{"pop3d.service", "Service", "MemoryDenyWriteExecute", "yes"},
		{"pop3d.service", "Service", "RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
		{"pop3d.service", "Service", "UMask", "0077"},
		// pop3d finds its listeners by these names.
		{"pop3d.socket", "Socket", "FileDescriptorName", socketPOP3},
		{"pop3d.socket", "Socket", "ListenStream", "110"},
		{"pop3d.socket", "Socket", "Service", "pop3d.service"},
		{"pop3d-tls.socket", "Socket", "FileDescriptorName", socketPOP3S},
		{"pop3d-tls.socket", "Socket", "ListenStream", "995"},
		{"pop3d-tls.socket", "Socket", "Service", "pop3d.service"},
	}
	units := map[string]unitFile{}
	for _, name := range contribUnits {
		units[name] = readUnit(t, name)
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.key, func(t *testing.T) {
			got, ok := units[tt.file].last(tt.section, tt.key)
			require.True(t, ok, "[%s] %s= is not set", tt.section, tt.key)
			assert.Equal(t, tt.want, got)
		})
	}

	svc := units["pop3d.service"]
	t.Run("unprivileged user", func(t *testing.T) {
		for _, key := range []string{"User", "Group"} {
			got, _ := svc.last("Service", key)
			assert.NotContains(t, []string{"", "root", "0"}, got, "%s=", key)
		}
	})
	t.Run("TLS key read in place", func(t *testing.T) {
		// A credential is a copy taken at start: SIGHUP would never see a
		// renewed key.
		assert.NotContains(t, svc["Service"], "LoadCredential")
	})
	t.Run("watchdog", func(t *testing.T) {
		got, _ := svc.last("Service", "WatchdogSec")
		d, err := time.ParseDuration(got)
		require.NoError(t, err, "WatchdogSec=%s", got)
		assert.Positive(t, d)
	})

	execStart, ok := svc.last("Service", "ExecStart")
	require.True(t, ok, "no ExecStart=")
	t.Run("no systemd specifiers in ExecStart", func(t *testing.T) {
		// systemd expands %d and %n itself (to the credentials directory
		// and the unit's name) without a word of warning, even from
		// systemd-analyze verify, so the Dovecot variables of -maildir must
		// be escaped as %%d, %%n.
		assert.NotContains(t, strings.ReplaceAll(execStart, "%%", ""), "%", "ExecStart=%s", execStart)
	})
	t.Run("ExecStart command line", func(t *testing.T) {
		// What pop3d receives once systemd has unescaped the %%.
		args := strings.Fields(strings.ReplaceAll(execStart, "%%", "%"))
		require.Equal(t, "/usr/local/bin/pop3d", args[0])
		var stderr strings.Builder
		o, err := parseFlags(args[1:], &stderr)
		require.NoError(t, err, "pop3d rejects ExecStart:\n%s", stderr.String())
		assert.Equal(t, "/var/mail/vhosts/%d/%n/Maildir", o.maildir)
		assert.Equal(t, "json", o.logFormat)

		got, _ := svc.last("Service", "TimeoutStopSec")
		d, err := time.ParseDuration(got)
		require.NoError(t, err, "TimeoutStopSec=%s", got)
		assert.Greater(t, d, o.shutdownGrace, "systemd would SIGKILL pop3d within its -shutdown-grace")
	})
}

// verifyUnits runs systemd-analyze verify on the units in dir, and returns
// its error and the lines of its output about them.
func verifyUnits(t *testing.T, systemdAnalyze, dir string) ([]string, error) {
	t.Helper()
	args := []string{"verify",
		"--man=no",              // Documentation= is not ours to check
		"--recursive-errors=no"} // nor are units like sockets.target
	for _, name := range contribUnits {
		args = append(args, filepath.Join(dir, name))
	}
	cmd := exec.Command(systemdAnalyze, args...)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_COLOR=0")
	out, err := cmd.CombinedOutput()
	var ours []string
	for line := range strings.Lines(string(out)) {
		if strings.Contains(line, dir) || strings.Contains(line, "pop3d") {
			ours = append(ours, strings.TrimSpace(line))
		}
	}
	return ours, err
}

// The drop-in for a classic host turns pop3d.service into a server of the
// mbox spools in /var/mail for the system's accounts, with the groups that
// Debian's permissions ask for and no more.
func TestContribClassicHostDropIn(t *testing.T) {
	u := readUnit(t, contribDropIn)
	execStarts := u["Service"]["ExecStart"]
	require.Len(t, execStarts, 2)
	assert.Empty(t, execStarts[0], "ExecStart= first, to replace pop3d.service's")
	assert.NotContains(t, strings.ReplaceAll(execStarts[1], "%%", ""), "%", "systemd would expand %%u")
	args := strings.Fields(strings.ReplaceAll(execStarts[1], "%%", "%"))
	require.Equal(t, "/usr/local/bin/pop3d", args[0])
	var stderr strings.Builder
	o, err := parseFlags(args[1:], &stderr)
	require.NoError(t, err, "pop3d rejects ExecStart:\n%s", stderr.String())
	assert.Equal(t, "/var/mail/%u", o.mbox)
	assert.True(t, o.systemUsers)

	groups, _ := u.last("Service", "SupplementaryGroups")
	assert.ElementsMatch(t, []string{"mail", "shadow"}, strings.Fields(groups))
	for _, key := range []string{"User", "Group"} {
		got, _ := u.last("Service", key)
		assert.NotContains(t, []string{"", "root", "0"}, got, "%s=", key)
	}
	paths := u["Service"]["ReadWritePaths"]
	assert.Equal(t, []string{"", "/var/mail"}, paths, "only the spools are written")
	umask, _ := u.last("Service", "UMask")
	assert.Equal(t, "0007", umask, "group mail keeps access to what pop3d creates")
}

// TestContribUnitsVerify has systemd itself parse the units, as systemctl
// daemon-reload would: unknown keys, bad values, missing sockets. It needs
// no running systemd.
func TestContribUnitsVerify(t *testing.T) {
	systemdAnalyze := testprog.Require(t, "systemd-analyze", "systemd")
	// verify wants ExecStart's program to exist: any executable will do,
	// so this test's own.
	exe, err := os.Executable()
	require.NoError(t, err)

	dir := t.TempDir()
	for _, name := range contribUnits {
		b, err := os.ReadFile(filepath.Join(contribDir, name))
		require.NoError(t, err)
		s := string(b)
		if name == "pop3d.service" {
			require.Contains(t, s, "\n"+contribExecStart)
			s = strings.Replace(s, contribExecStart, "ExecStart="+strings.ReplaceAll(exe, "%", "%%")+" ", 1)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644))
	}
	// systemd-analyze reads the drop-in from beside the unit, as systemd
	// reads it from /etc/systemd/system.
	b, err := os.ReadFile(filepath.Join(contribDir, contribDropIn))
	require.NoError(t, err)
	require.Contains(t, string(b), "\n"+contribExecStart)
	dropIn := strings.Replace(string(b), contribExecStart, "ExecStart="+strings.ReplaceAll(exe, "%", "%%")+" ", 1)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(contribDropIn)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, contribDropIn), []byte(dropIn), 0o644))

	t.Run("verify", func(t *testing.T) {
		ours, err := verifyUnits(t, systemdAnalyze, dir)
		assert.NoError(t, err, "systemd-analyze verify:\n%s", strings.Join(ours, "\n"))
		assert.Empty(t, ours, "systemd-analyze verify complains about our units")
	})

	t.Run("security", func(t *testing.T) {
		// The exposure score (0-10, 10 = unprotected, shown as 1.4 with
		// systemd 252) must stay low; --threshold counts in tenths.
		cmd := exec.Command(systemdAnalyze, "security", "--offline=yes", "--threshold=20",
			filepath.Join(dir, "pop3d.service"))
		out, err := cmd.CombinedOutput()
		assert.NoError(t, err, "systemd-analyze security:\n%s", out)
	})

	// The check above would see a mistake: systemd-analyze reports an
	// unknown key, here, without a running systemd.
	t.Run("verify sees mistakes", func(t *testing.T) {
		path := filepath.Join(dir, "pop3d.service")
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		broken := strings.Replace(string(b), "[Service]\n", "[Service]\nNoSuchSetting=yes\n", 1)
		require.NoError(t, os.WriteFile(path, []byte(broken), 0o644))
		ours, _ := verifyUnits(t, systemdAnalyze, dir)
		assert.Contains(t, strings.Join(ours, "\n"), "NoSuchSetting")
	})
}

// TestContribHAProxy has HAProxy check its example configuration.
func TestContribHAProxy(t *testing.T) {
	haproxy := testprog.Require(t, "haproxy", "haproxy")
	path := filepath.Join(contribDir, "haproxy.cfg")
	out, err := exec.Command(haproxy, "-c", "-f", path).CombinedOutput()
	require.NoError(t, err, "haproxy -c:\n%s", out)
	assert.NotContains(t, string(out), "[WARNING]")
	assert.NotContains(t, string(out), "[ALERT]")

	// Without the header, pop3d would see HAProxy as every client; and the
	// example must show the pop3d flag that trusts it.
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(b), "send-proxy-v2")
	assert.Contains(t, string(b), "-proxy-protocol 10.0.0.0/24")
}
