package pop3_test

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopop3/pop3/internal/apidump"
)

var updateAPI = flag.Bool("update-api", false, "rewrite the golden files api/*.txt from the exported API of the public packages")

const updateAPIHint = "go test -run TestAPI -update-api ."

// apiPackage is a public package and its golden file, api/<golden>.txt.
type apiPackage struct {
	dir, importPath, golden string
}

// apiPackages are the public packages. postgres, sqldb and ldapdb are
// modules of their own; their files are only parsed here, so the library
// module gains no dependency.
var apiPackages = []apiPackage{
	{".", "github.com/gopop3/pop3", "pop3"},
	{"memory", "github.com/gopop3/pop3/memory", "memory"},
	{"maildir", "github.com/gopop3/pop3/maildir", "maildir"},
	{"mbox", "github.com/gopop3/pop3/mbox", "mbox"},
	{"passwd", "github.com/gopop3/pop3/passwd", "passwd"},
	{"pop3test", "github.com/gopop3/pop3/pop3test", "pop3test"},
	{"postgres", "github.com/gopop3/pop3/postgres", "postgres"},
	{"sqldb", "github.com/gopop3/pop3/sqldb", "sqldb"},
	{"ldapdb", "github.com/gopop3/pop3/ldapdb", "ldapdb"},
}

// TestAPI compares the exported API of every public package, a feature a
// line (see internal/apidump), with its golden file in api/, so that every
// change of an exported name or signature shows up in review. When the
// change is meant, -update-api rewrites the files.
func TestAPI(t *testing.T) {
	for _, p := range apiPackages {
		t.Run(p.golden, func(t *testing.T) {
			lines, err := apidump.Dump(p.dir, p.importPath)
			require.NoError(t, err)
			file := filepath.Join("api", p.golden+".txt")
			content := ""
			if len(lines) > 0 {
				content = strings.Join(lines, "\n") + "\n"
			}
			if *updateAPI {
				require.NoError(t, os.MkdirAll("api", 0o755))
				require.NoError(t, os.WriteFile(file, []byte(content), 0o644))
				return
			}
			golden, err := os.ReadFile(file)
			if errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("%s is missing; to write it, run\n\t%s", file, updateAPIHint)
			}
			require.NoError(t, err)
			if string(golden) == content {
				return
			}
			var want []string
			if s := strings.TrimRight(string(golden), "\n"); s != "" {
				want = strings.Split(s, "\n")
			}
			diff := apidump.Diff(want, lines)
			if len(diff) == 0 {
				t.Fatalf("%s holds the API of %s, but not as the dump writes it (order, duplicates or line ends); to rewrite it, run\n\t%s",
					file, p.importPath, updateAPIHint)
			}
			t.Fatalf("the exported API of %s differs from %s (- only in the file, + only in the code):\n\n%s\n\n"+
				"If the change is meant, run\n\t%s\nand commit %s with it.",
				p.importPath, file, strings.Join(diff, "\n"), updateAPIHint, file)
		})
	}
}

// TestAPICount logs, per public package, how many exported names it has at
// top level, and how many exported methods.
func TestAPICount(t *testing.T) {
	var total apidump.API
	for _, p := range apiPackages {
		api, err := apidump.Load(p.dir, p.importPath)
		require.NoError(t, err)
		t.Logf("%-9s top-level %3d (funcs %3d, types %3d, consts %3d, vars %3d), methods %3d, interface methods %3d, lines %3d",
			p.golden, api.Funcs+api.Types+api.Consts+api.Vars, api.Funcs, api.Types, api.Consts, api.Vars,
			api.Methods, api.InterfaceMethods, len(api.Lines))
		total.Funcs += api.Funcs
		total.Types += api.Types
		total.Consts += api.Consts
		total.Vars += api.Vars
		total.Methods += api.Methods
		total.InterfaceMethods += api.InterfaceMethods
		total.Lines = append(total.Lines, api.Lines...)
	}
	t.Logf("%-9s top-level %3d (funcs %3d, types %3d, consts %3d, vars %3d), methods %3d, interface methods %3d, lines %3d",
		"total", total.Funcs+total.Types+total.Consts+total.Vars, total.Funcs, total.Types, total.Consts, total.Vars,
		total.Methods, total.InterfaceMethods, len(total.Lines))
}

// TestAPIGoldenFilesCoverPackages fails when a public package has no golden
// file, so that nobody forgets to list a new one, and when a golden file
// belongs to no listed package. A public package is a directory of the
// repository with non-test Go files of a package other than main, outside
// cmd/, internal/, testdata/ and the directories of nested modules that
// apiPackages does not list. One whose files export nothing, such as
// interop (tests only), needs no file.
func TestAPIGoldenFilesCoverPackages(t *testing.T) {
	listed := map[string]bool{}
	goldens := map[string]bool{}
	for _, p := range apiPackages {
		listed[filepath.Clean(p.dir)] = true
		goldens[p.golden+".txt"] = true
	}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != "." {
			name := d.Name()
			if path == "cmd" || name == "internal" || name == "testdata" || name == "vendor" ||
				strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && !listed[path] {
				return filepath.SkipDir
			}
		}
		if listed[path] {
			return nil
		}
		name, err := apidump.PackageName(path)
		if err != nil {
			return err
		}
		if name == "" || name == "main" {
			return nil
		}
		lines, err := apidump.Dump(path, "github.com/gopop3/pop3/"+filepath.ToSlash(path))
		if err != nil {
			return err
		}
		if len(lines) > 0 {
			t.Errorf("%s is a public package with %d API lines but no golden file: add it to apiPackages in api_test.go and run\n\t%s",
				path, len(lines), updateAPIHint)
		}
		return nil
	})
	require.NoError(t, err)

	entries, err := os.ReadDir("api")
	require.NoError(t, err)
	for _, e := range entries {
		assert.True(t, goldens[e.Name()], "api/%s belongs to no package in apiPackages (api_test.go)", e.Name())
	}
}
