import type { AdhocFilter, AdhocOperator, AnnotationKind, LambdascopeOptions, LambdascopeQuery, LogClass, PriceFile, QueryType } from './types';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10000;

export const queryTypeOptions: Array<{ label: string; value: QueryType; description: string }> = [
  { label: 'Trace', value: 'trace', description: 'One distributed trace by its ID (W3C or X-Ray form)' },
  { label: 'Search', value: 'search', description: 'Traces by function, service, span, status, duration, attributes' },
  { label: 'Invocations', value: 'invocations', description: 'Invocation records, newest first' },
  { label: 'Logs', value: 'logs', description: 'Log lines, linked to their traces' },
  { label: 'Metrics', value: 'metrics', description: 'Per-function figures over time (alerting)' },
  { label: 'Service map', value: 'serviceMap', description: 'Who calls whom' },
  { label: 'Functions', value: 'catalog', description: 'Every function seen, with callers and callees' },
  { label: 'Cost', value: 'cost', description: 'What the invocations cost, per function, version or day' },
  { label: 'Cost per trace', value: 'traceCost', description: 'What one trace cost per invocation, or the costliest traces' },
  { label: 'Error spikes', value: 'spikes', description: 'Error rate against its baseline, per function (alerting)' },
  { label: 'Right-sizing', value: 'rightsize', description: 'Memory configured against used, with the monthly saving' },
  {
    label: 'Completeness',
    value: 'completeness',
    description: 'Spans and log lines stored against what the extensions sent, per function and hour (alerting)',
  },
  {
    label: 'Annotations',
    value: 'annotations',
    description: 'Error spikes, cold-start storms or deployments, to mark on time series',
  },
];

/** What an annotations query can mark. */
export const annotationKinds: Array<{ label: string; value: AnnotationKind }> = [
  { label: 'Error spikes', value: 'errorSpikes' },
  { label: 'Cold-start storms', value: 'coldStartStorms' },
  { label: 'Deployments', value: 'deployments' },
];

/** Series an error spikes query in time series form can show (pkg/plugin/frames SpikeSeriesNames). */
export const spikeSeriesNames = ['errorRate', 'baselineRate', 'threshold', 'firing'];

/** Limits of the cost-per-trace list. */
export const DEFAULT_TRACE_COST_LIMIT = 20;
export const MAX_TRACE_COST_LIMIT = 100;

/** Figures a metrics query can show (pkg/plugin/frames Metrics). */
export const metricNames = [
  'invocations',
  'errors',
  'timeouts',
  'errorRate',
  'coldStarts',
  'coldStartRate',
  'initDuration',
  'durationP50',
  'durationP95',
  'durationP99',
  'concurrency',
  'maxMemoryUsed',
  'memoryConfigured',
];

/**
 * The query a new panel starts with. It holds no limit: each query type's
 * limit defaults in the backend (invocations 100, cost per trace 20), and a
 * limit written here would override them.
 */
export const defaultQuery: Partial<LambdascopeQuery> = { queryType: 'invocations' };

/**
 * withQueryType turns q into a query of another type. The limit is
 * dropped, since it means something else (and has other bounds) in each
 * type: the new type's own default applies.
 */
export function withQueryType(q: LambdascopeQuery, queryType: QueryType): LambdascopeQuery {
  if (q.queryType === queryType) {
    return q;
  }
  const { limit: _limit, ...rest } = q;
  return { ...rest, queryType };
}

const hexTraceId = /^[0-9a-fA-F]{32}$/;
const xrayTraceId = /^(Root=)?1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}(;.*)?$/;

/** isTraceId accepts what the backend's trace ID parser accepts. */
export function isTraceId(value: string): boolean {
  const v = value.trim();
  if (hexTraceId.test(v)) {
    return !/^0+$/.test(v);
  }
  return xrayTraceId.test(v);
}

