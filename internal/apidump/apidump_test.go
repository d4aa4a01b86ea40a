package apidump_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/apidump"
)

const importPath = "example.com/x"

// writePackage writes files (name to source) into a new directory and
// returns it.
func writePackage(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644))
	}
	return dir
}

// features prefixes every line with "pkg example.com/x, ".
func features(lines ...string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = "pkg " + importPath + ", " + l
	}
	return out
}

func TestDump(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "funcs",
			src: `package x

import (
	"context"
	"io"
)

func NewServer(b Backend) *Server { return nil }
func Copy(dst io.Writer, src io.Reader) (written int64, err error) { return 0, nil }
func Join(sep string, elems ...string) string { return "" }
func Pair(a, b int) {}
func Long(
	ctx context.Context,
	n int,
) (
	io.ReadCloser,
	error,
) {
	return nil, nil
}
func Callback(f func(ctx context.Context, name string) (ok bool)) {}
func hidden() {}

type Backend int
type Server int
`,
			want: features(
				"func Callback(func(context.Context, string) bool)",
				"func Copy(io.Writer, io.Reader) (int64, error)",
				"func Join(string, ...string) string",
				"func Long(context.Context, int) (io.ReadCloser, error)",
				"func NewServer(Backend) *Server",
				"func Pair(int, int)",
				"type Backend int",
				"type Server int",
			),
		},
		{
			name: "methods on pointer and value receivers",
			src: `package x

import "net"

type Server struct{}

func (s *Server) Close() error              { return nil }
func (s *Server) Serve(l net.Listener) error { return nil }
func (Server) String() string               { return "" }
func (s *Server) close()                    {}

type conn struct{}

func (c *conn) Close() error { return nil }
`,
			want: features(
				"method (*Server) Close() error",
				"method (*Server) Serve(net.Listener) error",
				"method (Server) String() string",
				"type Server struct",
			),
		},
		{
			name: "generic types and funcs",
			src: `package x

type Set[K comparable, V any] struct {
	Items map[K]V
}

func (s *Set[K, V]) Add(k K, v V) {}
func (s Set[K, V]) Len() int      { return 0 }

type List[T any] []T

func Map[T, U any](xs []T, f func(T) U) []U { return nil }

type Number interface {
	~int | ~int64 | ~float64
}

func Sum[N Number](xs ...N) N { var n N; return n }

type Pairs = Set[string, int]
`,
			want: features(
				"func Map[T, U any]([]T, func(T) U) []U",
				"func Sum[N Number](...N) N",
				"method (*Set[K, V]) Add(K, V)",
				"method (Set[K, V]) Len() int",
				"type List[T any] []T",
				"type Number interface { ~int | ~int64 | ~float64 }",
				"type Number interface, embedded ~int | ~int64 | ~float64",
				"type Pairs = Set[string, int]",
				"type Set[K comparable, V any] struct",
				"type Set[K comparable, V any] struct, Items map[K]V",
			),
		},
		{
			name: "grouped consts with iota",
			src: `package x

import "time"

type Kind int

const (
	KindA Kind = iota + 1
	KindB
	kindC
	KindD
)

const (
	First = iota
	Second
)

const (
	Name           = "pop3"
	Typed     Kind = 7
	Negative       = -1
	Timeout        = 10 * time.Second
	Size           = 64 << 10
	Same           = "a"
	AlsoSame
	unexported = 1
)

const Float, Rune = 1.5, 'x'
`,
			want: features(
				"const AlsoSame = \"a\"",
				"const First = iota",
				"const Float = 1.5",
				"const KindA Kind",
				"const KindB Kind",
				"const KindD Kind",
				"const Name = \"pop3\"",
				"const Negative = -1",
				"const Rune = 'x'",
				"const Same = \"a\"",
				"const Second = iota",
				"const Size = 64 << 10",
				"const Timeout = 10 * time.Second",
				"const Typed Kind = 7",
				"type Kind int",
			),
		},
		{
			name: "vars",
			src: `package x

import (
	"errors"
	"fmt"
	"io"
)

type Error struct{ Code string }

var (
	ErrAuth    = &Error{Code: "AUTH"}
	ErrPlain   = errors.New("plain")
	ErrWrapped = fmt.Errorf("wrapped: %w", io.EOF)
	Zero       = Error{}
	Writer     io.Writer
	Hook       = func(code string) error { return nil }
	Other      = io.EOF
	A, b       = 1, 2
	Q, R       = pair()
	hidden     = 3
)

func pair() (int, int) { return 0, 0 }
`,
			want: features(
				"type Error struct",
				"type Error struct, Code string",
				"var A = 1",
				"var ErrAuth *Error",
				"var ErrPlain error",
				"var ErrWrapped error",
				"var Hook func(string) error",
				"var Other = io.EOF",
				"var Q = pair()",
				"var R = pair()",
				"var Writer io.Writer",
				"var Zero Error",
			),
		},
		{
			name: "struct fields, embedded fields",
			src: `package x

import (
	"io"
	"sync"
)

type Base struct{}
type base struct{}

func (base) Promoted() {}

type Server struct {
	*Base
	io.Writer
	base
	sync.Mutex
	Addr         string ` + "`json:\"addr\"`" + `
	Min, Max, n  int
	secret       string
	Options      struct {
		Verbose bool ` + "`json:\"verbose\"`" + `
		Level   int
	}
	Handler func(w io.Writer, args ...string) (n int, err error)
	Stop    <-chan struct{}
	Single  struct{ A int }
	Values  func(s struct{}, i interface{}) interface {
		M()
		N()
	}
}
`,
			want: features(
				"type Base struct",
				"type Server struct",
				"type Server struct, Addr string",
				"type Server struct, Handler func(io.Writer, ...string) (int, error)",
				"type Server struct, Max int",
				"type Server struct, Min int",
				"type Server struct, Options struct{ Verbose bool; Level int }",
				"type Server struct, Single struct{ A int }",
				"type Server struct, Stop <-chan struct{}",
				"type Server struct, Values func(struct{}, interface{}) interface{ M(); N() }",
				"type Server struct, embedded *Base",
				"type Server struct, embedded io.Writer",
				"type Server struct, embedded sync.Mutex",
			),
		},
		{
			name: "interfaces",
			src: `package x

import (
	"context"
	"io"
)

type Mailbox interface {
	Messages() []int
	Message(ctx context.Context, n int) (io.ReadCloser, error)
	Close() error
	Delete(ctx context.Context, ns []int) error
}

type TopMailbox interface {
	Mailbox
	Top(ctx context.Context, n, lines int) (io.ReadCloser, error)
}

type Sealed interface {
	io.Closer
	Name() string
	seal()
}

type Any interface{}

type hidden interface{ Close() error }
`,
			want: features(
				"type Any interface {}",
				"type Mailbox interface { Close, Delete, Message, Messages }",
				"type Mailbox interface, Close() error",
				"type Mailbox interface, Delete(context.Context, []int) error",
				"type Mailbox interface, Message(context.Context, int) (io.ReadCloser, error)",
				"type Mailbox interface, Messages() []int",
				"type Sealed interface { Name, io.Closer }",
				"type Sealed interface, Name() string",
				"type Sealed interface, embedded io.Closer",
				"type Sealed interface, unexported methods",
				"type TopMailbox interface { Mailbox, Top }",
				"type TopMailbox interface, Top(context.Context, int, int) (io.ReadCloser, error)",
				"type TopMailbox interface, embedded Mailbox",
			),
		},
		{
			name: "unexported things omitted",
			src: `package x

type server struct{ Addr string }

func (s *server) Serve() error { return nil }
func newServer() *server     { return nil }

const limit = 3

var errHidden error

type Public struct{ private int }

func (p Public) private() {}
`,
			want: features(
				"type Public struct",
			),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writePackage(t, map[string]string{"x.go": tt.src})
			got, err := apidump.Dump(dir, importPath)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// Only the non-test files that build for linux/amd64 count.
func TestDumpBuildConstraints(t *testing.T) {
	dir := writePackage(t, map[string]string{
		"x.go":          "package x\n\nfunc Always() {}\n",
		"x_linux.go":    "package x\n\nfunc Linux() {}\n",
		"x_windows.go":  "package x\n\nfunc Windows() {}\n",
		"x_arm64.go":    "package x\n\nfunc ARM64() {}\n",
		"unix.go":       "//go:build unix\n\npackage x\n\nfunc Unix() {}\n",
		"other.go":      "//go:build !unix\n\npackage x\n\nfunc Other() {}\n",
		"gen.go":        "//go:build ignore\n\npackage main\n\nfunc Generate() {}\n",
		"x_test.go":     "package x\n\nfunc TestOnly() {}\n",
		"ext_test.go":   "package x_test\n\nfunc External() {}\n",
		"_skipped.go":   "package x\n\nfunc Underscore() {}\n",
		"notes.txt":     "func Text() {}\n",
		"cgo.go":        "//go:build cgo\n\npackage x\n\nfunc Cgo() {}\n",
		"x_amd64.go":    "package x\n\nfunc AMD64() {}\n",
		"x_darwin.go":   "package x\n\nfunc Darwin() {}\n",
		"release.go":    "//go:build go1.21\n\npackage x\n\nfunc Release() {}\n",
		"custom_tag.go": "//go:build sometag\n\npackage x\n\nfunc Tagged() {}\n",
	})
	got, err := apidump.Dump(dir, importPath)
	require.NoError(t, err)
	assert.Equal(t, features(
		"func AMD64()",
		"func Always()",
		"func Cgo()",
		"func Linux()",
		"func Release()",
		"func Unix()",
	), got)
}

// A method declared in another file than its type is listed all the same,
// and the lines come out sorted whatever the files' order.
func TestDumpAcrossFiles(t *testing.T) {
	dir := writePackage(t, map[string]string{
		"a.go": "package x\n\nfunc (t *T) M() {}\n",
		"b.go": "package x\n\ntype T struct{}\n\nfunc A() {}\n",
	})
	got, err := apidump.Dump(dir, importPath)
	require.NoError(t, err)
	assert.Equal(t, features("func A()", "method (*T) M()", "type T struct"), got)
}

func TestLoadCounts(t *testing.T) {
	dir := writePackage(t, map[string]string{"x.go": `package x

type T struct{ F int }
type I interface {
	A()
	B()
	c()
}

func (T) M()  {}
func (*T) N() {}
func (T) m()  {}
func New() T  { return T{} }

const (
	C1 = iota
	C2
)

var V, W int
`})
	api, err := apidump.Load(dir, importPath)
	require.NoError(t, err)
	assert.Equal(t, 1, api.Funcs)
	assert.Equal(t, 2, api.Types)
	assert.Equal(t, 2, api.Consts)
	assert.Equal(t, 2, api.Vars)
	assert.Equal(t, 2, api.Methods)
	assert.Equal(t, 2, api.InterfaceMethods)
}

func TestPackageName(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    string
		wantErr string
	}{
		{name: "library", files: map[string]string{"a.go": "package lib\n", "a_test.go": "package lib_test\n"}, want: "lib"},
		{name: "command", files: map[string]string{"main.go": "package main\n"}, want: "main"},
		{name: "tests only", files: map[string]string{"a_test.go": "package lib\n"}, want: ""},
		{name: "ignored generator", files: map[string]string{"a.go": "package lib\n", "gen.go": "//go:build ignore\n\npackage main\n"}, want: "lib"},
		{name: "two packages", files: map[string]string{"a.go": "package a\n", "b.go": "package b\n"}, wantErr: "packages a and b"},
		{name: "syntax error", files: map[string]string{"a.go": "package a\n\nfunc {\n"}, wantErr: "a.go"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writePackage(t, tt.files)
			got, err := apidump.PackageName(dir)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				_, err = apidump.Dump(dir, importPath)
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name      string
		want, got []string
		diff      []string
	}{
		{name: "same", want: []string{"a", "b"}, got: []string{"a", "b"}, diff: nil},
		{name: "same lines, other order", want: []string{"b", "a"}, got: []string{"a", "b"}, diff: nil},
		{name: "added", want: []string{"a", "c"}, got: []string{"a", "b", "c"}, diff: []string{"+b"}},
		{name: "removed", want: []string{"a", "b", "c"}, got: []string{"a", "c"}, diff: []string{"-b"}},
		{
			name: "changed signature",
			want: []string{"func A(int)", "func B()"},
			got:  []string{"func A(int64)", "func B()", "func C()"},
			diff: []string{"-func A(int)", "+func A(int64)", "+func C()"},
		},
		{name: "from nothing", want: nil, got: []string{"x"}, diff: []string{"+x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.diff, apidump.Diff(tt.want, tt.got))
		})
	}
}

// The dump of this very package: a smoke test on real code.
func TestDumpSelf(t *testing.T) {
	got, err := apidump.Dump(".", "github.com/gopop3/pop3/internal/apidump")
	require.NoError(t, err)
	assert.Contains(t, got, "pkg github.com/gopop3/pop3/internal/apidump, func Dump(string, string) ([]string, error)")
	assert.Contains(t, got, "pkg github.com/gopop3/pop3/internal/apidump, type API struct, Lines []string")
	for _, l := range got {
		assert.False(t, strings.Contains(l, "dumper"), "unexported type in %q", l)
	}
}
