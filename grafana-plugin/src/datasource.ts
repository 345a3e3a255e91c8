import {
  CoreApp,
  dateTime,
  LogRowContextQueryDirection,
  SupplementaryQueryType,
  type AdHocVariableFilter,
  type DataQueryRequest,
  type DataQueryResponse,
  type DataSourceGetTagKeysOptions,
  type DataSourceGetTagValuesOptions,
  type DataSourceInstanceSettings,
  type DataSourceWithLogsContextSupport,
  type DataSourceWithSupplementaryQueriesSupport,
  type SupplementaryQueryOptions,
  type DataSourceWithToggleableQueryFiltersSupport,
  type LogRowContextOptions,
  type LogRowModel,
  type MetricFindValue,
  type QueryFilterOptions,
  type ScopedVars,
  type TimeRange,
  type ToggleFilterAction,
} from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
import { lastValueFrom } from 'rxjs';

import {
  adhocFilters,
  adhocKeyFunction,
  adhocKeyService,
  defaultQuery,
  hasLogFilter,
  interpolate,
  logContextQuery,
  logsVolumeQuery,
  metricNames,
  queryDisplayText,
  queryProblem,
  toggleLogFilter,
  tagKeys,
  variableFilters,
  variableList,
  catalogValues,
  type CatalogEntry,
} from './query';
import type { LambdascopeOptions, LambdascopeQuery } from './types';

