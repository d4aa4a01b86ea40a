package main

import (
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
)

// newLogger returns the logger for -log-format and -log-level.
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// versionString is what -version prints: the module's version and the
// commit it was built from, as the build info records them, and the Go
// version.
func versionString() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "pop3d (no build information)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pop3d %s", info.Main.Version)
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		fmt.Fprintf(&b, " (%s", rev)
		if t := settings["vcs.time"]; t != "" {
			fmt.Fprintf(&b, ", %s", t)
		}
		if settings["vcs.modified"] == "true" {
			b.WriteString(", modified")
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, " built with %s", info.GoVersion)
	return b.String()
}
