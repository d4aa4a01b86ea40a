package pop3_test

import (
	"go/ast"
	"go/build"
	"go/doc"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A bracketed response code with a slash, such as [SYS/TEMP], reads to go
// doc and pkg.go.dev as a link to a package of that path, and loses its
// brackets. Every doc link in the packages' comments must lead somewhere
// real.
func TestDocLinksResolve(t *testing.T) {
	for _, dir := range []string{".", "memory", "maildir", "mbox", "passwd", "pop3test", "cmd/pop3d", "internal/testhooks", "internal/dovecottest", "internal/testprog"} {
		fset := token.NewFileSet()
		var files []*ast.File
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			name := e.Name()
			if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
			require.NoError(t, err)
			files = append(files, f)
		}
		pkg, err := doc.NewFromFiles(fset, files, "github.com/gopop3/pop3/"+dir, doc.PreserveAST)
		require.NoError(t, err)
		p := pkg.Parser()
		for _, f := range files {
			for _, cg := range f.Comments {
				for _, link := range docLinks(p.Parse(cg.Text())) {
					if link.ImportPath == "" {
						continue
					}
					_, err := build.Default.Import(link.ImportPath, dir, build.FindOnly)
					assert.NoError(t, err, "%s: [%s] is read as a link to package %q",
						fset.Position(cg.Pos()), link.ImportPath, link.ImportPath)
				}
			}
		}
	}
}

// docLinks lists the doc links of a parsed comment.
func docLinks(d *comment.Doc) []*comment.DocLink {
	var links []*comment.DocLink
	var walk func([]comment.Text)
	walk = func(texts []comment.Text) {
		for _, t := range texts {
			switch t := t.(type) {
			case *comment.DocLink:
				links = append(links, t)
			case *comment.Link:
				walk(t.Text)
			case comment.Italic, comment.Plain:
			}
		}
	}
	for _, b := range d.Content {
		switch b := b.(type) {
		case *comment.Paragraph:
			walk(b.Text)
		case *comment.Heading:
			walk(b.Text)
		case *comment.List:
			for _, item := range b.Items {
				for _, ib := range item.Content {
					if p, ok := ib.(*comment.Paragraph); ok {
						walk(p.Text)
					}
				}
			}
		}
	}
	return links
}
