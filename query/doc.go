// Package query answers questions about stored telemetry: trace assembly
// and search, the service map, function figures and catalog, logs, cost
// reports with right-sizing advice, and error-spike detection with
// notification. The lambdascope CLI and the Grafana plugin stand on it.
package query
