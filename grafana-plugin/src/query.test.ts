import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import {
  adhocFilters,
  escapeRegExp,
  expandNames,
  formatAttributes,
  interpolate,
  isTraceId,
  metricNames,
  parseAttributes,
  queryProblem,
  queryTypeOptions,
  settingsProblems,
  spikeSeriesNames,
  tagKeys,
  variableList,
  withQueryType,
  defaultQuery,
} from './query';
import type { LambdascopeQuery } from './types';

describe('isTraceId', () => {
  it.each([
    ['4bf92f3577b34da6a3ce929d0e0e4736', true],
    ['4BF92F3577B34DA6A3CE929D0E0E4736', true],
    ['1-4bf92f35-77b34da6a3ce929d0e0e4736', true],
    ['Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=53995c3f42cd8ad8;Sampled=1', true],
    ['00000000000000000000000000000000', false],
    ['4bf92f3577b34da6a3ce929d0e0e473', false],
    ['2-4bf92f35-77b34da6a3ce929d0e0e4736', false],
    ["' OR 1=1 --", false],
  ])('%s → %s', (id, want) => {
    expect(isTraceId(id)).toBe(want);
  });
});

describe('queryProblem', () => {
  const cases: Array<[string, LambdascopeQuery, string | undefined]> = [
    ['trace without id', { refId: 'A', queryType: 'trace' }, 'Enter a trace ID.'],
    ['trace with bad id', { refId: 'A', queryType: 'trace', traceId: 'abc' }, 'A trace ID is 32 hex digits'],
    ['trace with variable', { refId: 'A', queryType: 'trace', traceId: '$trace' }, undefined],
    ['trace ok', { refId: 'A', queryType: 'trace', traceId: '4bf92f3577b34da6a3ce929d0e0e4736' }, undefined],
    ['invocations default', { refId: 'A' }, undefined],
    ['invocations limit too high', { refId: 'A', queryType: 'invocations', limit: 10001 }, 'The limit must be'],
    ['invocations limit not whole', { refId: 'A', queryType: 'invocations', limit: 1.5 }, 'The limit must be'],
    ['invocations bad trace filter', { refId: 'A', queryType: 'invocations', traceId: 'x' }, 'not a trace ID'],
    ['logs bad trace filter', { refId: 'A', queryType: 'logs', traceId: 'x' }, 'not a trace ID'],
    ['search ok', { refId: 'A', queryType: 'search', status: 'error', attributes: { 'http.route': '/orders' } }, undefined],
    ['search min above max', { refId: 'A', queryType: 'search', minDurationMs: 10, maxDurationMs: 5 }, 'above the maximum'],
    ['search empty attribute', { refId: 'A', queryType: 'search', attributes: { ' ': 'x' } }, 'must not be empty'],
    ['metrics ok', { refId: 'A', queryType: 'metrics', metrics: ['errorRate', 'durationP99'] }, undefined],
    ['metrics unknown', { refId: 'A', queryType: 'metrics', metrics: ['bogus'] }, 'Unknown metric bogus.'],
    ['service map', { refId: 'A', queryType: 'serviceMap' }, undefined],
    ['cost by day', { refId: 'A', queryType: 'cost', costBy: 'day' }, undefined],
    ['trace cost of one trace', { refId: 'A', queryType: 'traceCost', traceId: '4bf92f3577b34da6a3ce929d0e0e4736' }, undefined],
    ['trace cost bad id', { refId: 'A', queryType: 'traceCost', traceId: 'abc' }, 'not a trace ID'],
    ['trace cost list', { refId: 'A', queryType: 'traceCost', limit: 20 }, undefined],
    ['trace cost list too long', { refId: 'A', queryType: 'traceCost', limit: 101 }, 'from 1 to 100'],
    ['spikes default', { refId: 'A', queryType: 'spikes' }, undefined],
    [
      'spikes series',
      { refId: 'A', queryType: 'spikes', format: 'timeSeries', spikeSeries: ['errorRate', 'firing'], windowMinutes: 10, baselineMinutes: 120 },
      undefined,
    ],
    ['spikes unknown series', { refId: 'A', queryType: 'spikes', format: 'timeSeries', spikeSeries: ['bogus'] }, 'Unknown series bogus.'],
    ['spikes bad format', { refId: 'A', queryType: 'spikes', format: 'graph' as never }, 'table or a time series'],
    ['spikes negative window', { refId: 'A', queryType: 'spikes', windowMinutes: -5 }, 'The window must be a whole number.'],
    ['spikes baseline shorter', { refId: 'A', queryType: 'spikes', windowMinutes: 30, baselineMinutes: 10 }, 'at least as long'],
    ['rightsize', { refId: 'A', queryType: 'rightsize', minInvocations: 10 }, undefined],
    ['rightsize fraction', { refId: 'A', queryType: 'rightsize', minInvocations: 1.5 }, 'whole number'],
    ['completeness', { refId: 'A', queryType: 'completeness', format: 'timeSeries' }, undefined],
    ['completeness bad format', { refId: 'A', queryType: 'completeness', format: 'graph' as never }, 'table or a time series'],
    ['cost of observability', { refId: 'A', queryType: 'cost', costBy: 'observability' }, undefined],
    ['unknown type', { refId: 'A', queryType: 'flamegraph' as never }, 'Unknown query type flamegraph.'],
  ];
  it.each(cases)('%s', (_, q, want) => {
    const got = queryProblem(q);
    if (want === undefined) {
      expect(got).toBeUndefined();
    } else {
      expect(got).toContain(want);
    }
  });
});

