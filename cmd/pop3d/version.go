package main

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// libraryPath is the module of the pop3 library, which -version names when
// pop3d was built with another version of it than its own.
const libraryPath = "github.com/gopop3/pop3"

// buildVersion is what -version prints, from the build information that
// the go command recorded in the binary.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "pop3d (no build information) built with " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	}
	return formatVersion(info)
}

// formatVersion returns the line that -version prints for info:
//
//	pop3d v0.1.0 built with go1.26.8 linux/amd64
//	pop3d v0.1.1 with library github.com/gopop3/pop3 v0.1.0, built with go1.26.8 linux/amd64
//	pop3d v0.0.0-20261206141525-b047282aaff7+dirty (rev b047282aaff7, 2026-12-06T14:15:25Z, modified) built with go1.26.8 linux/amd64
//
// The version is the module's: the tag of "go install ...@v0.1.0", or the
// pseudo-version or "(devel)" of a build in a clone, where the commit, its
// time and whether the work tree had changes follow it. The library's
// version is named when it differs from the commands' (a patch release of
// the commands alone, or a go.mod that asks for a newer library), with
// its replacement if there is one. A library from the same work tree as
// the commands (the go.work of a clone) is "(devel)" and is not named.
func formatVersion(info *debug.BuildInfo) string {
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}

	var b strings.Builder
	b.WriteString("pop3d ")
	b.WriteString(orUnknown(info.Main.Version))
	if rev := settings["vcs.revision"]; rev != "" {
		b.WriteString(" (rev ")
		b.WriteString(rev[:min(len(rev), 12)])
		if t := settings["vcs.time"]; t != "" {
			b.WriteString(", " + t)
		}
		if settings["vcs.modified"] == "true" {
			b.WriteString(", modified")
		}
		b.WriteString(")")
	}
	if lib := libraryVersion(info); lib != "" {
		b.WriteString(" with library " + libraryPath + " " + lib + ",")
	}

	goos, goarch := settings["GOOS"], settings["GOARCH"]
	if goos == "" || goarch == "" {
		goos, goarch = runtime.GOOS, runtime.GOARCH
	}
	b.WriteString(" built with " + orUnknown(info.GoVersion) + " " + goos + "/" + goarch)
	return b.String()
}

// libraryVersion returns the version of the library module that info
// records, when -version names it, else "".
func libraryVersion(info *debug.BuildInfo) string {
	for _, dep := range info.Deps {
		if dep.Path != libraryPath {
			continue
		}
		if r := dep.Replace; r != nil {
			// A go.mod's replace: say what was built, the version asked
			// for, and what replaced it (a directory has no version).
			repl := r.Path
			if r.Version != "" {
				repl += " " + r.Version
			}
			return orUnknown(dep.Version) + " => " + repl
		}
		if dep.Version == "" || dep.Version == "(devel)" || dep.Version == info.Main.Version {
			return ""
		}
		return dep.Version
	}
	return ""
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
