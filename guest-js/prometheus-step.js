// Write prometheus-wasm steps in JavaScript.
//
// A thin layer over the `prometheus:step@0.1.0` imports (wit/step.wit), so that a step
// package reads like a `steps.py` of the Python framework prometheus-test:
//
//   import { TestStep, exportSteps, fail, get, skip } from './prometheus-step.js';
//
//   function checkPrepare(runner, worker) { return { url: worker.endpoint('/health') }; }
//   function checkExecute(runner, worker, data) {
//     const health = get(data.url).expectStatus(200).json();
//     if (health.worker !== worker.name) fail(`${worker.name} answered as ${health.worker}`);
//     return { healthy: true };
//   }
//
//   const steps = [new TestStep('check-health', 'The worker answers', checkPrepare, checkExecute, 'worker1')];
//   export const { manifest, prepare, execute, postLoad } = exportSteps(steps);
//
// `prepare(runner, worker, params)` returns JSON-serialisable data; `execute(runner, worker,
// data, params)` returns the step's result (any JSON value) or `skip('why')`. `params` are
// the step's default parameters, listed in the manifest.
//
// Errors: anything thrown ends the step; the error's message is the step's error, followed
// by its stack for an `Error` that is not a `fail(...)`. Nothing traps.
//
// Every step runs in a fresh instance: module-level variables do not survive from one step
// to the next; keep what later steps need with `runner.set`.
//
// Build: copy this file beside your steps module and run `componentize-qjs --wit wit
// --js steps.js --module-root DIR -n steps --sync -o steps.wasm` (scripts/build-polyglot.sh).

import * as config from 'prometheus:step/config@0.1.0';
import * as http from 'prometheus:step/http@0.1.0';
import * as log from 'prometheus:step/log@0.1.0';
import * as mongo from 'prometheus:step/mongo@0.1.0';
import * as state from 'prometheus:step/state@0.1.0';
import * as worker from 'prometheus:step/worker@0.1.0';

/** A deliberate step failure: its message is the step's error, without a stack. */
export class StepFailed extends Error {}

/** Ends the step with `message` as its error (like `fail!` in the Rust SDK). */
export function fail(message) {
  throw new StepFailed(message);
}

/** The outcome of a step that chose not to run. */
export class Skip {
  constructor(reason) {
    this.reason = reason;
  }
}

/** Return this from `execute` to record the step as skipped; the run goes on. */
export function skip(reason) {
  return new Skip(reason);
}

/** The text of an error thrown by a binding (`ComponentError` with a `payload`). */
function payloadText(error) {
  const payload = error && error.payload !== undefined ? error.payload : error;
  if (payload && typeof payload === 'object' && 'val' in payload) return `${payload.tag}: ${payload.val}`;
  return String(payload);
}

// UTF-8 text <-> bytes. QuickJS has no TextEncoder/TextDecoder; use them where they exist.
function utf8Encode(text) {
  if (typeof TextEncoder !== 'undefined') return new TextEncoder().encode(text);
  const bytes = [];
  for (const ch of text) {
    const c = ch.codePointAt(0);
    if (c < 0x80) bytes.push(c);
    else if (c < 0x800) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else bytes.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return new Uint8Array(bytes);
}

function utf8Decode(bytes) {
  if (typeof TextDecoder !== 'undefined') return new TextDecoder().decode(bytes);
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    const need = b < 0x80 ? 0 : b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : b >= 0xc0 ? 1 : -1;
    let c = need === 0 ? b : need === 1 ? b & 31 : need === 2 ? b & 15 : b & 7;
    let ok = need >= 0 && i + need < bytes.length;
    for (let k = 1; ok && k <= need; k++) {
      const n = bytes[i + k];
      if (n === undefined || (n & 0xc0) !== 0x80) ok = false;
      else c = (c << 6) | (n & 63);
    }
    if (!ok) {
      out += '\ufffd';
      i += 1;
      continue;
    }
    out += String.fromCodePoint(c);
    i += need + 1;
  }
  return out;
}

