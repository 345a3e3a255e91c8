// Package dbmodel is the row model of Lambdascope's ClickHouse tables and the
// pure conversion from an Ingest API batch (function identity, invocation
// reports, OTLP spans and logs) into those rows. It knows no SQL and needs no
// server, so every mapping rule is unit-tested here.
package dbmodel
