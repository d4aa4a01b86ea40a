module github.com/gopop3/pop3/postgres

go 1.25.0

require github.com/gopop3/pop3 v0.0.0-00010101000000-000000000000

require (
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/pgx/v5 v5.12.0 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	golang.org/x/text v0.41.0 // indirect
)

// The store is built from this repository, beside the library.
replace github.com/gopop3/pop3 => ../
