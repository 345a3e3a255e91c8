// Package querybench measures the reads users wait for on a large,
// demo-shaped data set with cold caches: a trace by ID never read before,
// the 30-day cost report and a search over a day, each after ClickHouse's
// mark and uncompressed caches and the operating system's page cache are
// dropped; and one trace of 100,000 spans assembled and framed for
// Grafana, with its peak heap. The data is generated inside ClickHouse
// once per run (INSERT ... SELECT over numbers(), with progress shown),
// shaped like the demo's spans and feeding every table a span feeds. The
// measurements are Go benchmarks, so they run only with -bench; run.sh
// runs them and prints the table docs/benchmarks.md records.
package querybench
