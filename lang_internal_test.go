package pop3

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBulgarianCatalogComplete checks that every reply text the package
// can write has a Bulgarian translation: a new reply text needs an entry in
// lang_bg.go.
func TestBulgarianCatalogComplete(t *testing.T) {
	texts := scanReplyTexts(t)
	// The scan must see through the ways replies are built: literals,
	// numbers appended to bytes, functions of the package, call sites.
	for _, want := range []string{
		"unknown command",
		"command not valid in the AUTHORIZATION state",
		"command not valid in the TRANSACTION state",
		"invalid message number: " + detail,
		"no such message, only %d in maildrop",
		"maildrop has %d messages (%d octets)",
		"%d messages (%d octets)",
		"message %d deleted",
		"bye, %d messages left",
		"open failed, try again later",
		"read failed, try again later",
		detail + "; too many failed logins, closing connection",
		"login too soon after the previous one, try again in %d seconds",
		"language changed",
		"POP3 server ready",
	} {
		require.Contains(t, texts, want, "the scan of the package's reply texts missed one")
	}

	withDetail := localeWithDetail(bulgarian)
	var missing, changed []string
	for tmpl, where := range texts {
		if tmpl == "" {
			continue // NOOP's "+OK"; translate leaves "" alone
		}
		if !hasWords(tmpl) {
			// Numbers, and text the server does not choose (a unique-id, a
			// language tag): sent as they are.
			text := sampleText(tmpl, "abc")
			got, ok := bulgarian.lookup(text)
			if got != text {
				changed = append(changed, fmt.Sprintf("%q became %q (%s)", text, got, strings.Join(where, ", ")))
			}
			if !ok && !strings.Contains(tmpl, detail) {
				// Numbers only: an identity entry, so that they are not
				// reported as missing.
				missing = append(missing, fmt.Sprintf("%q (%s)", showTemplate(tmpl), strings.Join(where, ", ")))
			}
			continue
		}
		if _, ok := withDetail.lookup(sampleText(tmpl, detailWord)); !ok {
			missing = append(missing, fmt.Sprintf("%q (%s)", showTemplate(tmpl), strings.Join(where, ", ")))
		}
	}
	slices.Sort(missing)
	slices.Sort(changed)
	assert.Empty(t, missing, "reply texts without a Bulgarian translation; add them to lang_bg.go "+
		"(numbers as %%d, %s for text from a client or backend):\n%s", showTemplate(detail), strings.Join(missing, "\n"))
	assert.Empty(t, changed, "texts of numbers and foreign text must be sent as they are:\n%s", strings.Join(changed, "\n"))

	for k, v := range bulgarian.texts {
		assert.Equal(t, strings.Count(k, "%d"), strings.Count(v, "%d"), "the %%d of %q and of its translation %q", k, v)
		assert.True(t, utf8.ValidString(v) && v != "" && !strings.ContainsAny(v, "\r\n"), "translation of %q: %q", k, v)
	}
}

// unusedBulgarian are entries that no scanned reply text needs.
var unusedBulgarian = map[string]string{
	// Server.refuse writes it straight to a connection it refuses, before
	// any session and so before LANG: kept for when refusals can be
	// translated (Server.Language).
	"too many connections": "server.go refuse",
}

// TestBulgarianEntriesUsed catches stale entries: each entry of lang_bg.go
// must change how some scanned reply text is translated.
func TestBulgarianEntriesUsed(t *testing.T) {
	texts := scanReplyTexts(t)
	var samples []string
	for tmpl := range texts {
		samples = append(samples, sampleText(tmpl, detailWord))
	}
	withDetail := localeWithDetail(bulgarian)
	var unused []string
	for key := range bulgarian.texts {
		without := &locale{texts: maps.Clone(withDetail.texts)}
		delete(without.texts, key)
		used := slices.ContainsFunc(samples, func(text string) bool {
			t1, ok1 := withDetail.lookup(text)
			t2, ok2 := without.lookup(text)
			return t1 != t2 || ok1 != ok2
		})
		if _, allowed := unusedBulgarian[key]; !used && !allowed {
			unused = append(unused, strconv.Quote(key))
		}
	}
	slices.Sort(unused)
	assert.Empty(t, unused, "entries of lang_bg.go that no reply text uses; remove them, or list them in unusedBulgarian:\n%s",
		strings.Join(unused, "\n"))
	for key := range unusedBulgarian {
		assert.Contains(t, bulgarian.texts, key, "unusedBulgarian lists a text lang_bg.go does not have")
	}
}