describe('interpolate', () => {
  it('replaces variables in text fields only and keeps the original', () => {
    const q: LambdascopeQuery = { refId: 'A', queryType: 'invocations', functionName: '$fn', requestId: '', limit: 5 };
    const got = interpolate(q, (s) => s.replace('$fn', 'orders'));
    expect(got).toEqual({ refId: 'A', queryType: 'invocations', functionName: 'orders', requestId: '', limit: 5 });
    expect(q.functionName).toBe('$fn');
  });
  it('replaces a variable in the tenant filter', () => {
    const q: LambdascopeQuery = { refId: 'A', queryType: 'invocations', tenantId: '$tenant' };
    expect(interpolate(q, (s) => s.replace('$tenant', 'BlueTenant')).tenantId).toBe('BlueTenant');
  });
});

describe('template variables on names', () => {
  // replace imitates Grafana's template service for $fn = [orders, billing], $one = [orders].
  const values: Record<string, string[]> = { $fn: ['orders', 'bill.ing'], $one: ['orders'], $svc: ["a' OR '1'='1", 'b|c'] };
  const replace = (text: string, format?: string) => {
    for (const [name, vs] of Object.entries(values)) {
      if (text.includes(name)) {
        return text.replace(name, format === 'json' ? JSON.stringify(vs) : vs.length > 1 ? `{${vs.join(',')}}` : vs[0]);
      }
    }
    return text;
  };
  it('keeps one value as the field', () => {
    expect(interpolate({ refId: 'A', queryType: 'metrics', functionName: '$one' }, replace)).toEqual({
      refId: 'A',
      queryType: 'metrics',
      functionName: 'orders',
    });
  });
  it('turns several values into an =~ ad hoc filter matching exactly them', () => {
    const got = interpolate(
      { refId: 'A', queryType: 'search', functionName: '$fn', serviceName: '$svc', adhocFilters: [{ key: 'x', operator: '=', value: 'y' }] },
      replace
    );
    expect(got.functionName).toBe('');
    expect(got.serviceName).toBe('');
    expect(got.adhocFilters).toEqual([
      { key: 'x', operator: '=', value: 'y' },
      { key: 'function', operator: '=~', value: 'orders|bill\\.ing' },
      { key: 'service', operator: '=~', value: "a' OR '1'='1|b\\|c" },
    ]);
    const re = new RegExp(`^(?:${got.adhocFilters?.[2].value})$`);
    expect(re.test("a' OR '1'='1")).toBe(true);
    expect(re.test('b|c')).toBe(true);
    expect(re.test('b')).toBe(false);
  });
  it('replaces text around a variable as text', () => {
    expect(expandNames('prefix-$one', replace)).toEqual({ value: 'prefix-orders' });
    expect(expandNames('plain', replace)).toEqual({ value: 'plain' });
  });
  it('escapes every regular expression character', () => {
    const hostile = '.*+?^${}()|[]\\';
    expect(new RegExp(`^(?:${escapeRegExp(hostile)})$`).test(hostile)).toBe(true);
    expect(new RegExp(`^(?:${escapeRegExp('a.b')})$`).test('axb')).toBe(false);
  });
});

describe('attributes', () => {
  it('parses pairs and formats them back', () => {
    const attrs = parseAttributes(' http.route=/orders , db.system = dynamodb,flag,');
    expect(attrs).toEqual({ 'http.route': '/orders', 'db.system': 'dynamodb', flag: '' });
    expect(parseAttributes(formatAttributes(attrs))).toEqual(attrs);
  });
  it('interpolates keys and values', () => {
    const got = interpolate({ refId: 'A', attributes: { $k: '$v' } }, (s) => s.replace('$k', 'key').replace('$v', 'value'));
    expect(got.attributes).toEqual({ key: 'value' });
  });
});

