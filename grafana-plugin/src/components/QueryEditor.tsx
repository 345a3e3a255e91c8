import React, { useEffect, useState, type ChangeEvent } from 'react';
import type { QueryEditorProps, SelectableValue } from '@grafana/data';
import { Alert, InlineField, InlineFieldRow, InlineSwitch, Input, MultiSelect, RadioButtonGroup, Select } from '@grafana/ui';

import type { DataSource } from '../datasource';
import {
  DEFAULT_LIMIT,
  DEFAULT_TRACE_COST_LIMIT,
  defaultQuery,
  formatAttributes,
  metricNames,
  parseAttributes,
  queryProblem,
  queryTypeOptions,
  spikeSeriesNames,
  withQueryType,
  annotationKinds,
} from '../query';
import type { AnnotationKind, CostBy, LambdascopeOptions, LambdascopeQuery, QueryType, SpanStatus, SpikeFormat } from '../types';

type Props = QueryEditorProps<DataSource, LambdascopeQuery, LambdascopeOptions>;

const statusOptions: Array<SelectableValue<SpanStatus>> = [
  { label: 'Any', value: '' },
  { label: 'Error', value: 'error' },
  { label: 'OK', value: 'ok' },
  { label: 'Unset', value: 'unset' },
];

const costByOptions: Array<SelectableValue<CostBy>> = [
  { label: 'Function', value: 'function' },
  { label: 'Version', value: 'version' },
  { label: 'Day', value: 'day' },
  { label: 'Observability', value: 'observability' },
  { label: 'Tenant', value: 'tenant' },
];

const metricOptions: Array<SelectableValue<string>> = metricNames.map((m) => ({ label: m, value: m }));

const completenessFormatOptions: Array<SelectableValue<SpikeFormat>> = [
  { label: 'Table', value: 'table', description: 'Expected and stored per function and hour, and where the rest went' },
  { label: 'Time series', value: 'timeSeries', description: 'The stored share per function and hour (alert rules)' },
];

const spikeFormatOptions: Array<SelectableValue<SpikeFormat>> = [
  { label: 'Table', value: 'table', description: 'The verdict per function at the end of the range' },
  { label: 'Time series', value: 'timeSeries', description: 'The verdict at every step (alert rules)' },
];

const spikeSeriesOptions: Array<SelectableValue<string>> = spikeSeriesNames.map((m) => ({ label: m, value: m }));

type NumberKey =
  | 'limit'
  | 'minDurationMs'
  | 'maxDurationMs'
  | 'stepSeconds'
  | 'windowMinutes'
  | 'baselineMinutes'
  | 'minInvocations'
  | 'minErrors'
  | 'minColdStarts';

type Options = Array<SelectableValue<string>>;

// Parts are what the rows of every query type share: the query with its
// defaults, the ways to change it, and the function picker and limit field.
interface Parts {
  q: LambdascopeQuery;
  onRunQuery: () => void;
  update: (patch: Partial<LambdascopeQuery>, run?: boolean) => void;
  text: (key: 'traceId' | 'requestId' | 'tenantId' | 'triggerSource' | 'errorType' | 'text') => (e: ChangeEvent<HTMLInputElement>) => void;
  num: (key: NumberKey) => (e: ChangeEvent<HTMLInputElement>) => void;
  functionPicker: React.ReactNode;
  limitField: React.ReactNode;
}

const asOptions = (names: string[]): Options => names.map((n) => ({ label: n, value: n }));

// useFunctionOptions lists the functions of the range for the function picker.
function useFunctionOptions(datasource: DataSource, range: Props['range']): Options {
  const [functions, setFunctions] = useState<Options>([]);
  useEffect(() => {
    let cancelled = false;
    datasource
      .getFunctions(range)
      .then((names) => !cancelled && setFunctions(asOptions(names)))
      .catch(() => !cancelled && setFunctions([]));
    return () => {
      cancelled = true;
    };
  }, [datasource, range]);
  return functions;
}

