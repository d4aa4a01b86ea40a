// Package apidump lists the exported API of a Go package, one feature a
// line, in the spirit of the Go project's api/go1.*.txt files:
//
//	pkg github.com/gopop3/pop3, func NewServer(Backend) *Server
//	pkg github.com/gopop3/pop3, method (*Server) Close() error
//	pkg github.com/gopop3/pop3, type Server struct
//	pkg github.com/gopop3/pop3, type Server struct, Addr string
//	pkg github.com/gopop3/pop3, type Mailbox interface { Close, Delete, Message, Messages }
//	pkg github.com/gopop3/pop3, type Mailbox interface, Message(context.Context, int) (io.ReadCloser, error)
//	pkg github.com/gopop3/pop3, const CodeAuth = "AUTH"
//	pkg github.com/gopop3/pop3, var ErrAuthFailed *Error
//
// The root module's TestAPI compares these lines with the golden files in
// api/, so that every change of an exported name or signature shows up in
// review.
//
// The dump reads source only (go/parser, no type checker), from the
// package's non-test .go files that build for linux/amd64 (with cgo), so
// files tagged "ignore" are left out. What it shows, and what it cannot:
//
//   - Parameter and result names are dropped; types are printed as written
//     (gofmt spacing, on one line), so an alias or a re-spelling of the
//     same type counts as a change.
//   - Type parameters are kept with their names and constraints, as in
//     "type Set[T comparable] struct" and "method (*Set[T]) Add(T)".
//   - A constant whose value is a basic literal (or a signed one) shows it:
//     "const X = 5", "const X T = 5". Any other constant shows its type,
//     "const X T", where Go's implicit repetition carries the type (and the
//     expression) from the group's previous spec, as for iota; an untyped
//     one shows the expression as written, "const X = 1 << 10" (for an
//     untyped iota group that is "const B = iota", Go's repetition rule,
//     not B's value).
//   - A variable shows its type when the spec writes one; else a type read
//     off the value when that is plain (&T{...} is *T, T{...} is T,
//     errors.New and fmt.Errorf give error, a func literal its func type);
//     else the value as written, "var X = pkg.Other".
//   - Methods are listed on exported receiver types only, and struct fields
//     and interface methods only when exported; an embedded field or
//     interface element is a line of its own, "embedded T", and an
//     interface with unexported methods gets the line "unexported
//     methods", since nobody outside can implement it. Struct tags are
//     not part of the API.
//   - Without a type checker, promoted methods are not listed: those of an
//     exported embedded type show as its "embedded T" line, and those of
//     an unexported embedded type (its exported methods are part of the
//     outer type's method set) are not seen at all; such embedding is rare
//     and no public package here relies on it. Likewise the methods an
//     embedded interface brings are not flattened into the embedding one.
package apidump

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// API is the exported API of one package.
type API struct {
	// Lines are the features, sorted, one a line, without line ends.
	Lines []string
	// Funcs, Types, Consts and Vars count the exported top-level names.
	Funcs, Types, Consts, Vars int
	// Methods counts the exported methods declared on exported types;
	// InterfaceMethods the exported methods of exported interfaces.
	Methods, InterfaceMethods int
}

// buildContext is the build configuration whose files are read:
// linux/amd64, with cgo, at this toolchain's release tags, and no other
// tags.
var buildContext = build.Context{
	GOOS:        "linux",
	GOARCH:      "amd64",
	CgoEnabled:  true,
	Compiler:    "gc",
	ReleaseTags: build.Default.ReleaseTags,
}

// Dump returns the sorted lines of the exported API of the package in dir,
// named by importPath on every line.
func Dump(dir, importPath string) ([]string, error) {
	api, err := Load(dir, importPath)
	if err != nil {
		return nil, err
	}
	return api.Lines, nil
}

// PackageName returns the name of the package whose non-test files in dir
// build for linux/amd64, or "" when there are none.
func PackageName(dir string) (string, error) {
	_, files, err := parseDir(dir)
	if err != nil || len(files) == 0 {
		return "", err
	}
	return files[0].Name.Name, nil
}

