package ldapdb

import (
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/gopop3/pop3/internal/dovecotconf"
)

// attrMap is a pass_attrs or user_attrs list: which LDAP attribute gives
// which Dovecot field, as "ldapAttr=field", "ldapAttr=field=template"
// (with %$ for the attribute's value) or "=field=template" (always set,
// with %{ldap:attr} for other attributes).
type attrMap struct {
	items []attrItem
}

type attrItem struct {
	attr  string // "" for "=field=template"
	field string
	tpl   *dovecotconf.Template // nil: the attribute's value as it is
}

// parseAttrs reads a comma-separated attribute list.
func parseAttrs(s string) (*attrMap, error) {
	m := &attrMap{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		attr, rest, hasField := strings.Cut(item, "=")
		attr = strings.TrimSpace(attr)
		it := attrItem{attr: attr, field: attr}
		if hasField {
			field, tpl, hasTpl := strings.Cut(rest, "=")
			it.field = strings.TrimSpace(field)
			if hasTpl {
				t, err := dovecotconf.ParseTemplate(tpl, true)
				if err != nil {
					return nil, fmt.Errorf("%q: %v", item, err)
				}
				it.tpl = t
			} else if attr == "" {
				return nil, fmt.Errorf("%q: a field without an attribute needs a value (=field=value)", item)
			}
		}
		if it.field == "" {
			return nil, fmt.Errorf("%q: no field name", item)
		}
		m.items = append(m.items, it)
	}
	return m, nil
}

// appendNew appends to a the names of b that a lacks, compared without
// case as LDAP compares attribute names.
func appendNew(a, b []string) []string {
	for _, name := range b {
		if !slices.ContainsFunc(a, func(x string) bool { return strings.EqualFold(x, name) }) {
			a = append(a, name)
		}
	}
	return a
}

// has reports whether a field is mapped.
func (m *attrMap) has(field string) bool {
	return slices.ContainsFunc(m.items, func(it attrItem) bool { return it.field == field })
}

// attributes are the LDAP attributes to ask for.
func (m *attrMap) attributes() []string {
	var out []string
	add := func(a string) {
		if a != "" && !slices.ContainsFunc(out, func(b string) bool { return strings.EqualFold(a, b) }) {
			out = append(out, a)
		}
	}
	for _, it := range m.items {
		add(it.attr)
		if it.tpl != nil {
			for _, p := range it.tpl.Parts {
				if p.Var != nil {
					if a, ok := strings.CutPrefix(p.Var.Name, "ldap:"); ok {
						add(a)
					}
				}
			}
		}
	}
	return out
}

// field is one Dovecot field found.
type field struct{ name, value string }

// apply returns the fields of an entry. An attribute the entry lacks
// sets no field; an attribute with several values gives the first.
func (m *attrMap) apply(e *ldap.Entry, vals *dovecotconf.Values) []field {
	var out []field
	lookup := func(attr string) (string, bool) {
		v := e.GetEqualFoldAttributeValues(attr)
		if len(v) == 0 {
			return "", false
		}
		return v[0], true
	}
	for _, it := range m.items {
		var value string
		if it.attr != "" {
			v, ok := lookup(it.attr)
			if !ok {
				continue
			}
			value = v
		}
		if it.tpl != nil {
			scoped := *vals
			scoped.Attr, scoped.LDAP = value, lookup
			value = it.tpl.Expand(&scoped, nil)
		}
		out = append(out, field{it.field, value})
	}
	return out
}