// useSearchPickers lists span names, services and attribute keys for a
// search; they follow the chosen function, and are not read for other
// query types (searchFunction undefined).
function useSearchPickers(datasource: DataSource, range: Props['range'], searchFunction: string | undefined) {
  const [spanNames, setSpanNames] = useState<Options>([]);
  const [services, setServices] = useState<Options>([]);
  const [attributeKeys, setAttributeKeys] = useState<Options>([]);
  useEffect(() => {
    if (searchFunction === undefined) {
      return;
    }
    let cancelled = false;
    const load = (get: Promise<string[]>, set: (v: Options) => void) =>
      get.then((names) => !cancelled && set(asOptions(names))).catch(() => !cancelled && set([]));
    load(datasource.getSpanNames(range, searchFunction), setSpanNames);
    load(datasource.getServiceNames(range, searchFunction), setServices);
    load(datasource.getAttributeKeys(range, searchFunction), setAttributeKeys);
    return () => {
      cancelled = true;
    };
  }, [datasource, range, searchFunction]);
  return { spanNames, services, attributeKeys };
}

// editorParts builds the shared parts of the editor for q.
function editorParts(q: LambdascopeQuery, functions: Options, onChange: Props['onChange'], onRunQuery: () => void): Parts {
  const update = (patch: Partial<LambdascopeQuery>, run = false) => {
    onChange({ ...q, ...patch });
    if (run) {
      onRunQuery();
    }
  };
  const text = (key: 'traceId' | 'requestId' | 'tenantId' | 'triggerSource' | 'errorType' | 'text') => (e: ChangeEvent<HTMLInputElement>) =>
    update({ [key]: e.currentTarget.value });
  const num = (key: NumberKey) => (e: ChangeEvent<HTMLInputElement>) =>
    update({ [key]: e.currentTarget.value === '' ? undefined : Number(e.currentTarget.value) });
  const functionPicker = (
    <InlineField label="Function" labelWidth={12}>
      <Select
        width={30}
        isClearable
        allowCustomValue
        options={functions}
        value={q.functionName ? { label: q.functionName, value: q.functionName } : null}
        onChange={(v) => update({ functionName: v?.value ?? '' }, true)}
      />
    </InlineField>
  );
  const limitField = (
    <InlineField label="Limit" labelWidth={8}>
      <Input
        type="number"
        width={10}
        value={q.limit ?? ''}
        placeholder={String(DEFAULT_LIMIT)}
        onChange={num('limit')}
        onBlur={onRunQuery}
      />
    </InlineField>
  );
  return { q, onRunQuery, update, text, num, functionPicker, limitField };
}

function TraceRow({ q, text, update, onRunQuery, functionPicker }: Parts) {
  return (
    <InlineFieldRow>
      <InlineField label="Trace ID" labelWidth={12} grow>
        <Input
          value={q.traceId ?? ''}
          placeholder="4bf92f3577b34da6a3ce929d0e0e4736 or 1-4bf92f35-77b34da6a3ce929d0e0e4736"
          onChange={text('traceId')}
          onBlur={onRunQuery}
        />
      </InlineField>
      <InlineField
        label="Latest if empty"
        labelWidth={16}
        tooltip="Without a trace ID, show the latest failed trace of the time range (of the function, when chosen), else its latest trace"
      >
        <InlineSwitch value={q.orLatest ?? false} onChange={(e) => update({ orLatest: e.currentTarget.checked }, true)} />
      </InlineField>
      {q.orLatest && !q.traceId?.trim() && functionPicker}
    </InlineFieldRow>
  );
}

interface SearchProps {
  parts: Parts;
  pickers: ReturnType<typeof useSearchPickers>;
  // attributesText is the attributes field as typed, kept by the editor so
  // that it outlives a switch to another query type.
  attributesText: string;
  setAttributesText: (v: string) => void;
}