// TestTranslateKeepsNumbersAndDetails checks lookup on composed texts:
// numbers and details from a client or backend come through unchanged.
func TestTranslateKeepsNumbersAndDetails(t *testing.T) {
	for _, tc := range []struct {
		text, want string
		ok         bool
	}{
		{"no such message, only 3 in maildrop", "няма такова съобщение, в пощенската кутия има само 3", true},
		{"maildrop has 2 messages (320 octets)", "пощенската кутия съдържа 2 съобщения (320 октета)", true},
		{"message 12 already deleted", "съобщение 12 вече е изтрито", true},
		{"login too soon after the previous one, try again in 30 seconds",
			"твърде скоро след предишния вход, опитайте отново след 30 секунди", true},
		{"invalid message number: abc12", "невалиден номер на съобщение: abc12", true},
		{"unsupported language: tlh", "неподдържан език: tlh", true},
		{"authentication failed; too many failed logins, closing connection",
			"неуспешно удостоверяване; твърде много неуспешни опити за вход, връзката се затваря", true},
		{"unknown command; too many bad commands, closing connection",
			"непозната команда; твърде много грешни команди, връзката се затваря", true},
		{"some deleted messages not removed: disk full", "някои изтрити съобщения не бяха премахнати: disk full", true},
		// A fixed number in a word is not a number to fill.
		{"user name is not valid UTF-8", "потребителското име не е валиден UTF-8", true},
		{"POP3 server ready", "POP3 сървърът е готов", true},
		// Numbers alone are the same in every language.
		{"2 320", "2 320", true},
		{"17", "17", true},
		// A unique-id is sent as it is, as is a backend's own text.
		{"1 whqtswO00WBw418f9t5JxYwZ", "1 whqtswO00WBw418f9t5JxYwZ", false},
		{"mailbox storage offline", "mailbox storage offline", false},
		{"mailbox storage offline; too many failed logins, closing connection",
			"mailbox storage offline; твърде много неуспешни опити за вход, връзката се затваря", false},
	} {
		t.Run(tc.text, func(t *testing.T) {
			got, ok := bulgarian.lookup(tc.text)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.ok, ok)
		})
	}
}

// detail stands, in a scanned template, for text the server does not
// choose: from a client, a backend or the configuration.
const detail = "\x00"

// detailWord is what detail becomes in a text looked up in
// localeWithDetail: a text that has a translation, as a whole reply text
// from elsewhere in a clause of its own would have.
const detailWord = "DETAIL"

func localeWithDetail(l *locale) *locale {
	texts := maps.Clone(l.texts)
	texts[detailWord] = detailWord
	return &locale{tag: l.tag, texts: texts}
}

// sampleText makes a text the server could send from a template: each %d
// a number, each detail d.
func sampleText(tmpl, d string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tmpl, "%d", "7"), detail, d)
}

func showTemplate(tmpl string) string { return strings.ReplaceAll(tmpl, detail, "<detail>") }

// hasWords reports whether a template has text of its own to translate.
func hasWords(tmpl string) bool {
	return strings.ContainsFunc(strings.ReplaceAll(tmpl, "%d", ""), unicode.IsLetter)
}

// scanReplyTexts parses the package's non-test files and returns every
// reply text they can write, as templates (numbers as %d, text the server
// does not choose as detail), each with where it is written.
//
// It collects the text arguments of reply, replyOK, replyf, replyOKBytes
// and translate, syntaxError conversions, and the Text of Error literals.
// To evaluate them it follows string concatenation, append and
// strconv.Append* on bytes, strconv.Itoa and FormatInt (numbers),
// fmt.Sprintf (%d a number, any other verb a detail), local variables,
// the package's constants, a parameter through every call site of its
// function, a function of straight-line code by inlining it, and a
// function whose every return is a literal (state.String) as each of
// them. Anything else is a detail.
func scanReplyTexts(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	r := &replyScan{
		fset:     token.NewFileSet(),
		funcs:    map[string][]*ast.FuncDecl{},
		calls:    map[string][]callSite{},
		values:   map[string]ast.Expr{},
		imports:  map[string]bool{},
		visiting: map[string]bool{},
		texts:    map[string][]string{},
	}
	var parsed []*ast.File
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(r.fset, name, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		parsed = append(parsed, f)
		r.index(f)
	}
	require.NotEmpty(t, parsed)
	for _, f := range parsed {
		for _, d := range f.Decls {
			fd, _ := d.(*ast.FuncDecl)
			ast.Inspect(d, func(n ast.Node) bool { r.collect(n, fd); return true })
		}
	}
	return r.texts
}

