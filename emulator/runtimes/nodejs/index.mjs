// The emulator's Node.js runtime interface client: what Lambda's
// /var/runtime/index.mjs does for a managed Node.js runtime, in short. It
// loads the handler named by _HANDLER ("file.export", the file relative
// to LAMBDA_TASK_ROOT, .js, .mjs or .cjs), then takes events from the
// Runtime API at AWS_LAMBDA_RUNTIME_API one at a time (one loop per
// AWS_LAMBDA_MAX_CONCURRENCY), calls the handler (async, or with a
// callback when it takes three arguments) with the event and a context
// object, and posts its result or its error. console output gets Lambda's
// text format: timestamp, request ID, level, message, one line per call.
import http from 'node:http';
import path from 'node:path';
import fs from 'node:fs';
import util from 'node:util';
import { pathToFileURL } from 'node:url';
import { AsyncLocalStorage } from 'node:async_hooks';

const API = process.env.AWS_LAMBDA_RUNTIME_API;
const [host, port] = API.split(':');
const agent = new http.Agent({ keepAlive: true });
const current = new AsyncLocalStorage();

function call(method, p, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: '/2018-06-01/runtime' + p, agent, headers: headers || {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

for (const [method, level] of [['log', 'INFO'], ['info', 'INFO'], ['warn', 'WARN'], ['error', 'ERROR'], ['debug', 'DEBUG'], ['trace', 'TRACE']]) {
  const stream = level === 'ERROR' || level === 'WARN' ? process.stderr : process.stdout;
  console[method] = (...args) => {
    const id = current.getStore() || 'undefined';
    const msg = util.format(...args).replace(/\n/g, '\r');
    stream.write(`${new Date().toISOString()}\t${id}\t${level}\t${msg}\n`);
  };
}

function errorDocument(err, fallbackType) {
  if (err instanceof Error) {
    return { errorType: err.name || fallbackType, errorMessage: err.message, trace: (err.stack || '').split('\n') };
  }
  return { errorType: fallbackType, errorMessage: String(err), trace: [] };
}

async function postError(p, err, type) {
  const doc = errorDocument(err, type);
  await call('POST', p, JSON.stringify(doc), { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': type || doc.errorType });
}

async function loadHandler() {
  const spec = process.env._HANDLER || '';
  const dot = spec.lastIndexOf('.');
  if (dot <= 0) {
    const e = new Error(`Bad handler ${spec}`);
    e.name = 'Runtime.MalformedHandlerName';
    throw e;
  }
  const file = spec.slice(0, dot);
  const name = spec.slice(dot + 1);
  const root = process.env.LAMBDA_TASK_ROOT;
  const found = ['.js', '.mjs', '.cjs'].map((ext) => path.resolve(root, file + ext)).find((f) => fs.existsSync(f));
  if (!found) {
    const e = new Error(`Cannot find module '${file}'`);
    e.name = 'Runtime.ImportModuleError';
    throw e;
  }
  const mod = await import(pathToFileURL(found).href);
  const fn = mod[name] ?? mod.default?.[name];
  if (typeof fn !== 'function') {
    const e = new Error(`${spec} is undefined or not exported`);
    e.name = 'Runtime.HandlerNotFound';
    throw e;
  }
  return fn;
}

function contextFor(headers) {
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}

function runHandler(handler, event, context) {
  if (handler.length >= 3) {
    return new Promise((resolve, reject) => {
      const r = handler(event, context, (err, result) => (err ? reject(err) : resolve(result)));
      if (r && typeof r.then === 'function') r.then(resolve, reject);
    });
  }
  return Promise.resolve().then(() => handler(event, context));
}

async function loop(handler) {
  for (;;) {
    const next = await call('GET', '/invocation/next');
    const id = next.headers['lambda-runtime-aws-request-id'];
    if (next.headers['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = next.headers['lambda-runtime-trace-id'];
    await current.run(id, async () => {
      let event;
      try {
        event = JSON.parse(next.body);
      } catch (err) {
        await postError(`/invocation/${id}/error`, err, 'Runtime.UnmarshalError');
        return;
      }
      let result;
      try {
        result = await runHandler(handler, event, contextFor(next.headers));
      } catch (err) {
        console.error('Invoke Error', JSON.stringify(errorDocument(err, 'Error')));
        await postError(`/invocation/${id}/error`, err);
        return;
      }
      await call('POST', `/invocation/${id}/response`, JSON.stringify(result === undefined ? null : result), { 'Content-Type': 'application/json' });
    });
  }
}

let handler;
try {
  handler = await loadHandler();
} catch (err) {
  console.error('Init Error', JSON.stringify(errorDocument(err, 'Runtime.Unknown')));
  await postError('/init/error', err, err.name);
  process.exit(1);
}
const loops = Math.max(1, parseInt(process.env.AWS_LAMBDA_MAX_CONCURRENCY || '1', 10) || 1);
for (let i = 0; i < loops; i++) {
  loop(handler).catch((err) => {
    console.error('runtime:', err);
    process.exit(1);
  });
}
