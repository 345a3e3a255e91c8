// Package systemd holds the systemd units that run the Lambdascope collector
// and ClickHouse on a host; its test checks them with systemd-analyze when
// the machine has it, and parses them otherwise.
package systemd