type replyScan struct {
	fset     *token.FileSet
	funcs    map[string][]*ast.FuncDecl // functions and methods by name
	calls    map[string][]callSite      // calls of the package's functions and methods, by name
	values   map[string]ast.Expr        // package-level constants and variables
	imports  map[string]bool            // names of imported packages
	visiting map[string]bool            // what is being evaluated, against cycles
	texts    map[string][]string        // the templates found, with where
}

type callSite struct {
	call *ast.CallExpr
	fn   *ast.FuncDecl // the function the call is in
}

// scope is where an expression is evaluated: in fn, or in the inlined
// body of fn with its variables in env.
type scope struct {
	fn  *ast.FuncDecl
	env map[string][]string
}

func (r *replyScan) index(f *ast.File) {
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		name := path[strings.LastIndex(path, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		r.imports[name] = true
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			r.funcs[d.Name.Name] = append(r.funcs[d.Name.Name], d)
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				if vs, ok := spec.(*ast.ValueSpec); ok && len(vs.Values) == len(vs.Names) {
					for i, n := range vs.Names {
						r.values[n.Name] = vs.Values[i]
					}
				}
			}
		}
	}
	for _, d := range f.Decls {
		fd, _ := d.(*ast.FuncDecl)
		ast.Inspect(d, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if name := r.calledName(call); name != "" {
					r.calls[name] = append(r.calls[name], callSite{call, fd})
				}
			}
			return true
		})
	}
}

// calledName is the name of the function or method of the package that
// call calls, or "" when it calls another package's.
func (r *replyScan) calledName(call *ast.CallExpr) string {
	switch fun := call.Fun.(type) {
	case *ast.Ident:
		return fun.Name
	case *ast.SelectorExpr:
		if x, ok := fun.X.(*ast.Ident); ok && r.imports[x.Name] {
			return ""
		}
		return fun.Sel.Name
	}
	return ""
}

// collect records the reply texts that n writes.
func (r *replyScan) collect(n ast.Node, fn *ast.FuncDecl) {
	sc := scope{fn: fn}
	switch n := n.(type) {
	case *ast.CallExpr:
		var arg ast.Expr
		switch name := r.calledName(n); {
		case name == "replyOK" || name == "replyOKBytes" || name == "translate" || name == "syntaxError":
			if len(n.Args) == 1 {
				arg = n.Args[0]
			}
			// replyOK(fmt.Sprintf(format, ...)): the format's templates.
			if call, ok := arg.(*ast.CallExpr); ok && r.calledName(call) == "" && len(call.Args) >= 1 {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Sprintf" {
					r.record(n, formatTemplates(r.eval(call.Args[0], sc)))
					return
				}
			}
		}
		if arg != nil && !forwards(fn, arg) {
			r.record(n, r.eval(arg, sc))
		}
	case *ast.CompositeLit:
		if id, ok := n.Type.(*ast.Ident); !ok || id.Name != "Error" {
			return
		}
		for i, elt := range n.Elts {
			switch elt := elt.(type) {
			case *ast.KeyValueExpr:
				if key, ok := elt.Key.(*ast.Ident); ok && key.Name == "Text" {
					r.record(n, r.eval(elt.Value, sc))
				}
			default:
				if i == 1 { // Error{code, text}
					r.record(n, r.eval(elt, sc))
				}
			}
		}
	}
}

// forwards reports whether arg, in fn, is a text fn was given to write
// (replyOK's call of translate, replyOKBytes's of replyOK): its values are
// found at the calls of fn.
func forwards(fn *ast.FuncDecl, arg ast.Expr) bool {
	if fn == nil || !slices.Contains([]string{"replyOK", "replyOKBytes", "translate"}, fn.Name.Name) {
		return false
	}
	if call, ok := arg.(*ast.CallExpr); ok && len(call.Args) == 1 {
		if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "string" {
			arg = call.Args[0]
		}
	}
	id, ok := arg.(*ast.Ident)
	return ok && paramIndex(fn, id.Name) >= 0
}

func (r *replyScan) record(at ast.Node, tmpls []string) {
	pos := r.fset.Position(at.Pos())
	where := filepath.Base(pos.Filename) + ":" + strconv.Itoa(pos.Line)
	for _, tmpl := range tmpls {
		if !slices.Contains(r.texts[tmpl], where) {
			r.texts[tmpl] = append(r.texts[tmpl], where)
		}
	}
}

var unknown = []string{detail}

