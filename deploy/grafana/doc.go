// Package grafana holds Lambdascope's Grafana provisioning: the datasource,
// the dashboards and the file that loads them. It has no code; its test
// checks that the dashboards only ask the datasource for what it answers.
package grafana
