import React, { type ChangeEvent } from 'react';
import type { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { Alert, FieldSet, InlineField, InlineSwitch, Input, SecretInput, SecretTextArea } from '@grafana/ui';

import { settingsProblems } from '../query';
import type { LambdascopeOptions, LambdascopeSecureOptions } from '../types';

type Props = DataSourcePluginOptionsEditorProps<LambdascopeOptions, LambdascopeSecureOptions>;

const LABEL_WIDTH = 24;

export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields } = options;
  const secureJsonData = options.secureJsonData ?? {};

  const setJson = <K extends keyof LambdascopeOptions>(key: K, value: LambdascopeOptions[K]) =>
    onOptionsChange({ ...options, jsonData: { ...jsonData, [key]: value } });
  const text = (key: 'address' | 'database' | 'username' | 'timeZone' | 'tlsServerName') => (e: ChangeEvent<HTMLInputElement>) =>
    setJson(key, e.currentTarget.value);

  const problems = settingsProblems({ address: '127.0.0.1:9000', ...jsonData });
  if (!jsonData.tls && (secureJsonFields?.tlsCACert || secureJsonData.tlsCACert)) {
    problems.push('A TLS CA certificate needs TLS to be on.');
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
