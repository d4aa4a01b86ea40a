package postgres

// Migrations is the number of migration steps, for the test that keeps
// SchemaVersion in step with them.
var Migrations = len(migrations)

// MigrateTo applies the migrations up to version target only, as an older
// release would have.
var MigrateTo = migrateTo
