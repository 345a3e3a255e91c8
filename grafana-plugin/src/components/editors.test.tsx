// @vitest-environment jsdom
import React, { useState } from 'react';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';

import type { LambdascopeOptions, LambdascopeQuery } from '../types';

// What jsdom lacks and @grafana/ui asks for when it loads.
vi.hoisted(() => {
  const w = globalThis as unknown as Record<string, unknown>;
  w.matchMedia ??= () => ({ matches: false, addListener() {}, removeListener() {}, addEventListener() {}, removeEventListener() {} });
  w.ResizeObserver ??= class {
    observe() {}
    unobserve() {}
    disconnect() {}
  };
  w.IntersectionObserver ??= class {
    observe() {}
    unobserve() {}
    disconnect() {}
    takeRecords() {
      return [];
    }
  };
});
import { ConfigEditor } from './ConfigEditor';
import { QueryEditor } from './QueryEditor';

// The editors rendered as Grafana renders them, with Grafana's own
// components (@grafana/ui) in a DOM; the datasource's pickers answer
// empty lists.
const datasource = {
  getFunctions: () => Promise.resolve(['orders']),
  getSpanNames: () => Promise.resolve([]),
  getServiceNames: () => Promise.resolve([]),
  getAttributeKeys: () => Promise.resolve([]),
} as never;

afterEach(cleanup);

async function renderQueryEditor(query: LambdascopeQuery) {
  const onChange = vi.fn();
  const onRunQuery = vi.fn();
  await act(async () => {
    render(<QueryEditor datasource={datasource} query={query} onChange={onChange} onRunQuery={onRunQuery} />);
  });
  return { onChange, onRunQuery };
}