describe('adhocFilters', () => {
  it('keeps =, !=, =~ and !~ with a key, replaces variables in values and passes hostile values through unchanged', () => {
    const hostile = "orders' OR '1'='1";
    const got = adhocFilters(
      [
        { key: 'function', operator: '=', value: '$fn' },
        { key: ' service ', operator: '!=', value: 'orders-api' },
        { key: 'db.system', operator: '=', value: hostile },
        { key: 'http.route', operator: '=~', value: '/orders.*' },
        { key: 'function', operator: '!~', value: hostile },
        { key: 'function', operator: '<', value: '5' },
        { key: ' ', operator: '=', value: 'x' },
      ],
      (s) => s.replace('$fn', 'billing')
    );
    expect(got).toEqual([
      { key: 'function', operator: '=', value: 'billing' },
      { key: 'service', operator: '!=', value: 'orders-api' },
      { key: 'db.system', operator: '=', value: hostile },
      { key: 'http.route', operator: '=~', value: '/orders.*' },
      { key: 'function', operator: '!~', value: hostile },
    ]);
  });
  it('is empty without filters', () => {
    expect(adhocFilters(undefined, (s) => s)).toEqual([]);
  });
});

describe('variableList', () => {
  it.each([
    ['metrics', 'metrics'],
    [' Services ', 'services'],
    ['functions', 'functions'],
    ['', 'functions'],
  ])('%j → %s', (q, want) => {
    expect(variableList(q)).toBe(want);
  });
});

describe('tagKeys', () => {
  it('lists function and service first, then attribute keys once', () => {
    expect(tagKeys(['db.system', 'function', 'http.route'])).toEqual(['function', 'service', 'db.system', 'http.route']);
  });
});

describe('settingsProblems', () => {
  it.each([
    [{ address: '127.0.0.1:9000' }, []],
    [{ address: 'ch1:9440, ch2:9440', tls: true }, []],
    [{ address: '' }, ['Address must be set']],
    [{ address: 'clickhouse' }, ['Address clickhouse must look like host:port.']],
    [{ address: 'ch:70000' }, ['Address ch:70000 must look like host:port.']],
    [{ address: 'ch:9000', database: 'x; DROP' }, ['Database must be']],
    [{ address: 'ch:9000', tlsSkipVerify: true }, ['Skipping TLS verification needs TLS']],
    [{ address: 'ch:9440', tls: true, tlsServerName: 'clickhouse.internal' }, []],
    [{ address: 'ch:9000', tlsServerName: 'clickhouse.internal' }, ['A TLS server name needs TLS']],
    [{ address: 'ch:9440', tls: true, tlsServerName: 'evil@host' }, ['must be a host name']],
    [{ address: 'ch:9000', timeZone: 'Europe/Berlin' }, []],
    [{ address: 'ch:9000', timeZone: 'Mars/Olympus' }, ['Time zone Mars/Olympus is not an IANA time zone']],
  ])('%j', (options, want) => {
    const got = settingsProblems(options);
    expect(got).toHaveLength(want.length);
    want.forEach((w, i) => expect(got[i]).toContain(w));
  });
});

describe('names shared with the backend', () => {
  const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');
  it('offers every query type the backend answers', () => {
    const backend = [...read('../pkg/plugin/datasource.go').matchAll(/QueryType\w+\s+= "(\w+)"/g)].map((m) => m[1]);
    expect(queryTypeOptions.map((o) => o.value).sort()).toEqual(backend.sort());
  });
  it('lists the metrics and spike series the backend shows', () => {
    const metrics = [...read('../pkg/plugin/frames/metrics.go').matchAll(/^\t\{"(\w+)", "/gm)].map((m) => m[1]);
    expect(metricNames).toEqual(metrics);
    const series = read('../pkg/plugin/frames/spikes.go').match(/SpikeSeriesNames = \[\]string\{([^}]*)\}/)?.[1];
    expect(spikeSeriesNames).toEqual(JSON.parse(`[${series}]`));
  });
});

describe('plugin.json', () => {
  const plugin = JSON.parse(readFileSync(new URL('./plugin.json', import.meta.url), 'utf8'));
  it('declares a backend datasource usable for alerting, logs, traces and metrics', () => {
    expect(plugin).toMatchObject({
      type: 'datasource',
      id: 'lambdascope-lambdascope-datasource',
      backend: true,
      executable: 'gpx_lambdascope',
      alerting: true,
      logs: true,
      tracing: true,
      metrics: true,
    });
  });
});

describe('limits', () => {
  it('a new query holds no limit, so the backend default of each type applies', () => {
    expect(defaultQuery.limit).toBeUndefined();
  });
  it('switching the query type drops the limit of the old type', () => {
    const q: LambdascopeQuery = { refId: 'A', queryType: 'invocations', limit: 100, functionName: 'orders' };
    expect(withQueryType(q, 'traceCost')).toEqual({ refId: 'A', queryType: 'traceCost', functionName: 'orders' });
    expect(withQueryType(q, 'invocations')).toBe(q);
  });
});
