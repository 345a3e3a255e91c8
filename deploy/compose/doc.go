// Package compose holds the compose file that runs ClickHouse, the
// Lambdascope collector and Grafana with the plugin provisioned; its test
// checks the file and the sample collector configuration.
package compose
