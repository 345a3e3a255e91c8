import { of } from 'rxjs';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { CoreApp, LogRowContextQueryDirection, SupplementaryQueryType, type DataQueryRequest, type LogRowModel } from '@grafana/data';

import type { LambdascopeQuery } from './types';

// The datasource class against a stand-in for Grafana's runtime: the base
// class records the requests it would send to the backend and the
// resources it would ask for; template variables are replaced from a map.
const sent: Array<DataQueryRequest<LambdascopeQuery>> = [];
const resources: Array<{ path: string; params?: unknown }> = [];
let catalog: unknown[] = [];
const variables: Record<string, string> = {};

vi.mock('@grafana/runtime', () => ({
  DataSourceWithBackend: class {
    annotations?: object;
    query(request: DataQueryRequest<LambdascopeQuery>) {
      sent.push(request);
      return of({ data: [] });
    }
    getResource(path: string, params?: unknown) {
      resources.push({ path, params });
      return Promise.resolve(path === 'catalog' ? catalog : ['svc-a']);
    }
  },
  getTemplateSrv: () => ({
    replace: (text: string) => text.replace(/\$(\w+)/g, (_m: string, name: string) => variables[name] ?? ''),
  }),
}));

const { DataSource } = await import('./datasource');
const ds = new DataSource({ uid: 'ls', name: 'Lambdascope', jsonData: {} } as never);

beforeEach(() => {
  sent.length = 0;
  resources.length = 0;
});

describe('DataSource', () => {
  it('answers annotation queries', () => {
    expect(ds.annotations).toEqual({});
  });

  it('opens Explore on logs and panels on invocations', () => {
    expect(ds.getDefaultQuery(CoreApp.Explore)).toEqual({ queryType: 'logs' });
    expect(ds.getDefaultQuery(CoreApp.Dashboard)).toEqual({ queryType: 'invocations' });
  });

  it('asks for a logs volume beside each logs query only', () => {
    const request = {
      targets: [
        { refId: 'A', queryType: 'logs', functionName: 'orders', limit: 100 },
        { refId: 'B', queryType: 'search' },
      ],
    } as DataQueryRequest<LambdascopeQuery>;
    expect(ds.getSupportedSupplementaryQueryTypes()).toEqual([SupplementaryQueryType.LogsVolume]);
    expect(ds.getSupplementaryRequest(SupplementaryQueryType.LogsVolume, request)?.targets).toEqual([
      { refId: 'log-volume-A', queryType: 'logsVolume', functionName: 'orders' },
    ]);
    expect(ds.getSupplementaryRequest(SupplementaryQueryType.LogsSample, request)).toBeUndefined();
    expect(ds.getSupplementaryRequest(SupplementaryQueryType.LogsVolume, { targets: [request.targets[1]] } as never)).toBeUndefined();
  });

  it('runs a line context as a query of its invocation before the line', async () => {
    const row = { uid: 'r1', labels: { requestId: 'req-1' }, timeEpochMs: 5_000_000 } as unknown as LogRowModel;
    await ds.getLogRowContext(row, { direction: LogRowContextQueryDirection.Backward, limit: 10 });
    expect(sent).toHaveLength(1);
    expect(sent[0].targets).toEqual([{ refId: 'log-context', queryType: 'logs', requestId: 'req-1', limit: 10 }]);
    expect(sent[0].range.to.valueOf()).toBe(5_000_000);
    expect(await ds.getLogRowContextQuery(row, { direction: LogRowContextQueryDirection.Forward })).toEqual({
      refId: 'log-context',
      queryType: 'logs',
      requestId: 'req-1',
      limit: 50,
    });
  });

  it('has no context for a line outside any invocation', async () => {
    const row = { uid: 'r2', labels: {}, timeEpochMs: 1 } as unknown as LogRowModel;
    expect(await ds.getLogRowContext(row)).toEqual({ data: [] });
    expect(sent).toHaveLength(0);
  });

  it('toggles filters from log details', () => {
    const q: LambdascopeQuery = { refId: 'A', queryType: 'logs' };
    const on = ds.toggleQueryFilter(q, { type: 'FILTER_FOR', options: { key: 'function', value: 'orders' } });
    expect(ds.queryHasFilter(on, { key: 'function', value: 'orders' })).toBe(true);
  });

  it('lists dependent variables from the catalog, with the variables replaced', async () => {
    catalog = [
      { function: 'orders', service: 'shop', account: '1', region: 'eu-west-1', versions: ['3', '4'] },
      { function: 'billing', service: 'pay', account: '1', region: 'eu-west-1', versions: ['7'] },
    ];
    variables.function = 'orders';
    expect(await ds.metricFindQuery('versions function=$function')).toEqual([{ text: '3' }, { text: '4' }]);
    expect(resources.map((r) => r.path)).toEqual(['catalog']);
    // services without filters come from the spans
    expect(await ds.metricFindQuery('services')).toEqual([{ text: 'svc-a' }]);
    expect(resources.map((r) => r.path)).toEqual(['catalog', 'services']);
    // tenants, of the one function chosen
    await ds.metricFindQuery('tenants function=$function');
    expect(resources[2]).toEqual({ path: 'tenants', params: { function: 'orders' } });
  });

  it('reads queries plainly in the history', () => {
    expect(ds.getQueryDisplayText({ refId: 'A', queryType: 'trace', traceId: 'abc' })).toBe('Trace: trace: abc');
  });
});
