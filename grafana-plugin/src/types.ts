import type { DataQuery, DataSourceJsonData } from '@grafana/data';

/** The query types the backend answers (pkg/plugin QueryType*). */
export type QueryType = 'trace' | 'search' | 'invocations' | 'logs' | 'metrics' | 'serviceMap' | 'catalog' | 'cost';

/** How a cost query groups: a table per function or version, or a daily series. */
export type CostBy = 'function' | 'version' | 'day';

/** Trace status filter of a search. */
export type SpanStatus = '' | 'ok' | 'error' | 'unset';

/** One query as the backend decodes it (pkg/plugin QueryModel). */
export interface LambdascopeQuery extends DataQuery {
  queryType?: QueryType;
  traceId?: string;
  functionName?: string;
  requestId?: string;
  limit?: number;
  // search
  serviceName?: string;
  spanName?: string;
  status?: SpanStatus;
  minDurationMs?: number;
  maxDurationMs?: number;
  attributes?: Record<string, string>;
  coldStartOnly?: boolean;
  // metrics
  metrics?: string[];
  stepSeconds?: number;
  // logs
  text?: string;
  // cost
  costBy?: CostBy;
  // ad hoc filters of the dashboard, added by applyTemplateVariables
  adhocFilters?: AdhocFilter[];
}

/** One ad hoc filter as the backend decodes it (pkg/plugin AdhocFilter). */
export interface AdhocFilter {
  /** function, service or a span attribute key */
  key: string;
  operator: '=' | '!=';
  value: string;
}

/** jsonData of the datasource (pkg/plugin Settings). */
export interface LambdascopeOptions extends DataSourceJsonData {
  address?: string;
  database?: string;
  username?: string;
  tls?: boolean;
  tlsSkipVerify?: boolean;
  dialTimeoutSeconds?: number;
  timeZone?: string;
}

/** secureJsonData of the datasource. */
export interface LambdascopeSecureOptions {
  password?: string;
}