function SearchRows({ parts, pickers, attributesText, setAttributesText }: SearchProps) {
  const { q, update, num, onRunQuery, functionPicker, limitField } = parts;
  return (
    <>
      <InlineFieldRow>
        {functionPicker}
        <InlineField label="Service" labelWidth={10}>
          <Select
            width={24}
            isClearable
            allowCustomValue
            options={pickers.services}
            value={q.serviceName ? { label: q.serviceName, value: q.serviceName } : null}
            onChange={(v) => update({ serviceName: v?.value ?? '' }, true)}
          />
        </InlineField>
        <InlineField label="Span name" labelWidth={12}>
          <Select
            width={24}
            isClearable
            allowCustomValue
            options={pickers.spanNames}
            value={q.spanName ? { label: q.spanName, value: q.spanName } : null}
            onChange={(v) => update({ spanName: v?.value ?? '' }, true)}
          />
        </InlineField>
        <InlineField label="Status" labelWidth={8}>
          <Select width={12} options={statusOptions} value={q.status ?? ''} onChange={(v) => update({ status: v.value ?? '' }, true)} />
        </InlineField>
      </InlineFieldRow>
      <InlineFieldRow>
        <InlineField label="Min ms" labelWidth={12}>
          <Input type="number" width={12} value={q.minDurationMs ?? ''} onChange={num('minDurationMs')} onBlur={onRunQuery} />
        </InlineField>
        <InlineField label="Max ms" labelWidth={10}>
          <Input type="number" width={12} value={q.maxDurationMs ?? ''} onChange={num('maxDurationMs')} onBlur={onRunQuery} />
        </InlineField>
        <InlineField label="Attributes" labelWidth={12} tooltip="key=value pairs, comma separated; all must match one span">
          <Input
            width={40}
            value={attributesText}
            placeholder="http.route=/orders, db.system=dynamodb"
            onChange={(e: ChangeEvent<HTMLInputElement>) => setAttributesText(e.currentTarget.value)}
            onBlur={() => update({ attributes: parseAttributes(attributesText) }, true)}
          />
        </InlineField>
        <InlineField label="Add key" labelWidth={10} tooltip="Span attribute keys seen in the range">
          <Select
            width={20}
            options={pickers.attributeKeys}
            value={null}
            onChange={(v) => v?.value && setAttributesText(attributesText.trim() === '' ? `${v.value}=` : `${attributesText}, ${v.value}=`)}
          />
        </InlineField>
        <InlineField label="Cold starts only" labelWidth={16}>
          <InlineSwitch value={q.coldStartOnly ?? false} onChange={(e) => update({ coldStartOnly: e.currentTarget.checked }, true)} />
        </InlineField>
        {limitField}
      </InlineFieldRow>
    </>
  );
}

function RequestRow({ q, text, update, onRunQuery, functionPicker, limitField }: Parts) {
  const type = q.queryType;
  return (
    <InlineFieldRow>
      {functionPicker}
      <InlineField label="Request ID" labelWidth={12}>
        <Input width={30} value={q.requestId ?? ''} onChange={text('requestId')} onBlur={onRunQuery} />
      </InlineField>
      <InlineField label="Trace ID" labelWidth={10}>
        <Input width={36} value={q.traceId ?? ''} onChange={text('traceId')} onBlur={onRunQuery} />
      </InlineField>
      {type === 'invocations' && (
        <InlineField label="Tenant" labelWidth={8} tooltip="Functions in tenant isolation mode">
          <Input width={20} value={q.tenantId ?? ''} onChange={text('tenantId')} onBlur={onRunQuery} />
        </InlineField>
      )}
      {type === 'invocations' && (
        <InlineField
          label="Source"
          labelWidth={8}
          tooltip="Where the event came from: a queue's, topic's, bucket's, table's or stream's name, a route such as POST /orders/{id}, a schedule's rule"
        >
          <Input width={24} value={q.triggerSource ?? ''} onChange={text('triggerSource')} onBlur={onRunQuery} />
        </InlineField>
      )}
      {type === 'invocations' && (
        <InlineField label="Failed only" labelWidth={12} tooltip="A status other than success, or an HTTP status of 500 or more">
          <InlineSwitch value={q.failedOnly ?? false} onChange={(e) => update({ failedOnly: e.currentTarget.checked }, true)} />
        </InlineField>
      )}
      {type === 'invocations' && (
        <InlineField
          label="Error type"
          labelWidth={11}
          tooltip="The platform's (Runtime.Unknown) or the function's own (errorString, TypeError, ValueError)"
        >
          <Input width={20} value={q.errorType ?? ''} onChange={text('errorType')} onBlur={onRunQuery} />
        </InlineField>
      )}
      {type === 'logs' && (
        <InlineField label="Contains" labelWidth={10}>
          <Input width={24} value={q.text ?? ''} onChange={text('text')} onBlur={onRunQuery} />
        </InlineField>
      )}
      {limitField}
    </InlineFieldRow>
  );
}

