package pop3_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// crossCuttingTests are the root test files that test no one source file:
// whole sessions, allocations, benchmarks, fuzzing, load, the examples,
// and the repository's own rules.
var crossCuttingTests = map[string]bool{
	"allocs_test.go": true, "api_test.go": true, "bench_test.go": true, "deps_test.go": true,
	"example_backends_test.go": true, "example_test.go": true, "fuzz_test.go": true,
	"helpers_test.go": true, "hooks_example_test.go": true, "layout_test.go": true,
	"load_test.go": true, "norace_test.go": true, "race_test.go": true, "readme_test.go": true,
	"robustness_test.go": true, "writes_test.go": true,
}

// The test files follow CONTRIBUTING.md's rule: x_test.go (package
// pop3_test) and x_internal_test.go (package pop3) test what x.go holds,
// so that a reader finds a file's tests by its name.
func TestTestFilesMirrorSources(t *testing.T) {
	tests, err := filepath.Glob("*_test.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	for _, name := range tests {
		f, err := parser.ParseFile(fset, name, nil, parser.PackageClauseOnly)
		require.NoError(t, err)
		internal := strings.HasSuffix(name, "_internal_test.go")
		if internal {
			assert.Equal(t, "pop3", f.Name.Name, "%s: an _internal_test.go file is package pop3", name)
		} else {
			assert.Equal(t, "pop3_test", f.Name.Name, "%s: a test of package pop3 is named x_internal_test.go", name)
		}
		if crossCuttingTests[name] {
			continue
		}
		src := strings.TrimSuffix(strings.TrimSuffix(name, "_test.go"), "_internal") + ".go"
		_, err = os.Stat(src)
		assert.NoError(t, err, "%s tests no source file %s: move its tests to the file they test, or list it in crossCuttingTests", name, src)
	}
}
