import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    environment: 'node',
    // @grafana/data imports CommonJS modules (moment-timezone) by name;
    // transformed by Vite, they load in Node as in Grafana's bundle.
    server: { deps: { inline: [/@grafana\/data/, /@grafana\/ui/, /uplot/] } },
  },
});
