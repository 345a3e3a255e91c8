// Package plugin is Lambdascope's Grafana backend datasource: it reads the
// settings Grafana stores for a datasource instance, checks that ClickHouse
// holds a usable Lambdascope schema, and answers Grafana's queries (trace by
// ID, trace search, invocations, logs, function metrics, service map,
// function catalog, cost) through the query package, shaped into frames by
// package frames. It also feeds the query editor's pickers.
package plugin