/** queryProblem says what keeps a query from running, or undefined. */
export function queryProblem(q: LambdascopeQuery): string | undefined {
  switch (q.queryType ?? 'invocations') {
    case 'trace':
      if (!q.traceId?.trim()) {
        // orLatest shows the latest failed (else latest) trace of the range.
        return q.orLatest ? undefined : 'Enter a trace ID.';
      }
      if (!q.traceId.includes('$') && !isTraceId(q.traceId)) {
        return 'A trace ID is 32 hex digits or an X-Ray ID like 1-5759e988-bd862e3fe1be46a994272793.';
      }
      return undefined;
    case 'invocations':
    case 'logs':
      if (q.limit !== undefined && (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > MAX_LIMIT)) {
        return `The limit must be a whole number from 1 to ${MAX_LIMIT}.`;
      }
      if (q.traceId?.trim() && !q.traceId.includes('$') && !isTraceId(q.traceId)) {
        return 'The trace ID filter is not a trace ID.';
      }
      return undefined;
    case 'search':
      if ((q.minDurationMs ?? 0) < 0 || (q.maxDurationMs ?? 0) < 0) {
        return 'Durations must not be negative.';
      }
      if (q.maxDurationMs && q.minDurationMs && q.minDurationMs > q.maxDurationMs) {
        return 'The minimum duration is above the maximum.';
      }
      if (Object.keys(q.attributes ?? {}).some((k) => k.trim() === '')) {
        return 'Attribute names must not be empty.';
      }
      return undefined;
    case 'metrics': {
      const unknown = (q.metrics ?? []).filter((m) => !metricNames.includes(m));
      if (unknown.length > 0) {
        return `Unknown metric ${unknown.join(', ')}.`;
      }
      if (q.stepSeconds !== undefined && (!Number.isInteger(q.stepSeconds) || q.stepSeconds < 0)) {
        return 'The step must be a whole number of seconds.';
      }
      const percentiles = (q.metrics ?? []).filter((m) => m.startsWith('durationP'));
      if (q.wholeRange && percentiles.length > 0) {
        return `${percentiles.join(', ')} cannot be read over the whole range.`;
      }
      return undefined;
    }
    case 'cost':
      if (q.costBy !== undefined && !['function', 'version', 'day', 'observability', 'tenant'].includes(q.costBy)) {
        return 'Cost is grouped by function, version, day or tenant, or shows observability.';
      }
      return undefined;
    case 'traceCost':
      if (q.traceId?.trim()) {
        return !q.traceId.includes('$') && !isTraceId(q.traceId) ? 'The trace ID is not a trace ID.' : undefined;
      }
      if (q.limit !== undefined && (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > MAX_TRACE_COST_LIMIT)) {
        return `The limit must be a whole number from 1 to ${MAX_TRACE_COST_LIMIT}.`;
      }
      return undefined;
    case 'spikes': {
      if (q.format !== undefined && q.format !== 'table' && q.format !== 'timeSeries') {
        return 'Error spikes are shown as a table or a time series.';
      }
      const unknown = (q.spikeSeries ?? []).filter((m) => !spikeSeriesNames.includes(m));
      if (unknown.length > 0) {
        return `Unknown series ${unknown.join(', ')}.`;
      }
      for (const [key, label] of [
        ['windowMinutes', 'window'],
        ['baselineMinutes', 'baseline'],
        ['minInvocations', 'minimum of invocations'],
        ['minErrors', 'minimum of errors'],
      ] as const) {
        const v = q[key];
        if (v !== undefined && (!Number.isInteger(v) || v < 0)) {
          return `The ${label} must be a whole number.`;
        }
      }
      if (q.windowMinutes && q.baselineMinutes && q.baselineMinutes < q.windowMinutes) {
        return 'The baseline must be at least as long as the window.';
      }
      return undefined;
    }
    case 'rightsize':
      if (q.minInvocations !== undefined && (!Number.isInteger(q.minInvocations) || q.minInvocations < 0)) {
        return 'The minimum of invocations must be a whole number.';
      }
      return undefined;
    case 'completeness':
      if (q.format !== undefined && q.format !== 'table' && q.format !== 'timeSeries') {
        return 'Completeness is shown as a table or a time series.';
      }
      return undefined;
    case 'serviceMap':
    case 'catalog':
      return undefined;
    case 'annotations':
      if (!annotationKinds.some((k) => k.value === q.annotation)) {
        return 'Choose what to mark: error spikes, cold-start storms or deployments.';
      }
      if (q.minColdStarts !== undefined && (!Number.isInteger(q.minColdStarts) || q.minColdStarts < 1)) {
        return 'The cold starts of a storm are a whole number from 1.';
      }
      return undefined;
    default:
      return `Unknown query type ${String(q.queryType)}.`;
  }
}

