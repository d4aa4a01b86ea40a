package pop3

import (
	"errors"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/language"
)

// A locale is a set of translations of the server's reply texts (RFC
// 6856 §3). Its texts map each English text, with every number in it
// written as "%d", to its translation; a text without a translation is
// sent in English.
type locale struct {
	tag   language.Tag
	name  string // the language's name in itself, for the LANG listing
	texts map[string]string
}

// english is the language a session starts in; it translates nothing.
var english = &locale{tag: language.English, name: "English"}

// languages are the languages LANG offers, English first.
var languages = []*locale{english, bulgarian}

var languageMatcher = func() language.Matcher {
	tags := make([]language.Tag, len(languages))
	for i, l := range languages {
		tags[i] = l.tag
	}
	return language.NewMatcher(tags)
}()

// Languages lists the BCP 47 tags of the languages the server's replies
// can be in (RFC 6856 §3), such as "en" and "bg".
func Languages() []string {
	tags := make([]string, len(languages))
	for i, l := range languages {
		tags[i] = l.tag.String()
	}
	return tags
}

// MatchLanguage returns the tag of the language that [Server.Language] or
// the LANG command chooses for a language range (RFC 4647), such as "bg"
// for "bg-BG"; ok is false when none of [Languages] matches.
func MatchLanguage(rangeTag string) (tag string, ok bool) {
	l, err := matchLanguage(rangeTag)
	if err != nil {
		return "", false
	}
	return l.tag.String(), true
}

// errNoLanguage refuses a language range that matches none of languages.
var errNoLanguage = errors.New("no such language")

// matchLanguage finds the language for a language range (RFC 4647 §2.1),
// such as "bg" or "bg-BG".
func matchLanguage(rangeTag string) (*locale, error) {
	tag, err := language.Parse(rangeTag)
	if err != nil || strings.Contains(rangeTag, "*") {
		return nil, errNoLanguage
	}
	_, i, conf := languageMatcher.Match(tag)
	// The matcher also pairs languages a reader of one may understand;
	// a reply must be in the very language asked for (RFC 4647 §3.3.1).
	want, _ := tag.Base()
	got, _ := languages[i].tag.Base()
	if conf < language.High || want != got && tag != language.Make("i-default") {
		return nil, errNoLanguage
	}
	return languages[i], nil
}

// defaultLanguage is the language "LANG *" selects: Server.Language.
func (srv *Server) defaultLanguage() *locale {
	if srv.Language == "" {
		return english
	}
	l, err := matchLanguage(srv.Language)
	if err != nil {
		return english // setup refused it already
	}
	return l
}

// cmdLang handles LANG (RFC 6856 §3): without an argument it lists the
// languages; with a language range it switches the human-readable text of
// every later reply, this one's included, to the language that matches.
// Response codes do not change.
func (s *session) cmdLang(args []string) error {
	if len(args) == 0 {
		lines := make([]string, len(languages))
		for i, l := range languages {
			lines[i] = l.tag.String() + " " + l.name
		}
		if err := s.replyOK("language listing follows"); err != nil {
			return err
		}
		return s.writeLines(lines)
	}
	l := s.srv.defaultLanguage()
	if args[0] != "*" {
		var err error
		if l, err = matchLanguage(args[0]); err != nil {
			return &Error{Text: "unsupported language: " + shorten(args[0], 40)}
		}
	}
	s.lang = l
	if l == english {
		s.lang = nil
	}
	// The tag goes before the text, untranslated (§3.2).
	return s.writeStatus("+OK", l.tag.String()+" "+s.translate("language changed"))
}

// translate returns text in the session's language. Texts are matched
// whole; then with their numbers as "%d"; then a text made of clauses
// ("a; b") or of a text and its detail ("text: detail") is translated part
// by part, the detail kept as it is when it has no translation of its own
// (it may come from a backend or the client).
func (s *session) translate(text string) string {
	if s.lang == nil || s.lang.texts == nil || text == "" {
		return text
	}
	t, ok := s.lang.lookup(text)
	if !ok && onMissingTranslation != nil {
		onMissingTranslation(s.lang.tag.String(), text)
	}
	return t
}

// onMissingTranslation, when set by a test, hears of every text a
// language had no translation for.
var onMissingTranslation func(tag, text string)

func (l *locale) lookup(text string) (string, bool) {
	if t, ok := l.texts[text]; ok {
		return t, true
	}
	if !strings.ContainsFunc(text, unicode.IsLetter) {
		return text, true // numbers alone are the same in every language
	}
	if tmpl, nums := numberTemplate(text); len(nums) > 0 {
		if t, ok := l.texts[tmpl]; ok {
			return fillNumbers(t, nums), true
		}
	}
	if a, b, ok := strings.Cut(text, "; "); ok {
		ta, okA := l.lookup(a)
		tb, okB := l.lookup(b)
		return ta + "; " + tb, okA && okB
	}
	if head, detail, ok := strings.Cut(text, ": "); ok {
		th, okH := l.lookup(head)
		if td, okD := l.lookup(detail); okD {
			detail = td
		}
		return th + ": " + detail, okH
	}
	return text, false
}

// numberTemplate replaces each run of digits in text with "%d" and returns
// the runs.
func numberTemplate(text string) (string, []string) {
	var b strings.Builder
	var nums []string
	for i := 0; i < len(text); {
		j := i
		for j < len(text) && '0' <= text[j] && text[j] <= '9' {
			j++
		}
		if j > i {
			nums = append(nums, text[i:j])
			b.WriteString("%d")
			i = j
			continue
		}
		b.WriteByte(text[i])
		i++
	}
	return b.String(), nums
}

// fillNumbers puts nums in place of the "%d"s of t, in order.
func fillNumbers(t string, nums []string) string {
	var b strings.Builder
	for _, n := range nums {
		before, after, ok := strings.Cut(t, "%d")
		if !ok {
			break
		}
		b.WriteString(before)
		b.WriteString(n)
		t = after
	}
	b.WriteString(t)
	return b.String()
}

// checkLanguage is setup's check of Server.Language.
func checkLanguage(tag string) error {
	if tag == "" {
		return nil
	}
	if _, err := matchLanguage(tag); err != nil {
		return errors.New("pop3: Server.Language " + strconv.Quote(tag) + " is none of " + strings.Join(Languages(), ", "))
	}
	return nil
}
