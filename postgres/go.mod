module github.com/gopop3/pop3/postgres

go 1.25.0

require github.com/gopop3/pop3 v0.0.0-00010101000000-000000000000

// The store is built from this repository, beside the library.
replace github.com/gopop3/pop3 => ../
