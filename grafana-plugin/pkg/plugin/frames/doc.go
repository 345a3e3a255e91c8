// Package frames shapes what the query package returns into the data
// frames Grafana renders natively: the trace view, tables with links to
// traces. It is the only place that knows Grafana's field names.
package frames
