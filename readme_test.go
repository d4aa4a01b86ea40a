package pop3_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/testprog"
)

// The README's Go code compiles: TestReadmeCodeBlocks builds every block
// fenced as ```go, all of them in one temporary module that uses this
// repository's modules through a go.work of its own, and runs go vet over
// them (which type-checks _test.go files too). A compiler or vet message
// points at README.md and the line of the block, through //line directives.
//
// The rule for a block, which the README follows:
//
//   - A block that begins with "package" is a complete file and is compiled
//     as it is.
//   - Any other block is a fragment: top-level declarations when it parses
//     as such, else statements, which become the body of a function. Its
//     imports are added from the package names it uses (readmeImports).
//   - What a fragment uses without declaring it (the srv of a snippet, the
//     reader's own constructor) is declared in an HTML comment that ends on
//     the line just before the fence, which GitHub does not show:
//
//     <!-- go
//     var srv *pop3.Server
//     -->
//
//   - Each block is a package of its own, so blocks may declare the same
//     names. A block that uses package testing is a _test.go file.
//
// Fragments of shell or configuration are fenced as sh or not at all.

// readmeImports are the packages a README fragment may use by name
// without importing them.
var readmeImports = map[string]string{
	"bytes":      "bytes",
	"context":    "context",
	"errors":     "errors",
	"fmt":        "fmt",
	"io":         "io",
	"log":        "log",
	"net":        "net",
	"os":         "os",
	"strings":    "strings",
	"testing":    "testing",
	"time":       "time",
	"http":       "net/http",
	"netip":      "net/netip",
	"slog":       "log/slog",
	"tls":        "crypto/tls",
	"pop3":       "github.com/gopop3/pop3",
	"maildir":    "github.com/gopop3/pop3/maildir",
	"mbox":       "github.com/gopop3/pop3/mbox",
	"memory":     "github.com/gopop3/pop3/memory",
	"passwd":     "github.com/gopop3/pop3/passwd",
	"pop3test":   "github.com/gopop3/pop3/pop3test",
	"postgres":   "github.com/gopop3/pop3/postgres",
	"sqldb":      "github.com/gopop3/pop3/sqldb",
	"ldapdb":     "github.com/gopop3/pop3/ldapdb",
	"proxyproto": "github.com/pires/go-proxyproto",
	"prometheus": "github.com/prometheus/client_golang/prometheus",
	"sasl":       "github.com/emersion/go-sasl",
}

// readmeBlock is one ```go block of the README.
type readmeBlock struct {
	path  string // the README's absolute path, for the //line directives
	fence int    // the line of the opening fence, from 1
	code  string // the lines between the fences
	setup string // the declarations of the HTML comment before it
	// setupLine is the line of the setup's first declaration.
	setupLine int
}

func TestReadmeCodeBlocks(t *testing.T) {
	goCmd := testprog.Require(t, "go", "golang-go")
	root, err := os.Getwd()
	require.NoError(t, err)
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks, err := readmeGoBlocks(filepath.Join(root, "README.md"), string(readme))
	require.NoError(t, err)
	require.NotEmpty(t, blocks, "README.md has no ```go block")

	// The workspace of this repository, with the blocks' module added.
	out, err := exec.Command(goCmd, "work", "edit", "-json", "go.work").Output()
	require.NoError(t, err, "go work edit -json: %s", readmeStderr(err))
	type workModule struct{ Path, Version string }
	var work struct {
		Go      string
		Use     []struct{ DiskPath string }
		Replace []struct{ Old, New workModule }
	}
	require.NoError(t, json.Unmarshal(out, &work))

	dir := t.TempDir()
	var goWork strings.Builder
	fmt.Fprintf(&goWork, "go %s\n\nuse (\n\t.\n", work.Go)
	for _, u := range work.Use {
		fmt.Fprintf(&goWork, "\t%s\n", strconv.Quote(filepath.Join(root, u.DiskPath)))
	}
	goWork.WriteString(")\n")
	// The replaces that give the modules' requirements of each other this
	// checkout (RELEASING.md), with their directories made absolute.
	for _, r := range work.Replace {
		old := r.Old.Path
		if r.Old.Version != "" {
			old += " " + r.Old.Version
		}
		replacement := r.New.Path
		if r.New.Version != "" {
			replacement += " " + r.New.Version
		} else if !filepath.IsAbs(replacement) {
			replacement = strconv.Quote(filepath.Join(root, replacement))
		}
		fmt.Fprintf(&goWork, "replace %s => %s\n", old, replacement)
	}
	readmeWriteFile(t, filepath.Join(dir, "go.work"), goWork.String())
	readmeWriteFile(t, filepath.Join(dir, "go.mod"), "module readme\n\ngo "+work.Go+"\n")
	if sum, err := os.ReadFile("go.work.sum"); err == nil {
		readmeWriteFile(t, filepath.Join(dir, "go.work.sum"), string(sum))
	}

	for i, b := range blocks {
		name, src, err := b.file()
		if err != nil {
			t.Errorf("README.md:%d: %v", b.fence, err)
			continue
		}
		pkgDir := filepath.Join(dir, fmt.Sprintf("block%02d", i+1))
		require.NoError(t, os.Mkdir(pkgDir, 0o755))
		readmeWriteFile(t, filepath.Join(pkgDir, name), src)
	}
	if t.Failed() {
		return
	}

	cmd := exec.Command(goCmd, "vet", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(dir, "go.work"), "GOFLAGS="+readmeGoFlags())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("a ```go block of README.md does not compile (go vet: %v):\n%s", err, out)
	}
}

