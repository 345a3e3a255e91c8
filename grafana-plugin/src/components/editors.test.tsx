// @vitest-environment jsdom
import React from 'react';
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
