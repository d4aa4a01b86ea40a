package pop3

import (
	"fmt"
	"strings"
)

// Extension names an extension that [Server.Disable] removes: a CAPA tag
// (RFC 2449 §6), or CAPA itself.
type Extension string

// The extensions that can be disabled, and what removing each does.
const (
	// ExtCAPA removes the CAPA command (RFC 2449 §5): a client then sees
	// a server of RFC 1939 alone, and finds no other extension by asking.
	ExtCAPA Extension = "CAPA"
	// ExtTOP removes the TOP command (RFC 1939 §7).
	ExtTOP Extension = "TOP"
	// ExtUIDL removes the UIDL command (RFC 1939 §7).
	ExtUIDL Extension = "UIDL"
	// ExtUSER removes the USER and PASS commands (RFC 1939 §7).
	ExtUSER Extension = "USER"
	// ExtSASL removes the AUTH command (RFC 5034).
	ExtSASL Extension = "SASL"
	// ExtSTLS removes the STLS command (RFC 2595).
	ExtSTLS Extension = "STLS"
	// ExtPipelining removes PIPELINING (RFC 2449 §6.6): the replies to
	// commands sent together are then written one by one, each as soon
	// as it is ready, instead of in one batch.
	ExtPipelining Extension = "PIPELINING"
	// ExtRespCodes removes RESP-CODES (RFC 2449 §8): no reply carries a
	// response code in brackets, and AUTH-RESP-CODE goes with it.
	ExtRespCodes Extension = "RESP-CODES"
	// ExtAuthRespCode removes AUTH-RESP-CODE (RFC 3206 §5): a refused
	// login is answered without the [AUTH] code.
	ExtAuthRespCode Extension = "AUTH-RESP-CODE"
	// ExtAPOP removes APOP (RFC 1939 §7): the greeting carries no
	// timestamp and the command is unknown.
	ExtAPOP Extension = "APOP"
	// ExtLAST removes the LAST command (RFC 1460).
	ExtLAST Extension = "LAST"
	// ExtUTF8 removes UTF8 (RFC 6856 §2): the UTF8 command, the checks
	// and normalisation of UTF-8 user names and passwords, and the
	// downgrading of internationalized messages, which are then sent as
	// they are stored.
	ExtUTF8 Extension = "UTF8"
	// ExtLANG removes the LANG command (RFC 6856 §3): every reply is in
	// English.
	ExtLANG Extension = "LANG"
)

// allExtensions lists the extensions in the order of their bits.
var allExtensions = [...]Extension{ExtCAPA, ExtTOP, ExtUIDL, ExtUSER, ExtSASL, ExtSTLS,
	ExtPipelining, ExtRespCodes, ExtAuthRespCode, ExtAPOP, ExtLAST, ExtUTF8, ExtLANG}

// extensionSet is the set of extensions a server has, kept as the bits
// of those it lacks, one each in the order of allExtensions, so that its
// zero value has them all.
type extensionSet uint32

// allExtensionSet has every extension.
const allExtensionSet extensionSet = 0

func (e Extension) bit() extensionSet {
	for i, x := range allExtensions {
		if x == e {
			return 1 << i
		}
	}
	return 0
}

// has reports whether x is in the set.
func (set extensionSet) has(x Extension) bool { return set&x.bit() == 0 }

// ParseExtensions parses a comma-separated list of extension names, in
// any case, as pop3d's -disable flag takes it.
func ParseExtensions(list string) ([]Extension, error) {
	var exts []Extension
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		x, _, err := lookupExtension(name)
		if err != nil {
			return nil, fmt.Errorf("pop3: %w", err)
		}
		exts = append(exts, x)
	}
	return exts, nil
}

// lookupExtension finds an extension by its name, in any case, and
// returns it with its bit.
func lookupExtension(name string) (Extension, extensionSet, error) {
	x := Extension(strings.ToUpper(name))
	if b := x.bit(); b != 0 {
		return x, b, nil
	}
	return "", 0, fmt.Errorf("unknown extension %q (known: %s)", name, extensionNames())
}

func extensionNames() string {
	names := make([]string, len(allExtensions))
	for i, x := range allExtensions {
		names[i] = string(x)
	}
	return strings.Join(names, ", ")
}

// enabledExtensions is every extension but those disabled; an unknown
// name is an error.
func enabledExtensions(disable []Extension) (extensionSet, error) {
	set := allExtensionSet
	for _, x := range disable {
		_, b, err := lookupExtension(string(x))
		if err != nil {
			return 0, fmt.Errorf("pop3: Server.Disable: %w", err)
		}
		set |= b
	}
	if !set.has(ExtRespCodes) {
		set |= ExtAuthRespCode.bit()
	}
	return set, nil
}
