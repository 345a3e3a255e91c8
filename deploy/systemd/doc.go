// Package systemd holds the systemd units that run the Lambdascope collector
// and ClickHouse on a host, sandboxed; its tests parse them and check them
// with systemd-analyze verify and security (exposure at most 2.0).
package systemd