// eval returns the templates e can be.
func (r *replyScan) eval(e ast.Expr, sc scope) []string {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING || e.Kind == token.CHAR {
			if s, err := strconv.Unquote(e.Value); err == nil {
				return []string{s}
			}
		}
	case *ast.ParenExpr:
		return r.eval(e.X, sc)
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			return concat(r.eval(e.X, sc), r.eval(e.Y, sc))
		}
	case *ast.Ident:
		return r.ident(e.Name, sc)
	case *ast.SliceExpr:
		if high, ok := e.High.(*ast.BasicLit); ok && high.Value == "0" {
			return []string{""} // buf[:0]
		}
	case *ast.CallExpr:
		return r.call(e, sc)
	}
	return unknown
}

func (r *replyScan) ident(name string, sc scope) []string {
	if v, ok := sc.env[name]; ok {
		return v
	}
	if sc.env == nil && sc.fn != nil {
		key := fmt.Sprintf("var %p %s", sc.fn, name)
		if r.visiting[key] {
			return unknown
		}
		r.visiting[key] = true
		defer delete(r.visiting, key)
		if i := paramIndex(sc.fn, name); i >= 0 {
			return r.callers(sc.fn, i)
		}
		var vals []string
		found := false
		ast.Inspect(sc.fn.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				// x += y is left out: only the greeting's timestamp is
				// added that way.
				if n.Tok != token.ASSIGN && n.Tok != token.DEFINE {
					return true
				}
				for i, lhs := range n.Lhs {
					if id, ok := lhs.(*ast.Ident); ok && id.Name == name {
						found = true
						if len(n.Rhs) == len(n.Lhs) {
							vals = append(vals, r.eval(n.Rhs[i], sc)...)
						} else {
							vals = append(vals, detail)
						}
					}
				}
			case *ast.ValueSpec:
				for i, id := range n.Names {
					if id.Name == name {
						found = true
						if len(n.Values) == len(n.Names) {
							vals = append(vals, r.eval(n.Values[i], sc)...)
						} else {
							vals = append(vals, detail)
						}
					}
				}
			}
			return true
		})
		if found {
			return dedup(vals)
		}
	}
	if v, ok := r.values[name]; ok {
		key := "value " + name
		if r.visiting[key] {
			return unknown
		}
		r.visiting[key] = true
		defer delete(r.visiting, key)
		return r.eval(v, scope{})
	}
	return unknown
}

// callers evaluates parameter i of fn at every call of fn.
func (r *replyScan) callers(fn *ast.FuncDecl, i int) []string {
	var vals []string
	for _, site := range r.calls[fn.Name.Name] {
		if i < len(site.call.Args) && site.call.Ellipsis == token.NoPos {
			vals = append(vals, r.eval(site.call.Args[i], scope{fn: site.fn})...)
		}
	}
	if vals == nil {
		return unknown
	}
	return dedup(vals)
}

func (r *replyScan) call(e *ast.CallExpr, sc scope) []string {
	switch fun := e.Fun.(type) {
	case *ast.ArrayType: // []byte(s)
		if len(e.Args) == 1 {
			return r.eval(e.Args[0], sc)
		}
	case *ast.Ident:
		switch fun.Name {
		case "append":
			vals := r.eval(e.Args[0], sc)
			for _, a := range e.Args[1:] {
				vals = concat(vals, r.eval(a, sc))
			}
			return vals
		case "string", "syntaxError":
			if len(e.Args) == 1 {
				return r.eval(e.Args[0], sc)
			}
		}
		return r.callFunc(r.funcs[fun.Name], e, sc)
	case *ast.SelectorExpr:
		if x, ok := fun.X.(*ast.Ident); ok && r.imports[x.Name] {
			switch x.Name + "." + fun.Sel.Name {
			case "strconv.Itoa", "strconv.FormatInt", "strconv.FormatUint":
				return []string{"%d"}
			case "strconv.AppendInt", "strconv.AppendUint":
				return concat(r.eval(e.Args[0], sc), []string{"%d"})
			case "fmt.Sprintf":
				return formatTemplates(r.eval(e.Args[0], sc))
			}
			return unknown
		}
		if fun.Sel.Name == "translate" {
			return unknown // translated already; its argument is collected
		}
		return r.callFunc(r.method(fun, sc), e, sc)
	}
	return unknown
}

