import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { DataSource } from './datasource';
import type { LambdascopeOptions, LambdascopeQuery } from './types';

export const plugin = new DataSourcePlugin<DataSource, LambdascopeQuery, LambdascopeOptions>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
