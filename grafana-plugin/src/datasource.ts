import type { DataSourceInstanceSettings, MetricFindValue, ScopedVars, TimeRange } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';

import { interpolate, metricNames, queryProblem } from './query';
import type { LambdascopeOptions, LambdascopeQuery } from './types';

export class DataSource extends DataSourceWithBackend<LambdascopeQuery, LambdascopeOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<LambdascopeOptions>) {
    super(instanceSettings);
  }

  applyTemplateVariables(query: LambdascopeQuery, scopedVars: ScopedVars): LambdascopeQuery {
    const srv = getTemplateSrv();
    return interpolate(query, (text) => srv.replace(text, scopedVars));
  }

  filterQuery(query: LambdascopeQuery): boolean {
    return !query.hide && queryProblem(query) === undefined;
  }

  /**
   * Values of query variables: "metrics" lists the metric names, anything
   * else (e.g. "functions") the functions with invocations in the range.
   */
  async metricFindQuery(query: string, options?: { range?: TimeRange }): Promise<MetricFindValue[]> {
    if (query.trim() === 'metrics') {
      return metricNames.map((text) => ({ text }));
    }
    const names = await this.getFunctions(options?.range);
    return names.map((text) => ({ text }));
  }

  /** Function names with invocations in the range, for the query editor's picker. */
  async getFunctions(range?: TimeRange): Promise<string[]> {
    const params = range ? { from: range.from.valueOf(), to: range.to.valueOf() } : undefined;
    return this.getResource<string[]>('functions', params);
  }
}