// method finds the method x.m of the package called in sc, when x is a
// receiver or parameter of a known type.
func (r *replyScan) method(sel *ast.SelectorExpr, sc scope) []*ast.FuncDecl {
	x, ok := sel.X.(*ast.Ident)
	if !ok || sc.fn == nil {
		return nil
	}
	typ := ""
	for _, fl := range []*ast.FieldList{sc.fn.Recv, sc.fn.Type.Params} {
		if fl == nil {
			continue
		}
		for _, f := range fl.List {
			for _, n := range f.Names {
				if n.Name == x.Name {
					typ = typeName(f.Type)
				}
			}
		}
	}
	var found []*ast.FuncDecl
	for _, fd := range r.funcs[sel.Sel.Name] {
		if typ != "" && fd.Recv != nil && typeName(fd.Recv.List[0].Type) == typ {
			found = append(found, fd)
		}
	}
	return found
}

// callFunc evaluates a call of the package's function decls[0]: inlined
// when its body is straight-line, or as each of its returns when they are
// all literals.
func (r *replyScan) callFunc(decls []*ast.FuncDecl, call *ast.CallExpr, sc scope) []string {
	if len(decls) != 1 || decls[0].Body == nil {
		return unknown
	}
	fd := decls[0]
	key := fmt.Sprintf("func %p", fd)
	if r.visiting[key] {
		return unknown
	}
	r.visiting[key] = true
	defer delete(r.visiting, key)

	if straightLine(fd.Body) && call.Ellipsis == token.NoPos {
		env := map[string][]string{}
		i := 0
		for _, f := range fd.Type.Params.List {
			for _, n := range f.Names {
				if i < len(call.Args) {
					env[n.Name] = r.eval(call.Args[i], sc)
				}
				i++
			}
		}
		inner := scope{fn: fd, env: env}
		for _, st := range fd.Body.List {
			switch st := st.(type) {
			case *ast.AssignStmt:
				env[st.Lhs[0].(*ast.Ident).Name] = r.eval(st.Rhs[0], inner)
			case *ast.ReturnStmt:
				return r.eval(st.Results[0], inner)
			}
		}
		return unknown
	}
	var vals []string
	literal := true
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.ReturnStmt:
			if len(n.Results) != 1 {
				literal = false
				return false
			}
			lit, ok := n.Results[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				literal = false
				return false
			}
			s, _ := strconv.Unquote(lit.Value)
			vals = append(vals, s)
		}
		return true
	})
	if !literal || vals == nil {
		return unknown
	}
	return dedup(vals)
}

// straightLine reports whether body is assignments to one variable each,
// then a return of one value.
func straightLine(body *ast.BlockStmt) bool {
	n := len(body.List)
	if n == 0 {
		return false
	}
	if ret, ok := body.List[n-1].(*ast.ReturnStmt); !ok || len(ret.Results) != 1 {
		return false
	}
	for _, st := range body.List[:n-1] {
		as, ok := st.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 || (as.Tok != token.ASSIGN && as.Tok != token.DEFINE) {
			return false
		}
		if _, ok := as.Lhs[0].(*ast.Ident); !ok {
			return false
		}
	}
	return true
}

func paramIndex(fn *ast.FuncDecl, name string) int {
	i := 0
	for _, f := range fn.Type.Params.List {
		for _, n := range f.Names {
			if n.Name == name {
				return i
			}
			i++
		}
	}
	return -1
}

func typeName(e ast.Expr) string {
	if star, ok := e.(*ast.StarExpr); ok {
		e = star.X
	}
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// formatTemplates turns fmt formats into templates: %d stays, any other
// verb is a detail.
func formatTemplates(formats []string) []string {
	out := make([]string, 0, len(formats))
	for _, f := range formats {
		var b strings.Builder
		for i := 0; i < len(f); i++ {
			if f[i] != '%' || i+1 == len(f) {
				b.WriteByte(f[i])
				continue
			}
			i++
			for i < len(f) && strings.IndexByte("+-# 0123456789.", f[i]) >= 0 {
				i++
			}
			switch {
			case i == len(f):
			case f[i] == '%':
				b.WriteByte('%')
			case f[i] == 'd':
				b.WriteString("%d")
			default:
				b.WriteString(detail)
			}
		}
		out = append(out, b.String())
	}
	return out
}

// concat is every a followed by every b, details run together.
func concat(a, b []string) []string {
	var out []string
	for _, x := range a {
		for _, y := range b {
			s := x + y
			for strings.Contains(s, detail+detail) {
				s = strings.ReplaceAll(s, detail+detail, detail)
			}
			out = append(out, s)
		}
	}
	return dedup(out)
}

func dedup(v []string) []string {
	slices.Sort(v)
	return slices.Compact(v)
}