/**
 * Replaces template variables in a text; format, when given, is one of
 * Grafana's variable formats ('json' renders a multi-value variable as a
 * JSON array).
 */
export type Replace = (text: string, format?: string) => string;

/** escapeRegExp quotes a value for a regular expression (RE2, as the backend uses). */
export function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * expandNames replaces variables in a function or service name. A
 * multi-value variable that expands to several names gives a regular
 * expression matching exactly those names, for an =~ ad hoc filter.
 */
export function expandNames(text: string, replace: Replace): { value: string } | { pattern: string } {
  if (!text.includes('$')) {
    return { value: text };
  }
  const asJson = replace(text, 'json');
  try {
    const parsed: unknown = JSON.parse(asJson);
    if (Array.isArray(parsed) && parsed.every((v) => typeof v === 'string')) {
      if (parsed.length === 1) {
        return { value: parsed[0] };
      }
      if (parsed.length > 1) {
        return { pattern: parsed.map(escapeRegExp).join('|') };
      }
    }
    if (typeof parsed === 'string') {
      return { value: parsed };
    }
  } catch {
    // Text around the variable: not one JSON value.
  }
  return { value: replace(text) };
}

/**
 * interpolate replaces template variables in every text field of a query.
 * A function or service variable with several values selected becomes an
 * =~ ad hoc filter on those names, which every query type applies.
 */
export function interpolate(q: LambdascopeQuery, replace: Replace): LambdascopeQuery {
  const out = { ...q };
  for (const key of ['traceId', 'requestId', 'tenantId', 'triggerSource', 'errorType', 'spanName', 'text'] as const) {
    const v = out[key];
    if (typeof v === 'string' && v !== '') {
      out[key] = replace(v);
    }
  }
  const names: Array<['functionName' | 'serviceName', string]> = [
    ['functionName', adhocKeyFunction],
    ['serviceName', adhocKeyService],
  ];
  for (const [field, key] of names) {
    const v = out[field];
    if (typeof v !== 'string' || v === '') {
      continue;
    }
    const got = expandNames(v, replace);
    if ('value' in got) {
      out[field] = got.value;
    } else {
      out[field] = '';
      out.adhocFilters = [...(out.adhocFilters ?? []), { key, operator: '=~', value: got.pattern }];
    }
  }
  if (out.attributes) {
    out.attributes = Object.fromEntries(Object.entries(out.attributes).map(([k, v]) => [replace(k), replace(v)]));
  }
  return out;
}

/** Ad hoc filter keys that are not span attributes (pkg/plugin AdhocKey*). */
export const adhocKeyFunction = 'function';
export const adhocKeyService = 'service';

const adhocOperators: AdhocOperator[] = ['=', '!=', '=~', '!~'];

/**
 * adhocFilters turns Grafana's ad hoc filters into the backend's: =, !=,
 * =~ and !~ with a key are kept, values have template variables replaced.
 */
export function adhocFilters(
  filters: Array<{ key: string; operator: string; value: string }> | undefined,
  replace: (text: string) => string
): AdhocFilter[] {
  const out: AdhocFilter[] = [];
  for (const f of filters ?? []) {
    const op = adhocOperators.find((o) => o === f.operator);
    if (f.key.trim() === '' || op === undefined) {
      continue;
    }
    out.push({ key: f.key.trim(), operator: op, value: replace(f.value) });
  }
  return out;
}