function MetricsRow({ q, update, num, onRunQuery, functionPicker }: Parts) {
  return (
    <InlineFieldRow>
      {functionPicker}
      <InlineField label="Metrics" labelWidth={10}>
        <MultiSelect
          width={50}
          options={metricOptions}
          value={q.metrics ?? ['invocations']}
          onChange={(v) => update({ metrics: v.map((o) => o.value ?? '').filter((m) => m !== '') }, true)}
        />
      </InlineField>
      <InlineField label="Step (s)" labelWidth={10} tooltip="Bucket width; empty follows the panel's interval (at least 60 s)">
        <Input type="number" width={10} value={q.stepSeconds ?? ''} onChange={num('stepSeconds')} onBlur={onRunQuery} />
      </InlineField>
      <InlineField
        label="Whole range"
        labelWidth={12}
        tooltip="One point per function over the whole time range, whatever the clock: for alert rules on the last N minutes"
      >
        <InlineSwitch value={q.wholeRange ?? false} onChange={(e) => update({ wholeRange: e.currentTarget.checked }, true)} />
      </InlineField>
    </InlineFieldRow>
  );
}

function AnnotationsRow({ q, update, num, onRunQuery, functionPicker }: Parts) {
  return (
    <InlineFieldRow>
      {functionPicker}
      <InlineField label="Mark" labelWidth={8}>
        <RadioButtonGroup<AnnotationKind>
          options={annotationKinds}
          value={q.annotation}
          onChange={(v) => update({ annotation: v }, true)}
        />
      </InlineField>
      {q.annotation === 'coldStartStorms' && (
        <InlineField label="Cold starts a minute" labelWidth={20} tooltip="How many cold starts in a minute make a storm (default 10)">
          <Input type="number" width={8} value={q.minColdStarts ?? ''} placeholder="10" onChange={num('minColdStarts')} onBlur={onRunQuery} />
        </InlineField>
      )}
    </InlineFieldRow>
  );
}

function CostRow({ q, update, functionPicker }: Parts) {
  return (
    <InlineFieldRow>
      {functionPicker}
      <InlineField label="Group by" labelWidth={10}>
        <RadioButtonGroup<CostBy>
          options={costByOptions}
          value={q.costBy ?? 'function'}
          onChange={(v) => update({ costBy: v }, true)}
        />
      </InlineField>
    </InlineFieldRow>
  );
}

function TraceCostRow({ q, text, num, onRunQuery, functionPicker }: Parts) {
  return (
    <InlineFieldRow>
      <InlineField label="Trace ID" labelWidth={12} tooltip="One trace per invocation; empty lists the costliest traces of the range">
        <Input width={36} value={q.traceId ?? ''} onChange={text('traceId')} onBlur={onRunQuery} />
      </InlineField>
      {!q.traceId?.trim() && (
        <>
          {functionPicker}
          <InlineField label="Traces" labelWidth={8}>
            <Input
              type="number"
              width={10}
              value={q.limit ?? ''}
              placeholder={String(DEFAULT_TRACE_COST_LIMIT)}
              onChange={num('limit')}
              onBlur={onRunQuery}
            />
          </InlineField>
        </>
      )}
    </InlineFieldRow>
  );
}

