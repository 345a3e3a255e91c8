// Builds dist/module.js the way Grafana loads a plugin: one AMD module
// whose dependencies (@grafana/*, react) are the copies Grafana provides at
// run time. Copies plugin.json (version and date filled in), README.md
// and the images plugin.json names (src/img) next to it.
import { build } from 'esbuild';
import { copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const external = ['@grafana/data', '@grafana/runtime', '@grafana/ui', 'react', 'react-dom'];
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));

const result = await build({
  entryPoints: ['src/module.ts'],
  bundle: true,
  format: 'cjs',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  sourcemap: false,
  external,
  write: false,
  logLevel: 'warning',
});

const deps = JSON.stringify(external);
const params = external.map((_, i) => `d${i}`).join(',');
const table = external.map((name, i) => `${JSON.stringify(name)}:d${i}`).join(',');
const amd =
  `define(${deps},function(${params}){var m={${table}};` +
  `var require=function(n){if(!(n in m))throw new Error("module "+n+" is not provided by Grafana");return m[n]};` +
  `var module={exports:{}},exports=module.exports;\n${result.outputFiles[0].text}\nreturn module.exports;});\n`;

mkdirSync('dist', { recursive: true });
writeFileSync('dist/module.js', amd);
const pluginJSON = readFileSync('src/plugin.json', 'utf8')
  .replace('%VERSION%', pkg.version)
  .replace('%TODAY%', new Date().toISOString().slice(0, 10));
writeFileSync('dist/plugin.json', pluginJSON);
copyFileSync('README.md', 'dist/README.md');
cpSync('src/img', 'dist/img', { recursive: true });
console.log(`dist/module.js: ${amd.length} bytes`);