// The examples and test files that the README names exist: its list of
// where the runnable examples are does not go stale when one is renamed.
func TestReadmeNamesExamples(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	examples := map[string]bool{}
	err = filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Example") {
				examples[fn.Name.Name] = true
			}
		}
		return nil
	})
	require.NoError(t, err)

	for i, line := range strings.Split(string(readme), "\n") {
		for _, code := range readmeCodeSpans(line) {
			switch {
			case strings.HasSuffix(code, "_test.go"):
				_, err := os.Stat(code)
				assert.NoError(t, err, "README.md:%d names the file %s", i+1, code)
			case strings.HasPrefix(code, "Example") && !strings.ContainsAny(code, " .("):
				assert.True(t, examples[code], "README.md:%d names the example %s, which no _test.go file has", i+1, code)
			}
		}
	}
}

// readmeCodeSpans returns the `code` spans of a Markdown line.
func readmeCodeSpans(line string) []string {
	parts := strings.Split(line, "`")
	var spans []string
	for i := 1; i < len(parts)-1; i += 2 {
		spans = append(spans, parts[i])
	}
	return spans
}

// readmeGoBlocks returns the ```go blocks of the Markdown text md, read
// from path.
func readmeGoBlocks(path, md string) ([]readmeBlock, error) {
	lines := strings.Split(md, "\n")
	var blocks []readmeBlock
	for i := 0; i < len(lines); i++ {
		indent, info, ok := readmeFence(lines[i])
		if !ok {
			continue
		}
		start := i
		var code []string
		for i++; i < len(lines); i++ {
			if in, rest, ok := readmeFence(lines[i]); ok && rest == "" && len(in) <= len(indent) {
				break
			}
			code = append(code, strings.TrimPrefix(lines[i], indent))
		}
		if i == len(lines) {
			return nil, fmt.Errorf("%s:%d: the code block is not closed", path, start+1)
		}
		if info != "go" {
			continue
		}
		b := readmeBlock{path: path, fence: start + 1, code: strings.Join(code, "\n")}
		if start > 0 && strings.TrimSpace(lines[start-1]) == "-->" {
			j := start - 2
			for j >= 0 && !strings.HasPrefix(strings.TrimSpace(lines[j]), "<!--") {
				j--
			}
			if j >= 0 && strings.TrimSpace(lines[j]) == "<!-- go" {
				b.setup = strings.Join(lines[j+1:start-1], "\n")
				b.setupLine = j + 2
			}
		}
		blocks = append(blocks, b)
	}
	return blocks, nil
}

// readmeFence reports whether line opens or closes a fenced code block, with its
// indentation and its info string.
func readmeFence(line string) (indent, info string, ok bool) {
	rest := strings.TrimLeft(line, " ")
	if !strings.HasPrefix(rest, "```") {
		return "", "", false
	}
	return line[:len(line)-len(rest)], strings.TrimSpace(strings.TrimLeft(rest, "`")), true
}

// file returns the Go file that compiles b, with its name.
func (b readmeBlock) file() (name, src string, err error) {
	at := func(line int) string { return "//line " + b.path + ":" + strconv.Itoa(line) + "\n" }
	name = "block.go"
	if strings.HasPrefix(strings.TrimSpace(b.code), "package ") {
		if b.setup != "" {
			return "", "", fmt.Errorf("a block that is a complete file has no setup comment")
		}
		src = at(b.fence+1) + b.code + "\n"
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
		if err == nil && slices.ContainsFunc(f.Imports, func(s *ast.ImportSpec) bool { return s.Path.Value == `"testing"` }) {
			name = "block_test.go"
		}
		return name, src, nil
	}

	// Declarations, else statements in a function. The package clause and
	// the imports share one line, the fence's, so that every line after it
	// is the README's.
	setup := ""
	if b.setup != "" {
		setup = at(b.setupLine) + b.setup + "\n"
	}
	asDecls := setup + at(b.fence+1) + b.code + "\n"
	asStmts := setup + at(b.fence) + "func _() {\n" + b.code + "\n}\n"
	var f *ast.File
	body := asDecls
	f, err = parser.ParseFile(token.NewFileSet(), name, "package readme\n"+body, 0)
	if err != nil {
		body = asStmts
		f, err = parser.ParseFile(token.NewFileSet(), name, "package readme\n"+body, 0)
		if err != nil {
			return "", "", fmt.Errorf("neither declarations nor statements: %v", err)
		}
	}
	var imports []string
	for _, id := range f.Unresolved {
		if path, ok := readmeImports[id.Name]; ok && !slices.Contains(imports, strconv.Quote(path)) {
			imports = append(imports, strconv.Quote(path))
		}
	}
	if slices.Contains(imports, `"testing"`) {
		name = "block_test.go"
	}
	head := "package readme"
	if len(imports) > 0 {
		head += "; import (" + strings.Join(imports, "; ") + ")"
	}
	return name, at(b.fence) + head + "\n" + body, nil
}

// readmeGoFlags is GOFLAGS without a -mod flag, which workspace mode
// refuses unless it is readonly.
func readmeGoFlags() string {
	var flags []string
	for _, f := range strings.Fields(os.Getenv("GOFLAGS")) {
		if !strings.HasPrefix(f, "-mod=") && !strings.HasPrefix(f, "--mod=") {
			flags = append(flags, f)
		}
	}
	return strings.Join(flags, " ")
}

func readmeWriteFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

// readmeStderr returns what a failed command wrote to stderr.
func readmeStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
