import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import {
  adhocFilters,
  formatAttributes,
  interpolate,
  isTraceId,
  parseAttributes,
  queryProblem,
  settingsProblems,
  tagKeys,
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
  it('keeps = and != with a key, replaces variables in values and passes hostile values through unchanged', () => {
    const hostile = "orders' OR '1'='1";
    const got = adhocFilters(
      [
        { key: 'function', operator: '=', value: '$fn' },
        { key: ' service ', operator: '!=', value: 'orders-api' },
        { key: 'db.system', operator: '=', value: hostile },
        { key: 'http.route', operator: '=~', value: '/orders.*' },
        { key: ' ', operator: '=', value: 'x' },
      ],
      (s) => s.replace('$fn', 'billing')
    );
    expect(got).toEqual([
      { key: 'function', operator: '=', value: 'billing' },
      { key: 'service', operator: '!=', value: 'orders-api' },
      { key: 'db.system', operator: '=', value: hostile },
    ]);
  });
  it('is empty without filters', () => {
    expect(adhocFilters(undefined, (s) => s)).toEqual([]);
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
  ])('%j', (options, want) => {
    const got = settingsProblems(options);
    expect(got).toHaveLength(want.length);
    want.forEach((w, i) => expect(got[i]).toContain(w));
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
