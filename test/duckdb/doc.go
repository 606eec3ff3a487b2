// Package duckdb holds the test that the archive can be queried in place
// by an existing engine (DuckDB), as README's "Querying the archive in
// place" says. It is a module of its own so that DuckDB (cgo, a C++
// library) never enters the logship binary or the main module's go.sum:
// the main module's `go test ./...` does not descend here, and .ci/run
// runs `cd test/duckdb && go test ./...`.
package duckdb
