import React, { useState, type ChangeEvent } from 'react';
import type { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { Alert, FieldSet, InlineField, InlineSwitch, Input, RadioButtonGroup, SecretInput, SecretTextArea, TextArea } from '@grafana/ui';

import { formatPrices, logClasses, parsePrices, settingsProblems, withLogClass, withSavingsPlan } from '../query';
import type { LambdascopeOptions, LambdascopeSecureOptions, LogClass, PriceFile } from '../types';

type Props = DataSourcePluginOptionsEditorProps<LambdascopeOptions, LambdascopeSecureOptions>;

const LABEL_WIDTH = 24;

export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields } = options;
  const secureJsonData = options.secureJsonData ?? {};

  const setJson = <K extends keyof LambdascopeOptions>(key: K, value: LambdascopeOptions[K]) =>
    onOptionsChange({ ...options, jsonData: { ...jsonData, [key]: value } });
  const text = (key: 'address' | 'database' | 'username' | 'timeZone' | 'tlsServerName') => (e: ChangeEvent<HTMLInputElement>) =>
    setJson(key, e.currentTarget.value);

  // The prices' JSON as typed: kept while it is not JSON yet, so that a
  // half-typed edit is not lost; jsonData.prices changes only when it is.
  const [pricesText, setPricesText] = useState(formatPrices(jsonData.prices));
  const parsedPrices = parsePrices(pricesText);
  const setPrices = (prices: PriceFile | undefined) => {
    setPricesText(formatPrices(prices));
    setJson('prices', prices);
  };
  const discount = jsonData.prices?.savings_plan?.discount;

  const problems = settingsProblems({ address: '127.0.0.1:9000', ...jsonData });
  if (!jsonData.tls && (secureJsonFields?.tlsCACert || secureJsonData.tlsCACert)) {
    problems.push('A TLS CA certificate needs TLS to be on.');
  }
  if ('problem' in parsedPrices) {
    problems.push(parsedPrices.problem);
  }

  return (
    <>
      <FieldSet label="ClickHouse">
        <InlineField label="Address" labelWidth={LABEL_WIDTH} tooltip="host:port of the native protocol (9000, or 9440 with TLS); several, comma separated">
          <Input width={40} value={jsonData.address ?? ''} placeholder="127.0.0.1:9000" onChange={text('address')} />
        </InlineField>
        <InlineField label="Database" labelWidth={LABEL_WIDTH}>
          <Input width={40} value={jsonData.database ?? ''} placeholder="lambdascope" onChange={text('database')} />
        </InlineField>
        <InlineField label="Username" labelWidth={LABEL_WIDTH}>
          <Input width={40} value={jsonData.username ?? ''} placeholder="default" onChange={text('username')} />
        </InlineField>
        <InlineField label="Password" labelWidth={LABEL_WIDTH}>
          <SecretInput
            width={40}
            isConfigured={Boolean(secureJsonFields?.password)}
            value={secureJsonData.password ?? ''}
            onChange={(e: ChangeEvent<HTMLInputElement>) =>
              onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, password: e.currentTarget.value } })
            }
            onReset={() =>
              onOptionsChange({
                ...options,
                secureJsonFields: { ...secureJsonFields, password: false },
                secureJsonData: { ...secureJsonData, password: '' },
              })
            }
          />
        </InlineField>
      </FieldSet>
      <FieldSet label="Connection">
        <InlineField label="TLS" labelWidth={LABEL_WIDTH}>
          <InlineSwitch value={jsonData.tls ?? false} onChange={(e) => setJson('tls', e.currentTarget.checked)} />
        </InlineField>
        <InlineField label="Skip TLS verification" labelWidth={LABEL_WIDTH} disabled={!jsonData.tls}>
          <InlineSwitch
            value={jsonData.tlsSkipVerify ?? false}
            onChange={(e) => setJson('tlsSkipVerify', e.currentTarget.checked)}
          />
        </InlineField>
        <InlineField
          label="TLS server name"
          labelWidth={LABEL_WIDTH}
          disabled={!jsonData.tls}
          tooltip="The name the server's certificate must hold; default the host of each address"
        >
          <Input width={40} value={jsonData.tlsServerName ?? ''} placeholder="clickhouse.example.com" onChange={text('tlsServerName')} />
        </InlineField>
        <InlineField
          label="TLS CA certificate"
          labelWidth={LABEL_WIDTH}
          disabled={!jsonData.tls}
          tooltip="PEM of the authority that signed the server's certificate, when the system does not trust it"
        >
          <SecretTextArea
            cols={60}
            rows={6}
            placeholder="-----BEGIN CERTIFICATE-----"
            isConfigured={Boolean(secureJsonFields?.tlsCACert)}
            value={secureJsonData.tlsCACert ?? ''}
            onChange={(e: ChangeEvent<HTMLTextAreaElement>) =>
              onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, tlsCACert: e.currentTarget.value } })
            }
            onReset={() =>
              onOptionsChange({
                ...options,
                secureJsonFields: { ...secureJsonFields, tlsCACert: false },
                secureJsonData: { ...secureJsonData, tlsCACert: '' },
              })
            }
          />
        </InlineField>
        <InlineField label="Dial timeout (s)" labelWidth={LABEL_WIDTH}>
          <Input
            type="number"
            width={12}
            value={jsonData.dialTimeoutSeconds ?? ''}
            placeholder="10"
            onChange={(e: ChangeEvent<HTMLInputElement>) =>
              setJson('dialTimeoutSeconds', e.currentTarget.value === '' ? undefined : Number(e.currentTarget.value))
            }
          />
        </InlineField>
        <InlineField label="Default time zone" labelWidth={LABEL_WIDTH} tooltip="IANA zone whose days a daily cost report is bucketed by">
          <Input width={40} value={jsonData.timeZone ?? ''} placeholder="UTC" onChange={text('timeZone')} />
        </InlineField>
      </FieldSet>
      <FieldSet label="Prices">
        <InlineField
          label="CloudWatch Logs class"
          labelWidth={LABEL_WIDTH}
          tooltip="The log class cost by observability compares the extension with: the CloudWatch Logs ingestion the function's log lines would cost"
        >
          <RadioButtonGroup<LogClass>
            options={logClasses}
            value={jsonData.prices?.observability?.cloudwatch_logs_class ?? 'standard'}
            onChange={(v) => setPrices(withLogClass(jsonData.prices, v))}
          />
        </InlineField>
        <InlineField
          label="Savings Plan discount (%)"
          labelWidth={LABEL_WIDTH}
          tooltip="What a Compute Savings Plan takes off compute and provisioned concurrency; empty for none"
        >
          <Input
            type="number"
            width={12}
            value={discount === undefined ? '' : String(Math.round(discount * 1e6) / 1e4)}
            placeholder="0"
            onChange={(e: ChangeEvent<HTMLInputElement>) =>
              setPrices(withSavingsPlan(jsonData.prices, e.currentTarget.value === '' ? undefined : Number(e.currentTarget.value)))
            }
          />
        </InlineField>
        <InlineField
          label="Prices (JSON)"
          labelWidth={LABEL_WIDTH}
          tooltip="The JSON form of the CLI's --prices file: price tables by region, provisioned_concurrency, capacity_providers (Managed Instances: name, region, instance_type, instances, functions), savings_plan, observability (cloudwatch_logs_class, transfer_out and CloudWatch Logs tiers). Empty: AWS's us-east-1 prices."
        >
          <TextArea
            aria-label="Prices (JSON)"
            cols={60}
            rows={8}
            value={pricesText}
            placeholder='{"capacity_providers": [{"name": "fleet", "instance_type": "m7g.large", "instances": 2, "functions": ["orders"]}]}'
            onChange={(e: ChangeEvent<HTMLTextAreaElement>) => {
              const text = e.currentTarget.value;
              setPricesText(text);
              const parsed = parsePrices(text);
              if ('prices' in parsed) {
                setJson('prices', parsed.prices);
              }
            }}
          />
        </InlineField>
      </FieldSet>
      {problems.length > 0 && (
        <Alert title="Settings to fix" severity="warning">
          {problems.map((p) => (
            <div key={p}>{p}</div>
          ))}
        </Alert>
      )}
    </>
  );
}