function SpikesRows({ q, update, num, onRunQuery, functionPicker }: Parts) {
  return (
    <>
      <InlineFieldRow>
        {functionPicker}
        <InlineField label="Show as" labelWidth={10}>
          <RadioButtonGroup<SpikeFormat>
            options={spikeFormatOptions}
            value={q.format ?? 'table'}
            onChange={(v) => update({ format: v }, true)}
          />
        </InlineField>
        {q.format === 'timeSeries' && (
          <InlineField label="Series" labelWidth={8}>
            <MultiSelect
              width={40}
              options={spikeSeriesOptions}
              value={q.spikeSeries ?? ['errorRate', 'baselineRate']}
              onChange={(v) => update({ spikeSeries: v.map((o) => o.value ?? '').filter((m) => m !== '') }, true)}
            />
          </InlineField>
        )}
      </InlineFieldRow>
      <InlineFieldRow>
        <InlineField label="Window (min)" labelWidth={12} tooltip="The recent span whose error rate is judged; default 5">
          <Input type="number" width={10} value={q.windowMinutes ?? ''} placeholder="5" onChange={num('windowMinutes')} onBlur={onRunQuery} />
        </InlineField>
        <InlineField label="Baseline (min)" labelWidth={14} tooltip="The span before the window it is compared with; default 60">
          <Input type="number" width={10} value={q.baselineMinutes ?? ''} placeholder="60" onChange={num('baselineMinutes')} onBlur={onRunQuery} />
        </InlineField>
        <InlineField label="Min invocations" labelWidth={16} tooltip="In the window, for a function to be judged; default 20">
          <Input type="number" width={10} value={q.minInvocations ?? ''} placeholder="20" onChange={num('minInvocations')} onBlur={onRunQuery} />
        </InlineField>
        <InlineField label="Min errors" labelWidth={12} tooltip="In the window, for a spike; default 5">
          <Input type="number" width={10} value={q.minErrors ?? ''} placeholder="5" onChange={num('minErrors')} onBlur={onRunQuery} />
        </InlineField>
      </InlineFieldRow>
    </>
  );
}

function CompletenessRow({ q, update, functionPicker }: Parts) {
  return (
    <InlineFieldRow>
      {functionPicker}
      <InlineField label="Show as" labelWidth={10}>
        <RadioButtonGroup<SpikeFormat>
          options={completenessFormatOptions}
          value={q.format ?? 'table'}
          onChange={(v) => update({ format: v }, true)}
        />
      </InlineField>
    </InlineFieldRow>
  );
}

function RightsizeRow({ q, num, onRunQuery, functionPicker }: Parts) {
  return (
    <InlineFieldRow>
      {functionPicker}
      <InlineField label="Min invocations" labelWidth={16} tooltip="Invocations a configuration needs before it is advised on; default 100">
        <Input type="number" width={10} value={q.minInvocations ?? ''} placeholder="100" onChange={num('minInvocations')} onBlur={onRunQuery} />
      </InlineField>
    </InlineFieldRow>
  );
}

// rowsOf are the rows a query type shows below the query type picker.
const rowsOf: Partial<Record<QueryType, (p: Parts) => React.ReactNode>> = {
  trace: TraceRow,
  invocations: RequestRow,
  logs: RequestRow,
  metrics: MetricsRow,
  annotations: AnnotationsRow,
  cost: CostRow,
  traceCost: TraceCostRow,
  spikes: SpikesRows,
  completeness: CompletenessRow,
  rightsize: RightsizeRow,
};

export function QueryEditor({ datasource, query, onChange, onRunQuery, range }: Props) {
  const q: LambdascopeQuery = { ...defaultQuery, ...query };
  const type = q.queryType;
  const functions = useFunctionOptions(datasource, range);
  const [attributesText, setAttributesText] = useState(formatAttributes(q.attributes));
  const pickers = useSearchPickers(datasource, range, type === 'search' ? (q.functionName ?? '') : undefined);
  const parts = editorParts(q, functions, onChange, onRunQuery);
  const Rows = type === undefined ? undefined : rowsOf[type];
  const problem = queryProblem(q);
  return (
    <>
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={12}>
          <RadioButtonGroup<QueryType> options={queryTypeOptions} value={type} onChange={(v) => {
              onChange(withQueryType(q, v));
              onRunQuery();
            }} />
        </InlineField>
      </InlineFieldRow>
      {type === 'search' && (
        <SearchRows parts={parts} pickers={pickers} attributesText={attributesText} setAttributesText={setAttributesText} />
      )}
      {Rows && <Rows {...parts} />}
      {problem && <Alert title={problem} severity="info" />}
    </>
  );
}
