import type { DataQuery, DataSourceJsonData } from '@grafana/data';

/** The query types the backend answers (pkg/plugin QueryType*). */
export type QueryType =
  | 'trace'
  | 'search'
  | 'invocations'
  | 'logs'
  | 'metrics'
  | 'serviceMap'
  | 'catalog'
  | 'cost'
  | 'traceCost'
  | 'spikes'
  | 'rightsize'
  /** Explore's histogram of a logs query (a supplementary query, not in the editor). */
  | 'logsVolume'
  | 'annotations'
  | 'completeness';

/** What an annotations query marks. */
export type AnnotationKind = 'errorSpikes' | 'coldStartStorms' | 'deployments';

/** How an error spikes query answers: verdicts now, or a verdict per step (alerting). */
export type SpikeFormat = 'table' | 'timeSeries';

/** Ad hoc filter operators the backend applies (pkg/plugin Op*). */
export type AdhocOperator = '=' | '!=' | '=~' | '!~';

/**
 * How a cost query groups: a table per function or version, a daily series,
 * what observability itself cost per function and day, or a table per tenant
 * (tenant isolation mode: cost, invocations, cold starts, errors).
 */
export type CostBy = 'function' | 'version' | 'day' | 'observability' | 'tenant';

/** Trace status filter of a search. */
export type SpanStatus = '' | 'ok' | 'error' | 'unset';

/** One query as the backend decodes it (pkg/plugin QueryModel). */
export interface LambdascopeQuery extends DataQuery {
  queryType?: QueryType;
  traceId?: string;
  /** trace: without a trace ID, the latest failed (else latest) trace of the range. */
  orLatest?: boolean;
  functionName?: string;
  requestId?: string;
  limit?: number;
  /** invocations: only this tenant (tenant isolation mode). */
  tenantId?: string;
  /** invocations: only events from this source (a queue's name, a route such as "POST /orders/{id}"). */
  triggerSource?: string;
  /** invocations: only those that count as errors (a failed status, or an HTTP status of 500 or more). */
  failedOnly?: boolean;
  /** invocations: only those whose error has this type, the platform's (Runtime.Unknown) or the function's (errorString, TypeError). */
  errorType?: string;
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
  /** annotations: what to mark, and the cold starts in a minute that make a storm (default 10). */
  annotation?: AnnotationKind;
  minColdStarts?: number;
  /** One point per function and metric over the whole range (alert rules on "the last N minutes"). */
  wholeRange?: boolean;
  // logs
  text?: string;
  // cost
  costBy?: CostBy;
  // error spikes
  format?: SpikeFormat;
  spikeSeries?: string[];
  windowMinutes?: number;
  baselineMinutes?: number;
  /** spikes: invocations a function needs to be judged; rightsize: to be advised on */
  minInvocations?: number;
  minErrors?: number;
  // ad hoc filters of the dashboard, added by applyTemplateVariables
  adhocFilters?: AdhocFilter[];
}

/** One ad hoc filter as the backend decodes it (pkg/plugin AdhocFilter). */
export interface AdhocFilter {
  /** function, service or a span attribute key */
  key: string;
  operator: AdhocOperator;
  value: string;
}

/** jsonData of the datasource (pkg/plugin Settings). */
export interface LambdascopeOptions extends DataSourceJsonData {
  address?: string;
  database?: string;
  username?: string;
  tls?: boolean;
  tlsSkipVerify?: boolean;
  tlsServerName?: string;
  dialTimeoutSeconds?: number;
  timeZone?: string;
  /** Prices costs are reported at, the JSON form of the CLI's --prices file; absent, AWS's us-east-1 list. */
  prices?: PriceFile;
}

/** CloudWatch Logs classes the observability cost can price log lines in. */
export type LogClass = 'standard' | 'infrequent_access';

/** One tier of a per-GB price (query GBTier); up_to_gb 0 on the last, unbounded tier. */
export interface GBTier {
  up_to_gb: number;
  price_per_gb: number;
}

/** A Managed Instances fleet whose instance cost is shared over its functions' invocations (query CapacityProvider). */
export interface CapacityProvider {
  name: string;
  region?: string;
  account_id?: string;
  instance_type: string;
  instances: number;
  functions: string[];
  hours_per_day?: number;
  from?: string;
  until?: string;
}

/** Provisioned concurrency configured on a function version or alias (query ProvisionedConcurrency). */
export interface ProvisionedConcurrency {
  function: string;
  qualifier?: string;
  account_id?: string;
  region?: string;
  architecture?: string;
  memory_mb: number;
  concurrency: number;
  hours_per_day?: number;
  from?: string;
  until?: string;
}

/** The observability section of a price file (query ObservabilityPriceFile). */
export interface ObservabilityPrices {
  effective_date?: string;
  cloudwatch_logs_class?: LogClass;
  transfer_out?: GBTier[];
  cloudwatch_logs_standard?: GBTier[];
  cloudwatch_logs_infrequent_access?: GBTier[];
}

/** The JSON form of a price file (query Prices): what it leaves out keeps AWS's us-east-1 defaults. */
export interface PriceFile {
  /** Price tables by region (query PriceTable), checked by the backend. */
  prices?: Array<Record<string, unknown>>;
  provisioned_concurrency?: ProvisionedConcurrency[];
  capacity_providers?: CapacityProvider[];
  /** A Compute Savings Plan: the fraction taken off compute and provisioned concurrency (0.12 for 12 %). */
  savings_plan?: { discount: number };
  observability?: ObservabilityPrices;
}

/** secureJsonData of the datasource. */
export interface LambdascopeSecureOptions {
  password?: string;
  /** PEM of the CA that signed ClickHouse's certificate */
  tlsCACert?: string;
}
