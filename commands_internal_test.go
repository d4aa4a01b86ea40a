package pop3

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		line string
		st   state
		name string
		args []string
		err  string
	}{
		{"STAT", stateTransaction, "STAT", nil, ""},
		{"stat", stateTransaction, "STAT", nil, ""},
		{"LIST 1", stateTransaction, "LIST", []string{"1"}, ""},
		{"LIST  1 ", stateTransaction, "LIST", []string{"1"}, ""},
		{"TOP 1 10", stateTransaction, "TOP", []string{"1", "10"}, ""},
		{"PASS  a b ", stateAuthorization, "PASS", []string{" a b "}, ""},
		{"USER alice", stateAuthorization, "USER", []string{"alice"}, ""},
		{"AUTH", stateAuthorization, "AUTH", nil, ""},
		{"AUTH PLAIN =", stateAuthorization, "AUTH", []string{"PLAIN", "="}, ""},
		{"LIST 1 2", stateTransaction, "LIST", nil, "too many arguments"},
		{"RETR", stateTransaction, "RETR", nil, "missing argument"},
		{"PASS", stateAuthorization, "PASS", nil, "missing argument"},
		{"STAT", stateAuthorization, "STAT", nil, "command not valid in the AUTHORIZATION state"},
		{"USER a", stateTransaction, "USER", nil, "command not valid in the TRANSACTION state"},
		{"STATS", stateTransaction, "", nil, "unknown command"},
		{"", stateTransaction, "", nil, "unknown command"},
		{" STAT", stateTransaction, "", nil, "unknown command"},
	} {
		name, cmd, args, err := parseCommand([]byte(tc.line), tc.st, allExtensionSet, nil)
		assert.Equal(t, tc.name, name, tc.line)
		if tc.err != "" {
			assert.EqualError(t, err, tc.err, tc.line)
			assert.Nil(t, cmd, tc.line)
			continue
		}
		require.NoError(t, err, tc.line)
		assert.Equal(t, tc.args, args, tc.line)
	}
}

// FuzzParseCommand: any line parses without panic; an accepted command is
// in the table, allowed in the state, and within its argument bounds; the
// rest-of-line argument is the line's rest, byte for byte.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"STAT", "list 1", "TOP 1 0", "PASS a b c", "AUTH PLAIN =", "UIDL  2 ", "RETR 99999999999999999999", "\x00\xff", "USER", "UTF8", "lang bg-BG", "LANG"} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, line []byte, transaction bool) {
		st := stateAuthorization
		if transaction {
			st = stateTransaction
		}
		name, cmd, args, err := parseCommand(line, st, allExtensionSet, nil)
		if err != nil {
			var se syntaxError
			require.ErrorAs(t, err, &se)
			require.Nil(t, cmd)
			return
		}
		require.Same(t, commands[name], cmd)
		require.NotZero(t, cmd.states&st)
		require.True(t, bytes.EqualFold(line[:len(name)], []byte(name)))
		require.GreaterOrEqual(t, len(args), cmd.minArgs)
		require.LessOrEqual(t, len(args), cmd.maxArgs)
		if cmd.restArg {
			require.Equal(t, string(line[len(name)+1:]), args[0])
			return
		}
		for _, a := range args {
			require.NotEmpty(t, a)
			require.NotContains(t, a, " ")
		}
	})
}
