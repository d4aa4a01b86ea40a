package pop3

import "golang.org/x/text/language"

// bulgarian translates the server's replies into Bulgarian.
//
// Its keys are the English reply texts with every number that varies
// written as "%d", which the translation holds in the same order; digits
// that are part of a word (POP3, UTF-8, base64) stay as they are, since a
// text is first looked up whole. Texts composed of clauses ("a; b") or of
// a head and a detail ("head: detail") need only their parts here: see
// (*locale).lookup. Protocol words (command names, POP3, TLS, SASL, UTF-8)
// stay in Latin.
//
// lang_internal_test.go scans the package for every text a reply can carry
// and checks that each has an entry here, and that each entry is used.
var bulgarian = &locale{tag: language.Bulgarian, name: "Български", texts: map[string]string{
	// session.go, login.go, update.go: greeting, login, panics, UPDATE.
	"POP3 server ready":                          "POP3 сървърът е готов",
	"login failed, try again later":              "входът не успя, опитайте отново по-късно",
	"too many failed logins, closing connection": "твърде много неуспешни опити за вход, връзката се затваря",
	"internal error":                             "вътрешна грешка",
	"some deleted messages not removed":          "някои изтрити съобщения не бяха премахнати",
	"bye, %d messages left":                      "довиждане, остават %d съобщения",
	"bye, %d message left":                       "довиждане, остава %d съобщение",

	// errors.go: the sentinel errors for backends.
	"authentication failed":                      "неуспешно удостоверяване",
	"maildrop already locked by another session": "пощенската кутия вече е заключена от друга сесия",
	"login too soon after the previous one":      "твърде скоро след предишния вход",

	// reply.go: bad commands and backend failures (userFacingError's ops).
	"too many bad commands, closing connection": "твърде много грешни команди, връзката се затваря",
	"open failed, try again later":              "отварянето не успя, опитайте отново по-късно",
	"read failed, try again later":              "четенето не успя, опитайте отново по-късно",

	// commands.go: parsing a command.
	"control character in command":                 "управляващ знак в командата",
	"unknown command":                              "непозната команда",
	"command not valid in the AUTHORIZATION state": "командата не е валидна в състояние AUTHORIZATION",
	"command not valid in the TRANSACTION state":   "командата не е валидна в състояние TRANSACTION",
	"missing argument":                             "липсва аргумент",
	"too many arguments":                           "твърде много аргументи",

	// list.go, retr.go, dele.go, update.go: the commands (RFC 1939, RFC 1460 LAST).
	"bye":                                  "довиждане",
	"%d messages (%d octets)":              "%d съобщения (%d октета)",
	"maildrop has %d messages (%d octets)": "пощенската кутия съдържа %d съобщения (%d октета)",
	"%d message (%d octets)":               "%d съобщение (%d октета)",
	"maildrop has %d message (%d octets)":  "пощенската кутия съдържа %d съобщение (%d октета)",
	"unique-id listing follows":            "следва списъкът с уникални идентификатори",
	"%d octets":                            "%d октета",
	"invalid line count":                   "невалиден брой редове",
	"top of message follows":               "следва началото на съобщението",
	"message %d deleted":                   "съобщение %d е изтрито",

	// maildrop.go: message numbers.
	"invalid message number":               "невалиден номер на съобщение",
	"no such message, only %d in maildrop": "няма такова съобщение, в пощенската кутия има само %d",
	"message %d already deleted":           "съобщение %d вече е изтрито",

	// session.go: reading commands.
	"line too long":                "твърде дълъг ред",
	"server shutting down":         "сървърът спира работа",
	"authentication took too long": "удостоверяването продължи твърде дълго",
	"disconnected for inactivity":  "връзката е прекъсната поради неактивност",

	// server.go: a refused connection. Written before any session, so
	// never translated today.
	"too many connections": "твърде много връзки",

	// login.go, apop.go, auth.go: USER/PASS, APOP, AUTH (RFC 5034).
	"send PASS":             "изпратете PASS",
	"PASS must follow USER": "PASS трябва да следва USER",
	"TLS is required for cleartext login: use STLS or the TLS port": "за вход с некриптирана парола е нужен TLS: използвайте STLS или TLS порта",
	"APOP not supported":              "APOP не се поддържа",
	"SASL mechanisms follow":          "следват механизмите на SASL",
	"unsupported SASL mechanism":      "неподдържан механизъм на SASL",
	"authentication cancelled":        "удостоверяването е отменено",
	"SASL response too long":          "твърде дълъг отговор на SASL",
	"invalid base64 in SASL response": "невалиден base64 в отговора на SASL",

	// logindelay.go: LOGIN-DELAY (RFC 2449 §8.1.2).
	"login too soon after the previous one, try again in %d seconds": "твърде скоро след предишния вход, опитайте отново след %d секунди",

	// capa.go, lang.go: CAPA and LANG (RFC 2449, RFC 6856 §3).
	"capability list follows":  "следва списъкът с възможности",
	"language listing follows": "следва списъкът с езици",
	"language changed":         "езикът е сменен",
	"unsupported language":     "неподдържан език",

	// stls.go: STLS (RFC 2595).
	"STLS not allowed after UTF8": "командата STLS не е разрешена след UTF8",
	"TLS already active":          "TLS вече е активен",
	"STLS not available":          "командата STLS не е налична",
	"begin TLS negotiation":       "започнете договаряне на TLS",

	// utf8.go: UTF8 (RFC 6856 §2) and UTF-8 credentials.
	"UTF-8 mode enabled":                            "режимът UTF-8 е включен",
	"this message can only be read in UTF-8 mode":   "това съобщение може да бъде прочетено само в режим UTF-8",
	"user name is not valid UTF-8":                  "потребителското име не е валиден UTF-8",
	"user name has characters that are not allowed": "потребителското име съдържа непозволени знаци",
	"password is not valid UTF-8":                   "паролата не е валиден UTF-8",
	"password has characters that are not allowed":  "паролата съдържа непозволени знаци",

	// downgrading.go: a message that cannot be downgraded (RFC 6856 §5).
}}
