package pop3

import "golang.org/x/text/language"

// bulgarian translates the server's replies into Bulgarian.
var bulgarian = &locale{tag: language.Bulgarian, name: "Български", texts: map[string]string{
	"language changed": "езикът е сменен",
}}