/** What a query variable lists (metricFindQuery); anything unknown lists the functions. */
export type VariableList = 'metrics' | 'services' | 'functions' | 'versions' | 'accounts' | 'regions' | 'tenants';

const variableLists: VariableList[] = ['metrics', 'services', 'functions', 'versions', 'accounts', 'regions', 'tenants'];

/** variableList reads the list a query variable's text names (its first word). */
export function variableList(query: string): VariableList {
  const word = query.trim().split(/\s+/)[0].toLowerCase() as VariableList;
  return variableLists.includes(word) ? word : 'functions';
}

/** The keys a query variable filters its list by: `versions function=$function`. */
export const variableFilterKeys = ['function', 'service', 'account', 'region'] as const;
export type VariableFilters = Partial<Record<(typeof variableFilterKeys)[number], string[]>>;

/**
 * variableFilters reads the key=value words after the list's name (values
 * comma separated, as a multi-value variable interpolates in csv form); an
 * empty value (All) filters nothing.
 */
export function variableFilters(query: string): VariableFilters {
  const out: VariableFilters = {};
  for (const word of query.trim().split(/\s+/).slice(1)) {
    const i = word.indexOf('=');
    const key = word.slice(0, i) as (typeof variableFilterKeys)[number];
    const values = word
      .slice(i + 1)
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== '' && v !== '$__all');
    if (i > 0 && variableFilterKeys.includes(key) && values.length > 0) {
      out[key] = values;
    }
  }
  return out;
}

/** One function of one account and region, from the datasource's catalog resource. */
export interface CatalogEntry {
  function: string;
  service: string;
  account: string;
  region: string;
  versions: string[];
}

/**
 * catalogValues lists, sorted and once each, the functions, services,
 * versions, accounts or regions of the catalog entries the filters keep,
 * so that one variable narrows the next (versions of the chosen function,
 * functions of the chosen account and region).
 */
export function catalogValues(entries: CatalogEntry[], list: VariableList, filters: VariableFilters): string[] {
  const keep = (e: CatalogEntry) =>
    (!filters.function || filters.function.includes(e.function)) &&
    (!filters.service || filters.service.includes(e.service)) &&
    (!filters.account || filters.account.includes(e.account)) &&
    (!filters.region || filters.region.includes(e.region));
  const values = new Set<string>();
  for (const e of entries.filter(keep)) {
    const add = (v: string) => v !== '' && values.add(v);
    switch (list) {
      case 'versions':
        e.versions.forEach(add);
        break;
      case 'accounts':
        add(e.account);
        break;
      case 'regions':
        add(e.region);
        break;
      case 'services':
        add(e.service);
        break;
      default:
        add(e.function);
    }
  }
  return [...values].sort();
}

/** tagKeys lists the ad hoc filter keys: function, service, then the span attribute keys. */
export function tagKeys(attributeKeys: string[]): string[] {
  const keys = [adhocKeyFunction, adhocKeyService];
  for (const k of attributeKeys) {
    if (!keys.includes(k)) {
      keys.push(k);
    }
  }
  return keys;
}

