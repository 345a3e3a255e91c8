-- Migration 15: the materialized views that later ones replaced stop
-- firing on every insert.
--
-- * trace_index_mv (migration 3): a trace's window is read from
--   trace_windows (migration 7), which copied trace_index's windows when it
--   was made. trace_index keeps the rows it has, for the reader's fallback
--   on traces stored before migration 7; it gets no new ones. Every span
--   cost about 4.6 bytes on disk in it.
-- * function_minutes (migration 4) and service_edges (migration 5), views
--   and tables: nothing reads them. function_figures (migration 8) and the
--   service map's tables (migration 10) replaced them, and they defined an
--   error and a callee differently (an empty status was an error; a callee
--   was any child span, not a call into another function).
DROP TABLE IF EXISTS {{.Database}}.trace_index_mv{{onCluster}};
DROP TABLE IF EXISTS {{.Database}}.function_minutes_mv{{onCluster}};
DROP TABLE IF EXISTS {{.Database}}.service_edges_mv{{onCluster}};
{{- if .Cluster}}
DROP TABLE IF EXISTS {{.Database}}.function_minutes{{onCluster}};
DROP TABLE IF EXISTS {{.Database}}.service_edges{{onCluster}};
{{- end}}
DROP TABLE IF EXISTS {{local "function_minutes"}}{{onCluster}};
DROP TABLE IF EXISTS {{local "service_edges"}}{{onCluster}};