describe('QueryEditor', () => {
  it('switching the query type drops the old type limit and runs the query', async () => {
    const { onChange, onRunQuery } = await renderQueryEditor({ refId: 'A', queryType: 'invocations', limit: 100 });
    fireEvent.click(screen.getByText('Cost per trace'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'traceCost' });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('shows the limit the backend applies as a placeholder, not as a value it would send', async () => {
    await renderQueryEditor({ refId: 'A', queryType: 'traceCost' });
    const input = screen.getByPlaceholderText('20') as HTMLInputElement;
    expect(input.value).toBe('');
  });

  it('says what keeps a query from running', async () => {
    await renderQueryEditor({ refId: 'A', queryType: 'trace' });
    expect(screen.getByText('Enter a trace ID.')).toBeTruthy();
  });

  it('a trace query can show the latest trace of the range, of a chosen function', async () => {
    const { onChange, onRunQuery } = await renderQueryEditor({ refId: 'A', queryType: 'trace' });
    fireEvent.click(screen.getByRole('switch'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'trace', orLatest: true });
    expect(onRunQuery).toHaveBeenCalled();
    cleanup();
    await renderQueryEditor({ refId: 'A', queryType: 'trace', orLatest: true });
    expect(screen.queryByText('Enter a trace ID.')).toBeNull();
    expect(screen.getByText('Function')).toBeTruthy();
  });

  it('an invocations query keeps the events of one source, run when the field is left', async () => {
    const { onChange, onRunQuery } = await renderQueryEditor({ refId: 'A', queryType: 'invocations', triggerSource: 'other-queue' });
    expect(screen.getByText('Source')).toBeTruthy();
    const input = screen.getByDisplayValue('other-queue');
    fireEvent.change(input, { target: { value: 'orders-queue' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'invocations', triggerSource: 'orders-queue' });
    fireEvent.blur(input);
    expect(onRunQuery).toHaveBeenCalled();
    cleanup();
    await renderQueryEditor({ refId: 'A', queryType: 'logs' });
    expect(screen.queryByText('Source')).toBeNull();
  });

  it('an invocations query keeps the errors of one type, run when the field is left', async () => {
    const { onChange, onRunQuery } = await renderQueryEditor({ refId: 'A', queryType: 'invocations', errorType: 'Runtime.Unknown' });
    expect(screen.getByText('Error type')).toBeTruthy();
    const input = screen.getByDisplayValue('Runtime.Unknown');
    fireEvent.change(input, { target: { value: 'errorString' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'invocations', errorType: 'errorString' });
    fireEvent.blur(input);
    expect(onRunQuery).toHaveBeenCalled();
    cleanup();
    await renderQueryEditor({ refId: 'A', queryType: 'logs' });
    expect(screen.queryByText('Error type')).toBeNull();
  });

  it('an invocations query can keep the failed ones only, run at once', async () => {
    const { onChange, onRunQuery } = await renderQueryEditor({ refId: 'A', queryType: 'invocations' });
    expect(screen.getByText('Failed only')).toBeTruthy();
    fireEvent.click(screen.getByRole('switch'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'invocations', failedOnly: true });
    expect(onRunQuery).toHaveBeenCalled();
    cleanup();
    await renderQueryEditor({ refId: 'A', queryType: 'logs' });
    expect(screen.queryByText('Failed only')).toBeNull();
  });

  it('an annotation query chooses what to mark', async () => {
    const { onChange } = await renderQueryEditor({ refId: 'A', queryType: 'annotations' });
    fireEvent.click(screen.getByText('Deployments'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'annotations', annotation: 'deployments' });
  });
});

describe('ConfigEditor', () => {
  const options = {
    jsonData: { address: 'clickhouse:9000' } as LambdascopeOptions,
    secureJsonFields: {},
  } as never;

  it('writes the address into jsonData', () => {
    const onOptionsChange = vi.fn();
    render(<ConfigEditor options={options} onOptionsChange={onOptionsChange} />);
    fireEvent.change(screen.getByDisplayValue('clickhouse:9000'), { target: { value: 'ch.internal:9440' } });
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ jsonData: expect.objectContaining({ address: 'ch.internal:9440' }) })
    );
  });

  it('names a bad address, and says nothing of a good one', () => {
    render(<ConfigEditor options={{ jsonData: { address: 'http://clickhouse' }, secureJsonFields: {} } as never} onOptionsChange={vi.fn()} />);
    expect(screen.getByText('Address http://clickhouse must look like host:port.')).toBeTruthy();
    cleanup();
    render(<ConfigEditor options={options} onOptionsChange={vi.fn()} />);
    expect(screen.queryByText(/must look like host:port/)).toBeNull();
  });
});

describe('ConfigEditor prices', () => {
  // The editor as Grafana holds it: every change comes back as its options.
  function Held({ initial, seen }: { initial: LambdascopeOptions; seen: (o: LambdascopeOptions) => void }) {
    const [options, setOptions] = useState({ jsonData: initial, secureJsonFields: {} } as never as { jsonData: LambdascopeOptions });
    return (
      <ConfigEditor
        options={options as never}
        onOptionsChange={(o) => {
          seen(o.jsonData);
          setOptions(o as never);
        }}
      />
    );
  }
  const pricesField = () => screen.getByLabelText('Prices (JSON)') as HTMLTextAreaElement;

  it('writes the log class, the Savings Plan and capacity providers as the backend reads them', () => {
    // The backend's settings test loads the same jsonData (settings_test.go).
    const want = JSON.parse(readFileSync(join(process.cwd(), 'pkg/plugin/testdata/editor_settings.json'), 'utf8'));
    let got: LambdascopeOptions = {};
    render(<Held initial={{ address: 'clickhouse:9000' }} seen={(o) => (got = o)} />);
    fireEvent.click(screen.getByText('Infrequent Access'));
    expect(got.prices).toEqual({ observability: { cloudwatch_logs_class: 'infrequent_access' } });
    fireEvent.change(screen.getByPlaceholderText('0'), { target: { value: '12' } });
    expect(got.prices?.savings_plan).toEqual({ discount: 0.12 });
    const typed = JSON.parse(pricesField().value);
    typed.capacity_providers = want.prices.capacity_providers;
    typed.provisioned_concurrency = want.prices.provisioned_concurrency;
    fireEvent.change(pricesField(), { target: { value: JSON.stringify(typed) } });
    expect(got).toEqual(want);
    expect(screen.queryByText('Settings to fix')).toBeNull();
  });

  it('keeps JSON that does not parse as typed, says so, and leaves jsonData as it was', () => {
    const seen = vi.fn();
    render(<Held initial={{ address: 'clickhouse:9000', prices: { savings_plan: { discount: 0.1 } } }} seen={seen} />);
    expect(JSON.parse(pricesField().value)).toEqual({ savings_plan: { discount: 0.1 } });
    expect((screen.getByPlaceholderText('0') as HTMLInputElement).value).toBe('10');
    fireEvent.change(pricesField(), { target: { value: '{"savings_plan": ' } });
    expect(pricesField().value).toBe('{"savings_plan": ');
    expect(seen).not.toHaveBeenCalled();
    expect(screen.getByText(/Prices are not JSON/)).toBeTruthy();
  });

  it('names what the backend would refuse in the prices', () => {
    render(<Held initial={{ address: 'clickhouse:9000', prices: { observability: { cloudwatch_logs_class: 'cold' as never } } }} seen={vi.fn()} />);
    expect(screen.getByText(/cloudwatch_logs_class must be standard or infrequent_access/)).toBeTruthy();
  });
});