// Load reads the package in dir and returns its exported API, importPath
// naming it on every line.
func Load(dir, importPath string) (*API, error) {
	fset, files, err := parseDir(dir)
	if err != nil {
		return nil, err
	}
	d := &dumper{fset: fset, prefix: "pkg " + importPath + ", ", api: &API{}}
	for _, f := range files {
		for _, decl := range f.Decls {
			switch decl := decl.(type) {
			case *ast.FuncDecl:
				d.funcDecl(decl)
			case *ast.GenDecl:
				d.genDecl(decl)
			}
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	lines := d.api.Lines
	sort.Strings(lines)
	d.api.Lines = slices.Compact(lines)
	return d.api, nil
}

// parseDir parses the non-test .go files of dir that build for
// linux/amd64. They must all be of one package.
func parseDir(dir string) (*token.FileSet, []*ast.File, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") ||
			strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			continue
		}
		ok, err := buildContext.MatchFile(dir, name)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, nil, err
		}
		if len(files) > 0 && f.Name.Name != files[0].Name.Name {
			return nil, nil, fmt.Errorf("%s: packages %s and %s in one directory", dir, files[0].Name.Name, f.Name.Name)
		}
		files = append(files, f)
	}
	return fset, files, nil
}

type dumper struct {
	fset   *token.FileSet
	prefix string
	api    *API
	err    error
}

func (d *dumper) emit(format string, args ...any) {
	d.api.Lines = append(d.api.Lines, d.prefix+fmt.Sprintf(format, args...))
}

func (d *dumper) funcDecl(fn *ast.FuncDecl) {
	if !fn.Name.IsExported() {
		return
	}
	if fn.Recv == nil {
		d.api.Funcs++
		d.emit("func %s%s", fn.Name.Name, d.signature(fn.Type))
		return
	}
	if len(fn.Recv.List) != 1 || !ast.IsExported(baseName(fn.Recv.List[0].Type)) {
		return
	}
	d.api.Methods++
	d.emit("method (%s) %s%s", d.print(fn.Recv.List[0].Type), fn.Name.Name, d.signature(fn.Type))
}

func (d *dumper) genDecl(g *ast.GenDecl) {
	switch g.Tok {
	case token.TYPE:
		for _, spec := range g.Specs {
			d.typeSpec(spec.(*ast.TypeSpec))
		}
	case token.CONST:
		// Go's implicit repetition: a spec without values repeats the
		// type and the expressions of the previous spec that had them.
		var typ ast.Expr
		var values []ast.Expr
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if vs.Values != nil {
				typ, values = vs.Type, vs.Values
			}
			for i, name := range vs.Names {
				if !name.IsExported() {
					continue
				}
				d.api.Consts++
				var value ast.Expr
				if i < len(values) {
					value = values[i]
				}
				d.constant(name.Name, typ, value)
			}
		}
	case token.VAR:
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !name.IsExported() {
					continue
				}
				d.api.Vars++
				switch {
				case vs.Type != nil:
					d.emit("var %s %s", name.Name, d.print(vs.Type))
				case len(vs.Values) == len(vs.Names):
					d.emit("var %s%s", name.Name, d.valueType(vs.Values[i]))
				case len(vs.Values) == 1:
					// var A, B = f(): the call, as written.
					d.emit("var %s = %s", name.Name, d.print(vs.Values[0]))
				default:
					d.emit("var %s", name.Name)
				}
			}
		}
	}
}

func (d *dumper) constant(name string, typ, value ast.Expr) {
	typed := ""
	if typ != nil {
		typed = " " + d.print(typ)
	}
	switch {
	case isLiteral(value):
		d.emit("const %s%s = %s", name, typed, d.print(value))
	case typ != nil || value == nil:
		d.emit("const %s%s", name, typed)
	default:
		d.emit("const %s = %s", name, d.print(value))
	}
}

// isLiteral reports whether e is a basic literal, or one with a sign.
func isLiteral(e ast.Expr) bool {
	if u, ok := e.(*ast.UnaryExpr); ok && (u.Op == token.SUB || u.Op == token.ADD) {
		e = u.X
	}
	_, ok := e.(*ast.BasicLit)
	return ok
}

// valueType returns " T" for a value whose type reads off it plainly, else
// " = value".
func (d *dumper) valueType(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.CompositeLit:
		if e.Type != nil {
			return " " + d.print(e.Type)
		}
	case *ast.UnaryExpr:
		if c, ok := e.X.(*ast.CompositeLit); ok && e.Op == token.AND && c.Type != nil {
			return " *" + d.print(c.Type)
		}
	case *ast.FuncLit:
		return " " + d.print(e.Type)
	case *ast.CallExpr:
		if sel, ok := e.Fun.(*ast.SelectorExpr); ok {
			if pkg, ok := sel.X.(*ast.Ident); ok &&
				(pkg.Name == "errors" && sel.Sel.Name == "New" || pkg.Name == "fmt" && sel.Sel.Name == "Errorf") {
				return " error"
			}
		}
	}
	return " = " + d.print(e)
}

