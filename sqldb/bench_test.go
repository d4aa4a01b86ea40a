package sqldb_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkLookup is one login's lookup (password_query, then user_query)
// on each driver's real database, over loopback for pgsql and mysql.
func BenchmarkLookup(b *testing.B) {
	for _, name := range []string{"sqlite", "pgsql", "mysql"} {
		b.Run(name, func(b *testing.B) {
			tdb := drivers[name](b)
			tdb.exec(b, mailboxSchema)
			addUsers(b, tdb)
			db, _ := openDB(b, writeConfig(b, tdb, postfixAdminQueries(tdb)...))
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_, err := db.Lookup(ctx, "bob@example.org")
				require.NoError(b, err)
			}
		})
	}
}