export class DataSource
  extends DataSourceWithBackend<LambdascopeQuery, LambdascopeOptions>
  implements
    DataSourceWithLogsContextSupport<LambdascopeQuery>,
    DataSourceWithToggleableQueryFiltersSupport<LambdascopeQuery>,
    DataSourceWithSupplementaryQueriesSupport<LambdascopeQuery>
{
  constructor(instanceSettings: DataSourceInstanceSettings<LambdascopeOptions>) {
    super(instanceSettings);
    // Annotation queries are queries of this datasource (queryType
    // annotations), edited with its query editor.
    this.annotations = {};
  }

  /** A new Explore tab starts with the logs; a new panel with the invocations. */
  getDefaultQuery(app: CoreApp): Partial<LambdascopeQuery> {
    return app === CoreApp.Explore ? { queryType: 'logs' } : defaultQuery;
  }

  /** Explore draws a histogram of the lines (per level) above a logs query's lines. */
  getSupportedSupplementaryQueryTypes(): SupplementaryQueryType[] {
    return [SupplementaryQueryType.LogsVolume];
  }

  getSupplementaryQuery(options: SupplementaryQueryOptions, query: LambdascopeQuery): LambdascopeQuery | undefined {
    return options.type === SupplementaryQueryType.LogsVolume ? logsVolumeQuery(query) : undefined;
  }

  getSupplementaryRequest(
    type: SupplementaryQueryType,
    request: DataQueryRequest<LambdascopeQuery>
  ): DataQueryRequest<LambdascopeQuery> | undefined {
    if (type !== SupplementaryQueryType.LogsVolume) {
      return undefined;
    }
    const targets = request.targets.flatMap((q) => logsVolumeQuery(q) ?? []);
    return targets.length > 0 ? { ...request, targets } : undefined;
  }

  /** How a query reads in Explore's query history. */
  getQueryDisplayText(query: LambdascopeQuery): string {
    return queryDisplayText(query);
  }

  /** Filters from log details: function and service labels, and the request ID. */
  toggleQueryFilter(query: LambdascopeQuery, filter: ToggleFilterAction): LambdascopeQuery {
    return toggleLogFilter(query, filter);
  }

  queryHasFilter(query: LambdascopeQuery, filter: QueryFilterOptions): boolean {
    return hasLogFilter(query, filter);
  }

  /** The query log context runs: the other lines of the line's invocation. */
  async getLogRowContextQuery(row: LogRowModel, options?: LogRowContextOptions): Promise<LambdascopeQuery | null> {
    return logContextQuery(row, options?.direction ?? LogRowContextQueryDirection.Backward, options?.limit)?.query ?? null;
  }

  /** The lines before or after a line in the same invocation. */
  async getLogRowContext(row: LogRowModel, options?: LogRowContextOptions): Promise<DataQueryResponse> {
    const c = logContextQuery(row, options?.direction ?? LogRowContextQueryDirection.Backward, options?.limit);
    if (!c) {
      return { data: [] };
    }
    const from = dateTime(c.fromMs);
    const to = dateTime(c.toMs);
    const request: DataQueryRequest<LambdascopeQuery> = {
      requestId: `log-context-${row.uid}`,
      app: CoreApp.Explore,
      targets: [c.query],
      range: { from, to, raw: { from, to } },
      interval: '1s',
      intervalMs: 1000,
      scopedVars: options?.scopedVars ?? {},
      timezone: 'UTC',
      startTime: Date.now(),
    };
    return lastValueFrom(this.query(request));
  }

  applyTemplateVariables(query: LambdascopeQuery, scopedVars: ScopedVars, filters?: AdHocVariableFilter[]): LambdascopeQuery {
    const srv = getTemplateSrv();
    const replace = (text: string, format?: string) => srv.replace(text, scopedVars, format);
    const out = interpolate(query, replace);
    const adhoc = adhocFilters(filters, (text) => replace(text));
    if (adhoc.length > 0) {
      out.adhocFilters = [...(out.adhocFilters ?? []), ...adhoc];
    }
    return out;
  }

  /** Keys of the ad hoc filter variable: function, service and span attribute keys. */
  async getTagKeys(options?: DataSourceGetTagKeysOptions<LambdascopeQuery>): Promise<MetricFindValue[]> {
    const keys = await this.getAttributeKeys(options?.timeRange);
    return tagKeys(keys).map((text) => ({ text }));
  }

  /** Values of one ad hoc filter key in the dashboard's time range. */
  async getTagValues(options: DataSourceGetTagValuesOptions<LambdascopeQuery>): Promise<MetricFindValue[]> {
    let values: string[];
    switch (options.key) {
      case adhocKeyFunction:
        values = await this.getFunctions(options.timeRange);
        break;
      case adhocKeyService:
        values = await this.getServiceNames(options.timeRange);
        break;
      default:
        values = await this.getAttributeValues(options.key, options.timeRange);
    }
    return values.map((text) => ({ text }));
  }

  filterQuery(query: LambdascopeQuery): boolean {
    return !query.hide && queryProblem(query) === undefined;
  }

  /**
   * Values of query variables: "metrics" lists the metric names, "services"
   * the services of spans in the range, "versions", "accounts", "regions"
   * and anything else (e.g. "functions") what the function catalog of the
   * range holds, "tenants" the tenants of the range's invocations. key=value words narrow the list by other variables:
   * `versions function=$function`, `functions account=$account
   * region=$region`, `services function=$function`.
   */
  async metricFindQuery(query: string, options?: { range?: TimeRange; scopedVars?: ScopedVars }): Promise<MetricFindValue[]> {
    const text = getTemplateSrv().replace(query, options?.scopedVars, 'csv');
    const list = variableList(text);
    const filters = variableFilters(text);
    let names: string[];
    if (list === 'metrics') {
      names = metricNames;
    } else if (list === 'tenants') {
      names = await this.getTenants(options?.range, filters.function?.length === 1 ? filters.function[0] : undefined);
    } else if (list === 'services' && Object.keys(filters).length === 0) {
      names = await this.getServiceNames(options?.range);
    } else {
      names = catalogValues(await this.getCatalog(options?.range), list, filters);
    }
    return names.map((text) => ({ text }));
  }

  /** Tenants (tenant isolation mode) of the invocations in the range, optionally of one function. */
  async getTenants(range?: TimeRange, functionName?: string): Promise<string[]> {
    return this.getResource<string[]>('tenants', { ...rangeParams(range), ...functionParam(functionName) });
  }

  /** The functions of the range with their service, account, region and versions. */
  async getCatalog(range?: TimeRange): Promise<CatalogEntry[]> {
    return this.getResource<CatalogEntry[]>('catalog', rangeParams(range));
  }

  /** Function names with invocations in the range, for the query editor's picker. */
  async getFunctions(range?: TimeRange): Promise<string[]> {
    return this.getResource<string[]>('functions', rangeParams(range));
  }

  /** Span names in the range, optionally of one function, for the query editor's picker. */
  async getSpanNames(range?: TimeRange, functionName?: string): Promise<string[]> {
    return this.getResource<string[]>('spans', { ...rangeParams(range), ...functionParam(functionName) });
  }

  /** Services of spans in the range, optionally of one function. */
  async getServiceNames(range?: TimeRange, functionName?: string): Promise<string[]> {
    return this.getResource<string[]>('services', { ...rangeParams(range), ...functionParam(functionName) });
  }

  /** Span attribute keys in the range, optionally of one function. */
  async getAttributeKeys(range?: TimeRange, functionName?: string): Promise<string[]> {
    return this.getResource<string[]>('attributeKeys', { ...rangeParams(range), ...functionParam(functionName) });
  }

  /** Values of one span attribute in the range, optionally of one function. */
  async getAttributeValues(key: string, range?: TimeRange, functionName?: string): Promise<string[]> {
    return this.getResource<string[]>('attributeValues', { key, ...rangeParams(range), ...functionParam(functionName) });
  }
}

function rangeParams(range?: TimeRange): Record<string, number> {
  return range ? { from: range.from.valueOf(), to: range.to.valueOf() } : {};
}

function functionParam(functionName?: string): Record<string, string> {
  const f = functionName?.trim();
  return f && !f.includes('$') ? { function: f } : {};
}