const addressPattern = /^[^\s/?#@]+:\d{1,5}$/;
const databasePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** settingsProblems mirrors the backend's settings validation for the config editor. */
export function settingsProblems(o: LambdascopeOptions): string[] {
  const problems: string[] = [];
  const addresses = (o.address ?? '').split(',').map((a) => a.trim()).filter((a) => a !== '');
  if (addresses.length === 0) {
    problems.push('Address must be set (host:port of ClickHouse’s native protocol).');
  }
  for (const a of addresses) {
    const port = Number(a.slice(a.lastIndexOf(':') + 1));
    if (!addressPattern.test(a) || port < 1 || port > 65535) {
      problems.push(`Address ${a} must look like host:port.`);
    }
  }
  if (o.database && !databasePattern.test(o.database)) {
    problems.push('Database must be letters, digits and underscores, not starting with a digit.');
  }
  if (o.tlsSkipVerify && !o.tls) {
    problems.push('Skipping TLS verification needs TLS to be on.');
  }
  const serverName = o.tlsServerName?.trim() ?? '';
  if (serverName !== '' && !o.tls) {
    problems.push('A TLS server name needs TLS to be on.');
  }
  if (/[/?#@:,\s]/.test(serverName)) {
    problems.push('The TLS server name must be a host name.');
  }
  if (o.timeZone && !isTimeZone(o.timeZone)) {
    problems.push(`Time zone ${o.timeZone} is not an IANA time zone like Europe/Berlin.`);
  }
  if (o.prices !== undefined) {
    problems.push(...pricesProblems(o.prices));
  }
  return problems;
}

/**
 * The keys of a price file and of its sections, as the backend decodes
 * them (query Prices, ObservabilityPriceFile, CapacityProvider,
 * ProvisionedConcurrency); it refuses any other.
 */
export const priceKeys = {
  file: ['prices', 'provisioned_concurrency', 'capacity_providers', 'savings_plan', 'observability'],
  observability: ['effective_date', 'cloudwatch_logs_class', 'transfer_out', 'cloudwatch_logs_standard', 'cloudwatch_logs_infrequent_access'],
  capacityProvider: ['name', 'region', 'account_id', 'instance_type', 'instances', 'functions', 'hours_per_day', 'from', 'until'],
  provisioned: ['function', 'qualifier', 'account_id', 'region', 'architecture', 'memory_mb', 'concurrency', 'hours_per_day', 'from', 'until'],
};
const { file: priceFileKeys, observability: observabilityKeys, capacityProvider: capacityProviderKeys, provisioned: provisionedKeys } = priceKeys;

/** CloudWatch Logs classes the observability cost can price log lines in (query LogClass*). */
export const logClasses: Array<{ label: string; value: LogClass; description: string }> = [
  { label: 'Standard', value: 'standard', description: 'The class Lambda log groups get unless created otherwise' },
  { label: 'Infrequent Access', value: 'infrequent_access', description: 'CloudWatch Logs Infrequent Access ingestion prices' },
];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function unknownKeys(where: string, v: Record<string, unknown>, known: string[]): string[] {
  return Object.keys(v)
    .filter((k) => !known.includes(k))
    .map((k) => `Prices: ${where}${k} is not a key the backend knows.`);
}

/**
 * pricesProblems mirrors what the backend checks of jsonData.prices
 * (query.ParsePricesJSON) with the keys users set here: sections and their
 * keys, the log class, the Savings Plan's discount, capacity providers and
 * provisioned concurrency. Price tables are checked by the backend (the
 * health check names what is wrong).
 */
export function pricesProblems(p: unknown): string[] {
  if (!isObject(p)) {
    return ['Prices must be a JSON object like {"observability": {"cloudwatch_logs_class": "infrequent_access"}}.'];
  }
  const problems = unknownKeys('', p, priceFileKeys);
  if (p.prices !== undefined && !Array.isArray(p.prices)) {
    problems.push('Prices: prices must be a list of price tables.');
  }
  if (p.savings_plan !== undefined) {
    const d = isObject(p.savings_plan) ? p.savings_plan.discount : undefined;
    if (typeof d !== 'number' || d < 0 || d >= 1) {
      problems.push('Prices: savings_plan.discount must be a fraction at least 0 and below 1 (0.12 for 12 %).');
    }
  }
  if (p.observability !== undefined) {
    if (!isObject(p.observability)) {
      problems.push('Prices: observability must be an object.');
    } else {
      const o = p.observability;
      problems.push(...unknownKeys('observability.', o, observabilityKeys));
      if (o.cloudwatch_logs_class !== undefined && !logClasses.some((c) => c.value === o.cloudwatch_logs_class)) {
        problems.push('Prices: observability.cloudwatch_logs_class must be standard or infrequent_access.');
      }
      for (const key of ['transfer_out', 'cloudwatch_logs_standard', 'cloudwatch_logs_infrequent_access']) {
        problems.push(...tierProblems(`observability.${key}`, o[key]));
      }
    }
  }
  problems.push(
    ...listProblems(p.capacity_providers, 'capacity_providers', capacityProviderKeys, (c) => [
      typeof c.name === 'string' && c.name !== '' ? undefined : 'name must be set',
      typeof c.instance_type === 'string' && c.instance_type !== '' ? undefined : 'instance_type must be set',
      typeof c.instances === 'number' && c.instances > 0 ? undefined : 'instances must be positive',
      Array.isArray(c.functions) && c.functions.length > 0 && c.functions.every((f) => typeof f === 'string')
        ? undefined
        : 'functions must list at least one function',
      hoursProblem(c.hours_per_day),
    ])
  );
  problems.push(
    ...listProblems(p.provisioned_concurrency, 'provisioned_concurrency', provisionedKeys, (c) => [
      typeof c.function === 'string' && c.function !== '' ? undefined : 'function must be set',
      typeof c.memory_mb === 'number' && c.memory_mb >= 128 && c.memory_mb <= 10240 ? undefined : 'memory_mb must be between 128 and 10240',
      typeof c.concurrency === 'number' && Number.isInteger(c.concurrency) && c.concurrency > 0 ? undefined : 'concurrency must be positive',
      hoursProblem(c.hours_per_day),
    ])
  );
  return problems;
}

function hoursProblem(h: unknown): string | undefined {
  return h === undefined || (typeof h === 'number' && h >= 0 && h <= 24) ? undefined : 'hours_per_day must be between 0 and 24';
}

function listProblems(
  list: unknown,
  key: string,
  known: string[],
  check: (e: Record<string, unknown>) => Array<string | undefined>
): string[] {
  if (list === undefined) {
    return [];
  }
  if (!Array.isArray(list)) {
    return [`Prices: ${key} must be a list.`];
  }
  const problems: string[] = [];
  list.forEach((e, i) => {
    if (!isObject(e)) {
      problems.push(`Prices: ${key}[${i}] must be an object.`);
      return;
    }
    problems.push(...unknownKeys(`${key}[${i}].`, e, known));
    for (const p of check(e)) {
      if (p) {
        problems.push(`Prices: ${key}[${i}].${p}.`);
      }
    }
  });
  return problems;
}

function tierProblems(key: string, tiers: unknown): string[] {
  if (tiers === undefined) {
    return [];
  }
  if (!Array.isArray(tiers)) {
    return [`Prices: ${key} must be a list of tiers.`];
  }
  const problems: string[] = [];
  let prev = 0;
  tiers.forEach((t, i) => {
    const last = i === tiers.length - 1;
    if (!isObject(t) || typeof t.up_to_gb !== 'number' || typeof t.price_per_gb !== 'number') {
      problems.push(`Prices: ${key}[${i}] must hold up_to_gb and price_per_gb.`);
      return;
    }
    if (t.price_per_gb < 0) {
      problems.push(`Prices: ${key}[${i}].price_per_gb must not be negative.`);
    } else if (!last && t.up_to_gb <= prev) {
      problems.push(`Prices: ${key}[${i}].up_to_gb must grow.`);
    } else if (last && t.up_to_gb !== 0) {
      problems.push(`Prices: ${key}[${i}].up_to_gb must be 0 (unbounded) on the last tier.`);
    }
    prev = t.up_to_gb;
  });
  return problems;
}

/** The prices without empty sections; undefined when nothing is left (AWS's us-east-1 list applies). */
function tidyPrices(p: PriceFile): PriceFile | undefined {
  const out: PriceFile = { ...p };
  if (out.observability && Object.keys(out.observability).length === 0) {
    delete out.observability;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** withLogClass sets the CloudWatch Logs class the observability cost compares with; standard is the default and is not written. */
export function withLogClass(p: PriceFile | undefined, logClass: LogClass): PriceFile | undefined {
  const { cloudwatch_logs_class: _old, ...observability } = p?.observability ?? {};
  return tidyPrices({
    ...p,
    observability: logClass === 'standard' ? observability : { ...observability, cloudwatch_logs_class: logClass },
  });
}

/** withSavingsPlan sets a Compute Savings Plan's discount, in percent; undefined removes it. */
export function withSavingsPlan(p: PriceFile | undefined, percent: number | undefined): PriceFile | undefined {
  const { savings_plan: _old, ...rest } = p ?? {};
  return tidyPrices(percent === undefined ? rest : { ...rest, savings_plan: { discount: percent / 100 } });
}

/** formatPrices is the prices as the config editor's JSON field shows them. */
export function formatPrices(p: PriceFile | undefined): string {
  return p === undefined ? '' : JSON.stringify(p, null, 2);
}

/**
 * parsePrices reads the config editor's JSON field: an empty field is no
 * prices (AWS's us-east-1 list), otherwise a JSON object, or the reason
 * it is not one.
 */
export function parsePrices(text: string): { prices: PriceFile | undefined } | { problem: string } {
  if (text.trim() === '') {
    return { prices: undefined };
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { problem: `Prices are not JSON: ${e instanceof Error ? e.message : String(e)}.` };
  }
  if (!isObject(v)) {
    return { problem: 'Prices must be a JSON object.' };
  }
  return { prices: v as PriceFile };
}

/** isTimeZone reports whether the runtime knows zone as an IANA time zone. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** parseAttributes reads "key=value, key2=value2" into a map; a pair without "=" keeps an empty value. */
export function parseAttributes(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(',')) {
    if (pair.trim() === '') {
      continue;
    }
    const i = pair.indexOf('=');
    const key = (i < 0 ? pair : pair.slice(0, i)).trim();
    out[key] = i < 0 ? '' : pair.slice(i + 1).trim();
  }
  return out;
}

/** formatAttributes is the inverse of parseAttributes. */
export function formatAttributes(attrs: Record<string, string> | undefined): string {
  return Object.entries(attrs ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** A filter from a log line's details in Explore: keep (FILTER_FOR) or drop (FILTER_OUT) lines with key = value. */
export interface LogFilterAction {
  type: 'FILTER_FOR' | 'FILTER_OUT';
  /** Grafana's KeyValue: the label's key and value under "key" and "value". */
  options: Record<string, string>;
}

/**
 * toggleLogFilter applies a filter from log details to a logs query: a
 * function or service label becomes an ad hoc filter (= or !=), a request
 * ID the query's request ID (only kept, since the backend cannot leave one
 * invocation out). A filter already there is removed; its opposite is
 * replaced. Other labels cannot be filtered on: the query is unchanged.
 */
export function toggleLogFilter(q: LambdascopeQuery, action: LogFilterAction): LambdascopeQuery {
  const key = action.options.key ?? '';
  const value = action.options.value ?? '';
  if (key === 'requestId') {
    if (action.type === 'FILTER_OUT') {
      return q;
    }
    return { ...q, requestId: q.requestId === value ? undefined : value };
  }
  if (key !== adhocKeyFunction && key !== adhocKeyService) {
    return q;
  }
  const operator: AdhocOperator = action.type === 'FILTER_FOR' ? '=' : '!=';
  const filters = q.adhocFilters ?? [];
  const present = filters.some((f) => f.key === key && f.value === value && f.operator === operator);
  const rest = filters.filter((f) => !(f.key === key && f.value === value && (f.operator === '=' || f.operator === '!=')));
  return { ...q, adhocFilters: present ? rest : [...rest, { key, operator, value }] };
}

/** hasLogFilter says whether a logs query keeps only lines with key = value. */
export function hasLogFilter(q: LambdascopeQuery, filter: Record<string, string>): boolean {
  const { key, value } = filter;
  if (key === 'requestId') {
    return value !== undefined && q.requestId === value;
  }
  return (q.adhocFilters ?? []).some((f) => f.key === key && f.value === value && f.operator === '=');
}

/** How far log context looks from a line, at most. */
export const LOG_CONTEXT_WINDOW_MS = 15 * 60 * 1000;

/**
 * logContextQuery is the query for the lines around one line: the other
 * lines of its invocation (its requestId label) before it (BACKWARD) or
 * after it (FORWARD), within LOG_CONTEXT_WINDOW_MS. A line without an
 * invocation has no context: undefined.
 */
export function logContextQuery(
  row: { labels: Record<string, string>; timeEpochMs: number },
  direction: 'BACKWARD' | 'FORWARD',
  limit = 50,
  refId = 'log-context'
): { query: LambdascopeQuery; fromMs: number; toMs: number } | undefined {
  const requestId = row.labels.requestId;
  if (!requestId) {
    return undefined;
  }
  const query: LambdascopeQuery = { refId, queryType: 'logs', requestId, limit: Math.min(Math.max(1, limit), MAX_LIMIT) };
  // The backend's range starts inclusive and ends exclusive; the line
  // itself is left out of the lines after it.
  return direction === 'BACKWARD'
    ? { query, fromMs: row.timeEpochMs - LOG_CONTEXT_WINDOW_MS, toMs: row.timeEpochMs }
    : { query, fromMs: row.timeEpochMs + 1, toMs: row.timeEpochMs + LOG_CONTEXT_WINDOW_MS };
}

/** queryDisplayText is how a query reads in Explore's query history. */
export function queryDisplayText(q: LambdascopeQuery): string {
  const type = queryTypeOptions.find((o) => o.value === (q.queryType ?? 'invocations'))?.label ?? String(q.queryType);
  const parts: string[] = [];
  const add = (label: string, v: string | number | boolean | undefined) => {
    if (v !== undefined && v !== '' && v !== false) {
      parts.push(v === true ? label : `${label}: ${v}`);
    }
  };
  add('trace', q.traceId?.trim());
  add('latest', q.queryType === 'trace' && !q.traceId?.trim() && q.orLatest);
  add('function', q.functionName?.trim());
  add('service', q.serviceName?.trim());
  add('span', q.spanName?.trim());
  add('request', q.requestId?.trim());
  add('tenant', q.tenantId?.trim());
  add('source', q.triggerSource?.trim());
  add('failed only', q.queryType === 'invocations' && q.failedOnly);
  add('error type', q.errorType?.trim());
  add('text', q.text ? `"${q.text}"` : undefined);
  add('metrics', q.metrics?.join(', '));
  add('status', q.status);
  add('cold starts only', q.coldStartOnly);
  add('whole range', q.wholeRange);
  add('by', q.queryType === 'cost' ? q.costBy : undefined);
  add('as', q.queryType === 'spikes' || q.queryType === 'completeness' ? q.format : undefined);
  add('limit', q.limit);
  for (const f of q.adhocFilters ?? []) {
    parts.push(`${f.key} ${f.operator} ${f.value}`);
  }
  return parts.length > 0 ? `${type}: ${parts.join(', ')}` : type;
}

/**
 * logsVolumeQuery is the histogram query Explore runs beside a logs query
 * (its lines per step and level), undefined for other queries.
 */
export function logsVolumeQuery(q: LambdascopeQuery): LambdascopeQuery | undefined {
  if (q.queryType !== 'logs' || q.hide) {
    return undefined;
  }
  const { limit: _limit, ...rest } = q;
  return { ...rest, refId: `log-volume-${q.refId}`, queryType: 'logsVolume' };
}
