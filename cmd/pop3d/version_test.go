package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/testprog"
)

func TestFormatVersion(t *testing.T) {
	platform := []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"}}
	vcs := func(modified string) []debug.BuildSetting {
		return append([]debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"},
			{Key: "vcs.time", Value: "2026-12-06T14:00:00Z"},
			{Key: "vcs.modified", Value: modified},
		}, platform...)
	}
	lib := func(version string) []*debug.Module {
		return []*debug.Module{
			{Path: "github.com/jackc/pgx/v5", Version: "v5.12.0"},
			{Path: "github.com/gopop3/pop3", Version: version},
			{Path: "github.com/gopop3/pop3/postgres", Version: "v0.1.0"},
		}
	}
	tests := []struct {
		name string
		info debug.BuildInfo
		want string
	}{{
		name: "go install of a release",
		info: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/gopop3/pop3/cmd", Version: "v0.1.0"},
			Deps: lib("v0.1.0"), Settings: platform},
		want: "pop3d v0.1.0 built with go1.26.8 linux/amd64",
	}, {
		name: "a patch release of the commands alone",
		info: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/gopop3/pop3/cmd", Version: "v0.1.1"},
			Deps: lib("v0.1.0"), Settings: platform},
		want: "pop3d v0.1.1 with library github.com/gopop3/pop3 v0.1.0, built with go1.26.8 linux/amd64",
	}, {
		name: "a clone with changes, through the go.work",
		info: debug.BuildInfo{GoVersion: "go1.26.8",
			Main:     debug.Module{Path: "github.com/gopop3/pop3/cmd", Version: "v0.1.1-0.20261206140000-1a2b3c4d5e6f+dirty"},
			Deps:     lib("(devel)"),
			Settings: vcs("true")},
		want: "pop3d v0.1.1-0.20261206140000-1a2b3c4d5e6f+dirty (rev 1a2b3c4d5e6f, 2026-12-06T14:00:00Z, modified) built with go1.26.8 linux/amd64",
	}, {
		name: "a clean clone",
		info: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/gopop3/pop3/cmd", Version: "v0.1.0"},
			Deps: lib("(devel)"), Settings: vcs("false")},
		want: "pop3d v0.1.0 (rev 1a2b3c4d5e6f, 2026-12-06T14:00:00Z) built with go1.26.8 linux/amd64",
	}, {
		name: "no VCS stamping (-buildvcs=false)",
		info: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/gopop3/pop3/cmd", Version: "(devel)"},
			Deps: lib("(devel)"), Settings: platform},
		want: "pop3d (devel) built with go1.26.8 linux/amd64",
	}, {
		name: "a replaced library",
		info: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/gopop3/pop3/cmd", Version: "v0.1.0"},
			Deps: []*debug.Module{{Path: "github.com/gopop3/pop3", Version: "v0.1.0",
				Replace: &debug.Module{Path: "../pop3", Version: ""}}},
			Settings: platform},
		want: "pop3d v0.1.0 with library github.com/gopop3/pop3 v0.1.0 => ../pop3, built with go1.26.8 linux/amd64",
	}, {
		name: "a library replaced by a fork's version",
		info: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/gopop3/pop3/cmd", Version: "v0.1.0"},
			Deps: []*debug.Module{{Path: "github.com/gopop3/pop3", Version: "v0.1.0",
				Replace: &debug.Module{Path: "example.com/fork/pop3", Version: "v0.1.0-fix"}}},
			Settings: platform},
		want: "pop3d v0.1.0 with library github.com/gopop3/pop3 v0.1.0 => example.com/fork/pop3 v0.1.0-fix, built with go1.26.8 linux/amd64",
	}, {
		name: "a short revision and no time",
		info: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/gopop3/pop3/cmd", Version: "(devel)"},
			Settings: append([]debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}}, platform...)},
		want: "pop3d (devel) (rev abc123) built with go1.26.8 linux/amd64",
	}, {
		name: "empty",
		info: debug.BuildInfo{},
		want: "pop3d (unknown) built with (unknown) " + runtime.GOOS + "/" + runtime.GOARCH,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, formatVersion(&tc.info))
		})
	}
}

// A pop3d built in a clone (go build, as the README says) prints the
// commit that the clone has checked out.
func TestVersionOfCloneBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds pop3d")
	}
	git := testprog.Require(t, "git", "git")
	out, err := exec.Command(git, "rev-parse", "HEAD").Output()
	if err != nil {
		// A tree without .git (a source archive) has no commit to print.
		msg := "git rev-parse HEAD: " + err.Error() + ": not a git clone"
		if ee, ok := err.(*exec.ExitError); ok {
			msg += ": " + strings.TrimSpace(string(ee.Stderr))
		}
		if os.Getenv("CI") == "true" {
			t.Fatal(msg) // CI tests a clone
		}
		t.Skip(msg)
	}
	head := strings.TrimSpace(string(out))
	require.Len(t, head, 40, "git rev-parse HEAD printed %q", out)

	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the go command builds the pop3d binary")
	bin := filepath.Join(t.TempDir(), "pop3d")
	// -buildvcs=true, since GOFLAGS may turn stamping off, and then the
	// build fails instead of printing no commit.
	build := exec.Command(goTool, "build", "-buildvcs=true", "-o", bin, ".")
	out, err = build.CombinedOutput()
	require.NoError(t, err, "go build -buildvcs=true -o %s .:\n%s", bin, out)

	out, err = exec.Command(bin, "-version").CombinedOutput()
	require.NoError(t, err, "pop3d -version: %s", out)
	version := strings.TrimSpace(string(out))
	t.Log(version)
	assert.Regexp(t, `^pop3d v\S+ \(rev [0-9a-f]{12}, \S+Z(, modified)?\) built with go1\.\d+\S* \S+/\S+$`, version)
	assert.Contains(t, version, "(rev "+head[:12]+",", "the revision is git rev-parse HEAD's")
}
