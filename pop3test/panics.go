package pop3test

import (
	"fmt"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"github.com/gopop3/pop3"
)

// A panic of a backend is reported as the method that panicked, its value
// and the stack between the panic and the code that made the call: the
// contract kit's checks for a call the kit made itself, the server for a
// call made in a session. This file finds that method in a stack.

// frame is one call in a goroutine's stack.
type frame struct {
	// Function is the function's name qualified by its package path, as
	// in runtime.Frame: "example.com/store.(*mailbox).Message".
	Function string
	File     string
	Line     int
}

// maxReportedFrames bounds the stack a report prints.
const maxReportedFrames = 40

var (
	// kitPackage and serverPackage are the import paths of this package
	// and of package pop3.
	kitPackage    = reflect.TypeFor[kit]().PkgPath()
	serverPackage = reflect.TypeFor[pop3.Server]().PkgPath()
)

// recoveredFrames returns the stack of a panic that a deferred function
// has just recovered, from the call that panicked outward. It must be
// called by that deferred function: during the call, the panicking frames
// are still on the goroutine's stack, below runtime.gopanic.
func recoveredFrames() []frame {
	pcs := make([]uintptr, 512)
	pcs = pcs[:runtime.Callers(2, pcs)]
	var all []frame
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		all = append(all, frame{Function: f.Function, File: f.File, Line: f.Line})
		if !more {
			break
		}
	}
	for i, f := range all {
		if f.Function == "runtime.gopanic" {
			return dropRuntime(all[i+1:])
		}
	}
	return all
}

// parseStack returns the frames of the stack that a server logged with a
// panic it recovered, from the call that panicked outward: frames written
// "import/path.Func (file:line)", joined by " < ", innermost first, as
// "github.com/gopop3/pop3.(*session).cmdRetr (retr.go:24) < ...".
func parseStack(stack string) []frame {
	var frames []frame
	for _, s := range strings.Split(stack, " < ") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		f := frame{Function: s}
		if open := strings.LastIndex(s, " ("); open > 0 && strings.HasSuffix(s, ")") {
			f.Function = s[:open]
			f.File, f.Line = splitLocation(s[open+2 : len(s)-1])
		}
		frames = append(frames, f)
	}
	return dropRuntime(frames)
}

// splitLocation splits "file:line".
func splitLocation(loc string) (file string, line int) {
	colon := strings.LastIndexByte(loc, ':')
	if colon < 0 {
		return loc, 0
	}
	line, _ = strconv.Atoi(loc[colon+1:])
	return loc[:colon], line
}

// dropRuntime drops the runtime's own frames from the top of a panic's
// stack (a nil map's runtime.mapassign, runtime.sigpanic...), which say
// how the call panicked rather than which call.
func dropRuntime(frames []frame) []frame {
	for len(frames) > 0 && packagePath(frames[0].Function) == "runtime" {
		frames = frames[1:]
	}
	return frames
}

// panicked returns the name of the method that panicked, of the frames of
// a panic (innermost first): the call that the caller's code made, the
// first frame of which isCaller says it is the caller's. When the caller
// made the call through the standard library (io.ReadAll reading a
// backend's reader), the method is the outermost call beyond it (the
// reader's Read). It returns "" when the panic was in the caller's own
// code, or when no frame is the caller's.
func panicked(frames []frame, isCaller func(frame) bool) string {
	outer := -1
	for i, f := range frames {
		if isCaller(f) {
			outer = i
			break
		}
	}
	if outer <= 0 {
		return ""
	}
	called := frames[:outer]
	for i := len(called) - 1; i >= 0; i-- {
		if !isStandard(called[i].Function) {
			return methodName(called[i].Function)
		}
	}
	return methodName(called[len(called)-1].Function)
}

// inKit reports whether f is the contract kit's: a check or a helper of
// its files, contract*.go, rather than a backend's method or FaultBackend's.
func inKit(f frame) bool {
	file := f.File[strings.LastIndexByte(f.File, '/')+1:]
	return packagePath(f.Function) == kitPackage && strings.HasPrefix(file, "contract") && !strings.HasSuffix(file, "_test.go")
}

// inServer reports whether f is package pop3's, or one of its internal
// packages', which calls a backend in a session.
func inServer(f frame) bool {
	p := packagePath(f.Function)
	return p == serverPackage || strings.HasPrefix(p, serverPackage+"/internal/")
}

// closureSuffix matches what the compiler appends to the name of a
// function literal, a go or defer wrapper, or a method value.
var closureSuffix = regexp.MustCompile(`(\.(func|gowrap|deferwrap)\d+|\.\d+|-fm)$`)

// methodName returns the bare name of a function or method:
// "example.com/store.(*mailbox).Message" gives "Message", and a function
// literal inside it gives "Message" too.
func methodName(function string) string {
	name := function
	for {
		shorter := closureSuffix.ReplaceAllString(name, "")
		if shorter == name {
			break
		}
		name = shorter
	}
	name = name[len(packagePath(name)):]
	return name[strings.LastIndexByte(name, '.')+1:]
}

// packagePath returns the import path of a qualified function name:
// "example.com/store" of "example.com/store.(*mailbox).Message".
func packagePath(function string) string {
	head := function
	if end := strings.IndexAny(head, "( ["); end >= 0 {
		head = head[:end] // a receiver, a struct type or type arguments follow
	}
	slash := strings.LastIndexByte(head, '/')
	if dot := strings.IndexByte(head[slash+1:], '.'); dot >= 0 {
		return head[:slash+1+dot]
	}
	return head
}

// isStandard reports whether function is in the standard library, whose
// import paths, unlike a module's, have no dot in their first element.
func isStandard(function string) bool {
	p := packagePath(function)
	first, _, _ := strings.Cut(p, "/")
	return !strings.Contains(first, ".") && first != "main"
}

// panicReport is the failure message of a panic: "Message panicked:
// boom", a line that says more when note is not empty, then the stack from
// the panic outward, a line for each function and one for its place, up to
// the test's runner.
func panicReport(method string, value any, note string, frames []frame) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s panicked: %v\n", method, value)
	if note != "" {
		b.WriteString(note + "\n")
	}
	b.WriteString("stack of the panic, innermost call first:")
	n := 0
	for _, f := range frames {
		if p := packagePath(f.Function); p == "testing" || p == "runtime" {
			continue // the test runner, goexit
		}
		if n == maxReportedFrames {
			b.WriteString("\n\t...")
			break
		}
		n++
		fmt.Fprintf(&b, "\n\t%s\n\t\t%s:%d", f.Function, f.File, f.Line)
	}
	return b.String()
}