func (d *dumper) typeSpec(ts *ast.TypeSpec) {
	if !ts.Name.IsExported() {
		return
	}
	d.api.Types++
	name := ts.Name.Name + d.typeParams(ts.TypeParams)
	if ts.Assign.IsValid() {
		d.emit("type %s = %s", name, d.print(ts.Type))
		return
	}
	switch t := ts.Type.(type) {
	case *ast.StructType:
		d.emit("type %s struct", name)
		for _, f := range t.Fields.List {
			if len(f.Names) == 0 {
				if ast.IsExported(baseName(f.Type)) {
					d.emit("type %s struct, embedded %s", name, d.print(f.Type))
				}
				continue
			}
			for _, n := range f.Names {
				if n.IsExported() {
					d.emit("type %s struct, %s %s", name, n.Name, d.print(f.Type))
				}
			}
		}
	case *ast.InterfaceType:
		var summary []string
		unexported := false
		for _, f := range t.Methods.List {
			if len(f.Names) == 0 {
				// An embedded interface, or a constraint's type set.
				elem := d.print(f.Type)
				summary = append(summary, elem)
				d.emit("type %s interface, embedded %s", name, elem)
				continue
			}
			for _, n := range f.Names {
				if !n.IsExported() {
					unexported = true
					continue
				}
				d.api.InterfaceMethods++
				summary = append(summary, n.Name)
				d.emit("type %s interface, %s%s", name, n.Name, d.signature(f.Type.(*ast.FuncType)))
			}
		}
		if unexported {
			d.emit("type %s interface, unexported methods", name)
		}
		sort.Strings(summary)
		if len(summary) == 0 {
			d.emit("type %s interface {}", name)
		} else {
			d.emit("type %s interface { %s }", name, strings.Join(summary, ", "))
		}
	default:
		d.emit("type %s %s", name, d.print(ts.Type))
	}
}

