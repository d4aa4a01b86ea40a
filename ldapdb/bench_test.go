package ldapdb_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkLookup is one login's directory work against a real slapd on
// loopback: with hashes, one search (pass and user attributes together);
// with auth_bind, the search and a bind as the user.
func BenchmarkLookup(b *testing.B) {
	s := directory(b)
	for name, extra := range map[string][]string{
		"hashes":    nil,
		"auth_bind": {"auth_bind = yes"},
	} {
		b.Run(name, func(b *testing.B) {
			db, _ := open(b, writeConfig(b, serviceConfig(s, extra...)...))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				e, err := db.Lookup(ctx, "alice")
				require.NoError(b, err)
				if e.DN != "" {
					require.NoError(b, db.Authenticate(ctx, e, []byte("alice-pw")))
				}
			}
		})
	}
}