const parse = (text, fallback) => (text === undefined || text === null ? fallback : JSON.parse(text));

// runner and worker ----------------------------------------------------------------------

/** One worker server, like prometheus-test's `worker`: `get(key)`, `getEnv(name)`. */
export class Worker {
  constructor(name) {
    this.name = name;
  }

  /** A value of the worker: `url`, `port`, `database_path`, or any workers.json key. */
  get(key, fallback) {
    return parse(worker.get(this.name, key), fallback);
  }

  /** A variable of the environment the worker server runs with, or undefined. */
  getEnv(name) {
    return worker.env(this.name, name) ?? undefined;
  }

  /** The worker's base URL, e.g. `http://127.0.0.1:5600`. */
  get url() {
    const url = this.get('url');
    if (typeof url !== 'string') fail(`worker ${this.name} has no url`);
    return url;
  }

  /** The worker's URL with `path` appended: `worker.endpoint('/health')`. */
  endpoint(path) {
    return `${this.url.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
  }

  /** The base58 public key of this worker's `kind` keypair ('staking' or 'main'), or
   * undefined when workers.json gives it none. */
  publicKey(kind = 'staking') {
    return publicKey(kind, this.name);
  }

  /** Signs `payload` with this worker's `kind` keypair; see `sign`. */
  sign(payload, kind = 'staking') {
    return sign(payload, kind, this.name);
  }
}

/** The runner's side of a step: state, configuration and logging. */
export class Runner {
  /** The current round, counting from 1. */
  get currentRound() {
    return state.currentRound();
  }

  /** `task_id` of config.yaml. */
  get taskId() {
    return config.taskId();
  }

  /** The state value under `key` (round, then global, then config.yaml), or `fallback`. */
  get(key, fallback) {
    return parse(state.get(key), fallback);
  }

  /** Stores `value` (JSON-serialisable) under `key`; `scope` is 'round' or 'global'. */
  set(key, value, scope = 'round') {
    if (scope !== 'round' && scope !== 'global') throw new TypeError(`scope must be 'round' or 'global', not ${scope}`);
    try {
      state.set(key, JSON.stringify(value ?? null), scope);
    } catch (e) {
      fail(`cannot set ${key}: ${payloadText(e)}`);
    }
  }

  /** A value of config.yaml (dot notation reaches into maps), or `fallback`. */
  config(key, fallback) {
    return parse(config.get(key), fallback);
  }

  /** The worker called `name`; the step's own worker when `name` is omitted. */
  worker(name) {
    return new Worker(name ?? worker.current());
  }

  /** Every worker, in workers.json order. */
  get workers() {
    return worker.names().map((name) => new Worker(name));
  }

  /** Writes a line under the step's banner; `level` is trace/debug/info/warn/error. */
  log(message, level = 'info') {
    log.log(level, String(message));
  }

  /** Writes an info line under the step's banner. */
  info(message) {
    log.log('info', String(message));
  }

  /** Writes a warning line under the step's banner. */
  warn(message) {
    log.log('warn', String(message));
  }
}

// The QuickJS runtime has no `console`: send it to the step log.
if (typeof globalThis.console === 'undefined') {
  const line = (level) => (...args) =>
    log.log(level, args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
  globalThis.console = { log: line('info'), info: line('info'), debug: line('debug'), warn: line('warn'), error: line('error') };
}

// http -------------------------------------------------------------------------------------

/** No response: the destination is denied, unreachable, too slow or too large. */
export class HttpError extends Error {}

/** An HTTP response; any status, 4xx and 5xx included. */
export class Response {
  constructor(method, url, raw) {
    this.method = method;
    this.url = url;
    this.status = raw.status;
    this.headers = raw.headers;
    this.body = raw.body;
  }

  /** Whether the status is 2xx. */
  get ok() {
    return this.status >= 200 && this.status < 300;
  }

  /** The first value of header `name` (any case), or undefined. */
  header(name) {
    const want = name.toLowerCase();
    const found = this.headers.find(([k]) => k.toLowerCase() === want);
    return found ? found[1] : undefined;
  }

  /** The server's `message` (or `error`), else the body, for a failure message. */
  detail() {
    let detail = this.text;
    try {
      const body = JSON.parse(detail);
      if (body && typeof body === 'object') detail = body.message ?? body.error ?? detail;
    } catch (_) {
      // not JSON: quote the body as it is
    }
    return String(detail).slice(0, 200);
  }

  /** This response if its status is 2xx; else a step failure quoting the server's message. */
  errorForStatus() {
    if (!this.ok) fail(`${this.method} ${this.url}: status ${this.status}: ${this.detail()}`);
    return this;
  }

  /** The body as UTF-8 text. */
  get text() {
    return utf8Decode(this.body);
  }

  /** The body parsed as JSON; a step failure naming the request when it is not JSON. */
  json() {
    try {
      return JSON.parse(this.text);
    } catch (e) {
      fail(`${this.method} ${this.url}: the answer is not JSON (${e.message}): ${this.text.slice(0, 200)}`);
    }
  }

  /** This response if its status is one of `expected`; else a step failure quoting the
   * server's `message` (or body). */
  expectStatus(...expected) {
    if (!expected.includes(this.status)) {
      fail(`${this.method} ${this.url}: expected status ${expected.join(' or ')}, got ${this.status}: ${this.detail()}`);
    }
    return this;
  }
}

/** Sends a request; `json` is serialised with `content-type: application/json`. */
export function request(method, url, { json, body, headers = {}, timeoutMs } = {}) {
  const pairs = Object.entries(headers);
  if (json !== undefined) {
    body = utf8Encode(JSON.stringify(json));
    pairs.push(['content-type', 'application/json']);
  }
  let raw;
  try {
    raw = http.send({ method, url, headers: pairs, body, timeoutMs });
  } catch (e) {
    throw new HttpError(`${method} ${url}: ${payloadText(e)}`);
  }
  return new Response(method, url, raw);
}

/** `GET url`. */
export const get = (url, options) => request('GET', url, options);

/** `POST url` with a JSON body. */
export const post = (url, json, options = {}) => request('POST', url, { ...options, json });

/** `PUT url` with a JSON body. */
export const put = (url, json, options = {}) => request('PUT', url, { ...options, json });

/** `PATCH url` with a JSON body. */
export const patch = (url, json, options = {}) => request('PATCH', url, { ...options, json });

/** `DELETE url` (also exported as `delete`). */
export const del = (url, options) => request('DELETE', url, options);
export { del as delete };

// signing ----------------------------------------------------------------------------------

/** A signing call failed: no such keypair, a payload that is not JSON, or a signature the
 * key did not make. */
export class SigningError extends Error {}

/** JSON text to sign as it is written. A JavaScript number cannot tell `1.0` from `1` or
 * hold integers past 2^53; Python's `json.dumps` (which the signature must match) can, so
 * pass such payloads as text: `sign(rawJson('{"x": 1.0}'))`. */
export class RawJson {
  constructor(text) {
    this.text = String(text);
  }
}

/** Wraps JSON text so that `sign` passes it unchanged (see `RawJson`). */
export const rawJson = (text) => new RawJson(text);

const KEY_KINDS = { staking: 'staking', main: 'main', public: 'main' };

function keyKind(kind) {
  if (!(kind in KEY_KINDS)) throw new TypeError(`key kind must be 'staking' or 'main', not ${kind}`);
  return KEY_KINDS[kind];
}

/** The base58 public key of a worker's keypair ('staking' or 'main'); `workerName`
 * undefined is the step's worker. Undefined when that worker has no such keypair. */
export function publicKey(kind = 'staking', workerName) {
  return worker.publicKey(workerName, keyKind(kind)) ?? undefined;
}

/** Signs `payload` (any JSON value, or `rawJson(text)`) with a worker's keypair exactly as
 * prometheus-test's `create_signature`: `base58(ed25519(p) || p)` with `p` Python's
 * `json.dumps(payload, sort_keys=True)`. The host signs; the private key never enters the
 * step. */
export function sign(payload, kind = 'staking', workerName) {
  const text = payload instanceof RawJson ? payload.text : JSON.stringify(payload ?? null);
  try {
    return worker.sign(workerName, keyKind(kind), text);
  } catch (e) {
    throw new SigningError(`cannot sign with the ${kind} key of ${workerName ?? worker.current()}: ${payloadText(e)}`);
  }
}

/** Opens a signature made by `key` (base58) and returns the signed payload text exactly
 * as signed; throws `SigningError` when that key did not make it. */
export function verifyText(signature, key) {
  try {
    return worker.verify(signature, key);
  } catch (e) {
    throw new SigningError(`signature rejected: ${payloadText(e)}`);
  }
}

/** Like `verifyText`, returning the signed payload parsed. */
export const verify = (signature, key) => JSON.parse(verifyText(signature, key));

// mongo ------------------------------------------------------------------------------------

/** A database call failed; `code` is the server's error code when it gave one. */
export class MongoError extends Error {
  constructor(message, code) {
    super(code === undefined ? message : `${message} (code ${code})`);
    this.code = code;
  }
}

function mongoCall(what, call) {
  try {
    return call();
  } catch (e) {
    const p = e && e.payload !== undefined ? e.payload : e;
    if (p && typeof p === 'object' && 'message' in p) throw new MongoError(`${what}: ${p.message}`, p.code);
    throw new MongoError(`${what}: ${payloadText(e)}`);
  }
}

/** An update's result with plain numbers (the bindings give u64 as BigInt). */
function updateResult(r) {
  const upserted = r.upsertedId;
  return {
    matched: Number(r.matched),
    modified: Number(r.modified),
    upsertedId: upserted === undefined || upserted === null ? undefined : JSON.parse(upserted),
  };
}

const dump = (value) => JSON.stringify(value === undefined || value === null ? {} : value);
const parseAll = (docs) => docs.map((d) => JSON.parse(d));

/** A collection of the test's database (config.yaml's `mongodb.database`). Documents and
 * filters are plain objects; MongoDB types use Extended JSON (`{ $oid }`, `{ $date }`). */
export class Collection {
  constructor(name) {
    this.name = name;
  }

  /** The matching documents; `options` may hold sort, limit, skip, projection. */
  find(filter, { sort, limit, skip, projection } = {}) {
    const opts = {
      sort: sort === undefined ? undefined : JSON.stringify(sort),
      limit,
      skip,
      projection: projection === undefined ? undefined : JSON.stringify(projection),
    };
    return parseAll(mongoCall(`find in ${this.name}`, () => mongo.find(this.name, dump(filter), opts)));
  }

  /** The first matching document, or undefined. */
  findOne(filter, { sort, projection } = {}) {
    const opts = {
      sort: sort === undefined ? undefined : JSON.stringify(sort),
      projection: projection === undefined ? undefined : JSON.stringify(projection),
    };
    const found = mongoCall(`findOne in ${this.name}`, () => mongo.findOne(this.name, dump(filter), opts));
    return found === undefined || found === null ? undefined : JSON.parse(found);
  }

  /** Inserts a document; returns its `_id`. */
  insertOne(document) {
    return JSON.parse(mongoCall(`insertOne in ${this.name}`, () => mongo.insertOne(this.name, dump(document))));
  }

  /** Inserts documents; returns their `_id`s. */
  insertMany(documents) {
    return parseAll(mongoCall(`insertMany in ${this.name}`, () => mongo.insertMany(this.name, JSON.stringify(documents))));
  }

  /** Updates the first match; returns `{ matched, modified, upsertedId }` (numbers). */
  updateOne(filter, update, { upsert = false } = {}) {
    return updateResult(mongoCall(`updateOne in ${this.name}`, () => mongo.updateOne(this.name, dump(filter), dump(update), upsert)));
  }

  /** Updates every match; returns `{ matched, modified, upsertedId }`. */
  updateMany(filter, update, { upsert = false } = {}) {
    return updateResult(mongoCall(`updateMany in ${this.name}`, () => mongo.updateMany(this.name, dump(filter), dump(update), upsert)));
  }

  /** Replaces the first match, keeping its `_id`; returns `{ matched, modified, upsertedId }`. */
  replaceOne(filter, replacement, { upsert = false } = {}) {
    return updateResult(mongoCall(`replaceOne in ${this.name}`, () => mongo.replaceOne(this.name, dump(filter), dump(replacement), upsert)));
  }

  /** Deletes the first match; returns how many (0 or 1). */
  deleteOne(filter) {
    return Number(mongoCall(`deleteOne in ${this.name}`, () => mongo.deleteOne(this.name, dump(filter))));
  }

  /** Deletes every match; returns how many. */
  deleteMany(filter) {
    return Number(mongoCall(`deleteMany in ${this.name}`, () => mongo.deleteMany(this.name, dump(filter))));
  }

  /** How many documents match. */
  countDocuments(filter) {
    return Number(mongoCall(`countDocuments in ${this.name}`, () => mongo.countDocuments(this.name, dump(filter))));
  }

  /** Runs an aggregation pipeline in this collection. */
  aggregate(pipeline) {
    return parseAll(mongoCall(`aggregate in ${this.name}`, () => mongo.aggregate(this.name, JSON.stringify(pipeline))));
  }
}

/** A collection of the test's database, like pymongo's `db[name]`. */
export const collection = (name) => new Collection(name);

// steps and the exports --------------------------------------------------------------------

/** One step, as prometheus-test's `TestStep(name, description, prepare, execute, worker)`.
 * `prepare` may be null; `params` (an object) is passed to both and listed in the manifest. */
export class TestStep {
  constructor(name, description, prepare, execute, worker, params = {}) {
    Object.assign(this, { name, description, prepare, execute, worker, params });
  }
}

/** The step error for a thrown value: the message of a `fail`, else the message and stack. */
function errorText(error) {
  if (error instanceof StepFailed) return error.message;
  if (error instanceof Error) {
    // The frames of this module's export shim say nothing to the step's author: drop the
    // trailing ones.
    const frames = (error.stack || '').trimEnd().split('\n');
    while (frames.length > 1 && frames[frames.length - 1].includes('/prometheus-step.js:')) frames.pop();
    const stack = frames.join('\n');
    return stack ? `${error.name}: ${error.message}\n${stack}` : `${error.name}: ${error.message}`;
  }
  return `thrown: ${typeof error === 'string' ? error : JSON.stringify(error)}`;
}

/** Runs `call`, turning anything thrown into the string the WIT `err` carries. */
function guarded(call) {
  try {
    return call();
  } catch (e) {
    throw errorText(e);
  }
}

/** The world's exports: `export const { manifest, prepare, execute, postLoad } = exportSteps(steps, { postLoad })`. */
export function exportSteps(steps, { postLoad } = {}) {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const runner = new Runner();
  const find = (name) => byName.get(name) ?? fail(`this package has no step ${name}`);
  return {
    manifest: () =>
      steps.map((s) => ({ name: s.name, description: s.description, worker: s.worker, params: JSON.stringify(s.params ?? {}) })),
    prepare: (step, params) =>
      guarded(() => {
        const s = find(step);
        const data = s.prepare ? s.prepare(runner, runner.worker(), JSON.parse(params || '{}')) : null;
        return JSON.stringify(data ?? null);
      }),
    execute: (step, params, prepared) =>
      guarded(() => {
        const s = find(step);
        const result = s.execute(runner, runner.worker(), JSON.parse(prepared || 'null'), JSON.parse(params || '{}'));
        if (result instanceof Skip) return { tag: 'skip', val: String(result.reason) };
        return { tag: 'done', val: JSON.stringify(result ?? null) };
      }),
    postLoad: () => guarded(() => postLoad && postLoad(runner)),
  };
}