// typeParams prints a type parameter list, "[K comparable, V any]", or ""
// for none.
func (d *dumper) typeParams(fl *ast.FieldList) string {
	if fl == nil || len(fl.List) == 0 {
		return ""
	}
	var parts []string
	for _, f := range fl.List {
		names := make([]string, len(f.Names))
		for i, n := range f.Names {
			names[i] = n.Name
		}
		parts = append(parts, strings.Join(names, ", ")+" "+d.print(f.Type))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// signature prints a function's type parameters, parameters and results,
// without the names: "[T any](context.Context, T) (int, error)".
func (d *dumper) signature(ft *ast.FuncType) string {
	return d.typeParams(ft.TypeParams) + strings.TrimPrefix(d.print(&ast.FuncType{Params: ft.Params, Results: ft.Results}), "func")
}

// print prints a type or an expression on one line, with gofmt's spacing,
// without parameter names or struct tags.
func (d *dumper) print(e ast.Expr) string {
	var buf bytes.Buffer
	cfg := printer.Config{Mode: printer.UseSpaces | printer.TabIndent, Tabwidth: 8}
	// A file set that knows none of the positions: the printer then keeps
	// a signature written over several lines on one, and breaks only
	// struct and interface types, which oneLine joins.
	if err := cfg.Fprint(&buf, token.NewFileSet(), strip(e)); err != nil && d.err == nil {
		d.err = err
	}
	return oneLine(buf.String())
}

// oneLine joins a printed multi-line node, such as a struct type of more
// than one field, into one line, spaced as gofmt spaces a one-line struct:
// "struct{ A int; B string }".
func oneLine(s string) string {
	if !strings.Contains(s, "\n") {
		return s
	}
	var b strings.Builder
	for i, line := range strings.Split(s, "\n") {
		line = strings.Join(strings.Fields(line), " ")
		if line == "" {
			continue
		}
		for _, kw := range []string{"struct {", "interface {"} {
			if strings.HasSuffix(line, kw) {
				line = strings.TrimSuffix(line, " {") + "{"
			}
		}
		if i > 0 {
			out := b.String()
			if strings.HasSuffix(out, "{") || strings.HasPrefix(line, "}") {
				b.WriteString(" ")
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(line)
	}
	return b.String()
}

// strip returns e with the parameter and result names of every func type
// in it dropped, and struct tags removed. It copies what it changes and
// leaves e as it was.
func strip(e ast.Expr) ast.Expr {
	switch e := e.(type) {
	case *ast.FuncType:
		return &ast.FuncType{TypeParams: e.TypeParams, Params: unnamed(e.Params), Results: unnamed(e.Results)}
	case *ast.StarExpr:
		return &ast.StarExpr{X: strip(e.X)}
	case *ast.ArrayType:
		return &ast.ArrayType{Len: e.Len, Elt: strip(e.Elt)}
	case *ast.MapType:
		return &ast.MapType{Key: strip(e.Key), Value: strip(e.Value)}
	case *ast.ChanType:
		return &ast.ChanType{Dir: e.Dir, Value: strip(e.Value)}
	case *ast.Ellipsis:
		return &ast.Ellipsis{Elt: strip(e.Elt)}
	case *ast.ParenExpr:
		return &ast.ParenExpr{X: strip(e.X)}
	case *ast.IndexExpr:
		return &ast.IndexExpr{X: e.X, Index: strip(e.Index)}
	case *ast.IndexListExpr:
		indices := make([]ast.Expr, len(e.Indices))
		for i, x := range e.Indices {
			indices[i] = strip(x)
		}
		return &ast.IndexListExpr{X: e.X, Indices: indices}
	// The braces keep their positions, which the printer's file set does
	// not know: it then takes them for one line, and prints struct{} and
	// struct{ A int } as gofmt does.
	case *ast.StructType:
		fields := &ast.FieldList{Opening: e.Fields.Opening, Closing: e.Fields.Closing}
		for _, f := range e.Fields.List {
			fields.List = append(fields.List, &ast.Field{Names: f.Names, Type: strip(f.Type)})
		}
		return &ast.StructType{Struct: e.Struct, Fields: fields}
	case *ast.InterfaceType:
		methods := &ast.FieldList{Opening: e.Methods.Opening, Closing: e.Methods.Closing}
		for _, f := range e.Methods.List {
			methods.List = append(methods.List, &ast.Field{Names: f.Names, Type: strip(f.Type)})
		}
		return &ast.InterfaceType{Interface: e.Interface, Methods: methods}
	}
	return e
}

// unnamed returns a parameter list without names: "a, b int" becomes
// "int, int".
func unnamed(fl *ast.FieldList) *ast.FieldList {
	if fl == nil {
		return nil
	}
	out := &ast.FieldList{}
	for _, f := range fl.List {
		n := max(len(f.Names), 1)
		for range n {
			out.List = append(out.List, &ast.Field{Type: strip(f.Type)})
		}
	}
	return out
}

// baseName returns the name of the type a receiver or an embedded field
// names: "T" for T, *T, T[int], *pkg.T.
func baseName(e ast.Expr) string {
	for {
		switch t := e.(type) {
		case *ast.Ident:
			return t.Name
		case *ast.StarExpr:
			e = t.X
		case *ast.ParenExpr:
			e = t.X
		case *ast.SelectorExpr:
			return t.Sel.Name
		case *ast.IndexExpr:
			e = t.X
		case *ast.IndexListExpr:
			e = t.X
		default:
			return ""
		}
	}
}

// Diff returns what changes want into got, a line each: "-line" for a line
// only want has, "+line" for one only got has, in the order of the lines,
// a removed line before an added one. It is nil when both hold the same
// lines.
func Diff(want, got []string) []string {
	inWant := map[string]bool{}
	for _, l := range want {
		inWant[l] = true
	}
	inGot := map[string]bool{}
	for _, l := range got {
		inGot[l] = true
	}
	type change struct {
		line string
		sign byte
	}
	var changes []change
	for l := range inWant {
		if !inGot[l] {
			changes = append(changes, change{l, '-'})
		}
	}
	for l := range inGot {
		if !inWant[l] {
			changes = append(changes, change{l, '+'})
		}
	}
	sort.Slice(changes, func(i, j int) bool {
		if changes[i].line != changes[j].line {
			return changes[i].line < changes[j].line
		}
		return changes[i].sign == '-'
	})
	var out []string
	for _, c := range changes {
		out = append(out, string(c.sign)+c.line)
	}
	return out
}
