// Package query reads what Lambdascope stored: it assembles distributed
// traces into span trees joined with the platform's invocation records and
// lists invocations, for the lambdascope CLI and the Grafana plugin.
package query
