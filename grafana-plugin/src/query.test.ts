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
  variableFilters,
  catalogValues,
  withQueryType,
  defaultQuery,
  hasLogFilter,
  logsVolumeQuery,
  logContextQuery,
  LOG_CONTEXT_WINDOW_MS,
  queryDisplayText,
  toggleLogFilter,
  parsePrices,
  priceKeys,
  pricesProblems,
  withLogClass,
  withSavingsPlan,
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
    ['cost per tenant', { refId: 'A', queryType: 'cost', costBy: 'tenant' }, undefined],
    ['cost by month', { refId: 'A', queryType: 'cost', costBy: 'month' as never }, 'function, version, day or tenant'],
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
  it('replaces a variable in the error type filter', () => {
    const q: LambdascopeQuery = { refId: 'A', queryType: 'invocations', errorType: '$type' };
    expect(interpolate(q, (s) => s.replace('$type', 'errorString')).errorType).toBe('errorString');
  });
  it('replaces a variable in the trigger source filter', () => {
    const q: LambdascopeQuery = { refId: 'A', queryType: 'invocations', triggerSource: '$queue' };
    expect(interpolate(q, (s) => s.replace('$queue', 'orders-queue')).triggerSource).toBe('orders-queue');
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
    ['versions function=orders', 'versions'],
    ['Regions', 'regions'],
    ['accounts', 'accounts'],
    ['tenants', 'tenants'],
    ['owners', 'functions'],
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
    // logsVolume is Explore's supplementary query, run beside a logs query.
    const backend = [...read('../pkg/plugin/datasource.go').matchAll(/QueryType\w+\s+= "(\w+)"/g)]
      .map((m) => m[1])
      .filter((t) => t !== 'logsVolume');
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

describe('whole range metrics', () => {
  it('refuses percentiles, which do not add up over steps', () => {
    expect(queryProblem({ refId: 'A', queryType: 'metrics', metrics: ['durationP99'], wholeRange: true })).toContain('durationP99');
    expect(queryProblem({ refId: 'A', queryType: 'metrics', metrics: ['errorRate'], wholeRange: true })).toBeUndefined();
  });
});

describe('filters from log details', () => {
  const logs: LambdascopeQuery = { refId: 'A', queryType: 'logs' };
  it('a function label keeps, then toggles off, the function', () => {
    const on = toggleLogFilter(logs, { type: 'FILTER_FOR', options: { key: 'function', value: 'orders' } });
    expect(on.adhocFilters).toEqual([{ key: 'function', operator: '=', value: 'orders' }]);
    expect(hasLogFilter(on, { key: 'function', value: 'orders' })).toBe(true);
    expect(toggleLogFilter(on, { type: 'FILTER_FOR', options: { key: 'function', value: 'orders' } }).adhocFilters).toEqual([]);
  });
  it('filtering out replaces keeping the same value', () => {
    const on = toggleLogFilter(logs, { type: 'FILTER_FOR', options: { key: 'service', value: 'api' } });
    const out = toggleLogFilter(on, { type: 'FILTER_OUT', options: { key: 'service', value: 'api' } });
    expect(out.adhocFilters).toEqual([{ key: 'service', operator: '!=', value: 'api' }]);
    expect(hasLogFilter(out, { key: 'service', value: 'api' })).toBe(false);
  });
  it('a request ID becomes the query request ID; it cannot be filtered out', () => {
    const on = toggleLogFilter(logs, { type: 'FILTER_FOR', options: { key: 'requestId', value: 'req-1' } });
    expect(on.requestId).toBe('req-1');
    expect(hasLogFilter(on, { key: 'requestId', value: 'req-1' })).toBe(true);
    expect(toggleLogFilter(on, { type: 'FILTER_FOR', options: { key: 'requestId', value: 'req-1' } }).requestId).toBeUndefined();
    expect(toggleLogFilter(logs, { type: 'FILTER_OUT', options: { key: 'requestId', value: 'req-1' } })).toBe(logs);
  });
  it('labels the backend cannot filter on leave the query as it is', () => {
    expect(toggleLogFilter(logs, { type: 'FILTER_FOR', options: { key: 'version', value: '7' } })).toBe(logs);
  });
});

describe('log context', () => {
  const row = { labels: { requestId: 'req-1', function: 'orders' }, timeEpochMs: 1_000_000 };
  it('reads the lines of the same invocation before the line', () => {
    expect(logContextQuery(row, 'BACKWARD', 20)).toEqual({
      query: { refId: 'log-context', queryType: 'logs', requestId: 'req-1', limit: 20 },
      fromMs: 1_000_000 - LOG_CONTEXT_WINDOW_MS,
      toMs: 1_000_000,
    });
  });
  it('and after it, without the line itself', () => {
    const c = logContextQuery(row, 'FORWARD');
    expect(c?.fromMs).toBe(1_000_001);
    expect(c?.toMs).toBe(1_000_000 + LOG_CONTEXT_WINDOW_MS);
    expect(c?.query.limit).toBe(50);
  });
  it('a line outside any invocation has no context', () => {
    expect(logContextQuery({ labels: { function: 'orders' }, timeEpochMs: 1 }, 'BACKWARD')).toBeUndefined();
  });
});

describe('query history', () => {
  it('reads as the query type and what it asks', () => {
    expect(
      queryDisplayText({
        refId: 'A',
        queryType: 'logs',
        functionName: 'orders',
        text: 'timeout',
        adhocFilters: [{ key: 'service', operator: '!=', value: 'api' }],
      })
    ).toBe('Logs: function: orders, text: "timeout", service != api');
    expect(queryDisplayText({ refId: 'A', queryType: 'serviceMap' })).toBe('Service map');
  });
});

describe('logs volume', () => {
  it('a logs query has a histogram query of the same lines, without the limit', () => {
    expect(logsVolumeQuery({ refId: 'A', queryType: 'logs', functionName: 'orders', text: 'x', limit: 10 })).toEqual({
      refId: 'log-volume-A',
      queryType: 'logsVolume',
      functionName: 'orders',
      text: 'x',
    });
  });
  it('other and hidden queries have none', () => {
    expect(logsVolumeQuery({ refId: 'A', queryType: 'search' })).toBeUndefined();
    expect(logsVolumeQuery({ refId: 'A', queryType: 'logs', hide: true })).toBeUndefined();
  });
});

describe('trace without an ID', () => {
  it('asks for one, unless the latest trace of the range will do', () => {
    expect(queryProblem({ refId: 'A', queryType: 'trace' })).toBe('Enter a trace ID.');
    expect(queryProblem({ refId: 'A', queryType: 'trace', orLatest: true })).toBeUndefined();
  });
});

describe('plugin.json', () => {
  const dir = new URL('.', import.meta.url);
  const plugin = JSON.parse(readFileSync(new URL('plugin.json', dir), 'utf8'));
  it('names logos that exist, which the build copies with the images folder', () => {
    for (const path of [plugin.info.logos.small, plugin.info.logos.large]) {
      expect(path).toMatch(/^img\//);
      expect(() => readFileSync(new URL(path, dir))).not.toThrow();
    }
    expect(readFileSync(new URL('../build.mjs', dir), 'utf8')).toContain("cpSync('src/img', 'dist/img'");
  });
  it('has a category of the schema', () => {
    expect(['tsdb', 'logging', 'cloud', 'tracing', 'profiling', 'sql', 'enterprise', 'iot', 'other']).toContain(plugin.category);
  });
});

describe('dependent variables', () => {
  const catalog = [
    { function: 'billing', service: 'pay', account: '111', region: 'eu-west-1', versions: ['6', '7'] },
    { function: 'orders', service: 'shop', account: '111', region: 'eu-west-1', versions: ['$LATEST'] },
    { function: 'orders', service: 'shop', account: '222', region: 'us-east-1', versions: ['3'] },
  ];
  it('reads key=value words, values comma separated, All as no filter', () => {
    expect(variableFilters('versions function=orders,billing account= region=$__all bogus=x')).toEqual({
      function: ['orders', 'billing'],
    });
  });
  it.each([
    ['versions', {}, ['$LATEST', '3', '6', '7']],
    ['versions', { function: ['orders'] }, ['$LATEST', '3']],
    ['functions', { region: ['us-east-1'] }, ['orders']],
    ['accounts', { function: ['billing'] }, ['111']],
    ['regions', {}, ['eu-west-1', 'us-east-1']],
    ['services', { account: ['111'] }, ['pay', 'shop']],
  ] as const)('%s of %j', (list, filters, want) => {
    expect(catalogValues(catalog, list, filters as Record<string, string[]>)).toEqual(want);
  });
});

describe('annotations', () => {
  it('need a kind; a storm needs at least one cold start', () => {
    expect(queryProblem({ refId: 'A', queryType: 'annotations' })).toContain('Choose what to mark');
    expect(queryProblem({ refId: 'A', queryType: 'annotations', annotation: 'deployments' })).toBeUndefined();
    expect(queryProblem({ refId: 'A', queryType: 'annotations', annotation: 'coldStartStorms', minColdStarts: 0 })).toContain('whole number');
  });
  it('plugin.json says the datasource answers annotation queries', () => {
    const plugin = JSON.parse(readFileSync(new URL('plugin.json', import.meta.url), 'utf8'));
    expect(plugin.annotations).toBe(true);
  });
});

describe('prices', () => {
  const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');
  // jsonData as the config editor writes it, and prices it flags; the
  // backend's settings tests load the same files (settings_test.go).
  const editorSettings = JSON.parse(read('../pkg/plugin/testdata/editor_settings.json'));
  const bad: Array<{ prices: unknown; editor: string }> = JSON.parse(read('../pkg/plugin/testdata/editor_prices_bad.json'));

  it('finds nothing wrong with what the config editor writes', () => {
    expect(settingsProblems(editorSettings)).toEqual([]);
  });

  it.each(bad.map((b) => [b.editor, b.prices] as const))('flags %s', (want, prices) => {
    const got = pricesProblems(prices);
    expect(got.some((p) => p.includes(want)), `${JSON.stringify(got)} should name ${want}`).toBe(true);
    expect(settingsProblems({ address: 'ch:9000', prices: prices as never }).some((p) => p.includes(want))).toBe(true);
  });

  it('knows every key the backend decodes, and no other', () => {
    const tags = (file: string, struct: string) => {
      const body = read(file).match(new RegExp(`type ${struct} struct \\{([\\s\\S]*?)\\n\\}`))?.[1] ?? '';
      return [...body.matchAll(/json:"(\w+)/g)].map((m) => m[1]).sort();
    };
    expect([...priceKeys.file].sort()).toEqual(tags('../../query/prices.go', 'Prices'));
    expect([...priceKeys.provisioned].sort()).toEqual(tags('../../query/prices.go', 'ProvisionedConcurrency'));
    expect([...priceKeys.capacityProvider].sort()).toEqual(tags('../../query/bills.go', 'CapacityProvider'));
    expect([...priceKeys.observability].sort()).toEqual(tags('../../query/obsprices.go', 'ObservabilityPriceFile'));
  });

  it('sets the log class and the Savings Plan, and drops what is left empty', () => {
    const ia = withLogClass(undefined, 'infrequent_access');
    expect(ia).toEqual({ observability: { cloudwatch_logs_class: 'infrequent_access' } });
    expect(withLogClass(ia, 'standard')).toBeUndefined();
    const both = withSavingsPlan(ia, 12);
    expect(both).toEqual({ observability: { cloudwatch_logs_class: 'infrequent_access' }, savings_plan: { discount: 0.12 } });
    expect(withSavingsPlan(both, undefined)).toEqual(ia);
    const tiers = { observability: { transfer_out: [{ up_to_gb: 0, price_per_gb: 0.02 }] } };
    expect(withLogClass(withLogClass(tiers, 'infrequent_access'), 'standard')).toEqual(tiers);
  });

  it('reads the JSON field: empty is none, anything but an object is a problem', () => {
    expect(parsePrices('  ')).toEqual({ prices: undefined });
    expect(parsePrices('{"savings_plan": {"discount": 0.1}}')).toEqual({ prices: { savings_plan: { discount: 0.1 } } });
    expect(parsePrices('{"savings_plan": ')).toMatchObject({ problem: expect.stringContaining('Prices are not JSON') });
    expect(parsePrices('[1]')).toEqual({ problem: 'Prices must be a JSON object.' });
  });
});

describe('queryDisplayText of the newer fields', () => {
  it.each([
    [{ refId: 'A', queryType: 'trace', orLatest: true, functionName: 'orders' }, 'Trace: latest, function: orders'],
    [{ refId: 'A', queryType: 'invocations', tenantId: 'acme' }, 'Invocations: tenant: acme'],
    [{ refId: 'A', queryType: 'invocations', triggerSource: ' POST /orders/{id} ' }, 'Invocations: source: POST /orders/{id}'],
    [{ refId: 'A', queryType: 'invocations', failedOnly: true }, 'Invocations: failed only'],
    [{ refId: 'A', queryType: 'invocations', errorType: ' TypeError ' }, 'Invocations: error type: TypeError'],
    [{ refId: 'A', queryType: 'cost', costBy: 'observability' }, 'Cost: by: observability'],
    [{ refId: 'A', queryType: 'completeness', format: 'timeSeries' }, 'Completeness: as: timeSeries'],
  ] as Array<[LambdascopeQuery, string]>)('%j', (q, want) => {
    expect(queryDisplayText(q)).toBe(want);
  });
});
