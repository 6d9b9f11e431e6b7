// Every capability of the JavaScript helper, one step per row of the parity table in
// docs/writing-steps.md; tests/parity.rs runs it against two hello-worker processes, the
// embedded store and the Koii golden vectors (config.yaml `golden_vectors`).
//
// tests/polyglot-steps/parity-python/parity_steps.py is the same package in Python: keep the
// step names, results and checks of both in step.

import {
  HttpError,
  MongoError,
  SigningError,
  StepFailed,
  TestStep,
  collection,
  del,
  exportSteps,
  fail,
  get,
  patch,
  post,
  publicKey,
  put,
  rawJson,
  request,
  sign,
  skip,
  verify,
  verifyText,
} from './prometheus-step.js';

function check(condition, what) {
  if (!condition) fail(`parity check failed: ${what}`);
}

function expectFailure(call, ErrorType, what) {
  try {
    call();
  } catch (e) {
    if (e instanceof ErrorType) return String(e.message);
    throw e;
  }
  fail(`parity check failed: ${what} did not throw ${ErrorType.name}`);
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// config, params, state --------------------------------------------------------------------

function configPrepare(runner, worker, { label }) {
  return { label, task: runner.taskId };
}

function configExecute(runner, worker, data, { label }) {
  check(same(data, { label, task: 'parity' }), `prepare data ${JSON.stringify(data)}`);
  check(label === 'from-manifest', `param label ${label}`);
  check(runner.config('nested.answer') === 42, 'config dot notation');
  check(runner.config('missing', 'dflt') === 'dflt', 'config default');
  runner.set('round_value', { n: runner.currentRound });
  runner.set('shared.counter', runner.currentRound, 'global');
  check(runner.get('round_value.n') === runner.currentRound, 'state dot notation');
  expectFailure(() => runner.set('x', 1, 'nope'), TypeError, 'a bad scope');
  return { round: runner.currentRound };
}

function stateExecute(runner) {
  check(same(runner.get('round_value'), { n: runner.currentRound }), 'round state from the previous step');
  check(runner.get('shared.counter') === runner.currentRound, 'global state');
  check(runner.get('task_id') === 'parity', 'state falls back to config.yaml');
  check(runner.get('post_load_ran') === true, 'postLoad ran and stored a global');
  check(runner.get('absent') === undefined, 'absent key');
  return { state: 'ok' };
}

// workers ------------------------------------------------------------------------------------

function workerExecute(runner, worker) {
  check(worker.name === 'worker1', `current worker ${worker.name}`);
  check(same(runner.workers.map((w) => w.name), ['worker1', 'worker2']), 'worker names');
  check(worker.get('role') === 'greeter', 'a workers.json key');
  check(Number.isInteger(worker.get('port')), 'port');
  check(worker.url.startsWith('http://'), 'url');
  check(worker.endpoint('/health') === `${worker.url.replace(/\/+$/, '')}/health`, 'endpoint');
  check(worker.getEnv('WORKER_ID') === 'worker1', 'worker env');
  check(runner.worker('worker2').getEnv('WORKER_ID') === 'worker2', "another worker's env");
  check(worker.getEnv('NOT_SET') === undefined, 'absent env');
  return { worker: worker.name };
}

// http ---------------------------------------------------------------------------------------

function httpExecute(runner, worker) {
  const health = get(worker.endpoint('/health')).expectStatus(200);
  check(health.ok && health.json().worker === 'worker1', 'GET json');
  check(health.header('Content-Type').startsWith('application/json'), 'response header');
  const echoed = post(worker.endpoint('/echo'), { a: [1, 'é'] }).errorForStatus();
  check(same(echoed.json(), { a: [1, 'é'] }), 'POST json round trip');
  check(echoed.text.includes('é'), 'text decodes UTF-8');
  for (const [method, call] of [['PUT', put], ['PATCH', patch]]) {
    const response = call(worker.endpoint('/greetings/none'), {});
    check(response.status === 404 || response.status === 405, `${method} status ${response.status}`);
    expectFailure(() => response.errorForStatus(), StepFailed, `${method} errorForStatus`);
  }
  const gone = del(worker.endpoint('/greetings/none'));
  check(!gone.ok, 'DELETE status');
  const message = expectFailure(() => gone.expectStatus(200), StepFailed, 'expectStatus');
  check(message.includes(String(gone.status)), 'the status in the failure');
  const raw = request('GET', worker.endpoint('/health'), { headers: { 'x-test': '1' }, timeoutMs: 5000 });
  check(raw.status === 200, 'request with headers and timeout');
  const denied = expectFailure(() => get('http://192.0.2.1/'), HttpError, 'a denied host');
  check(denied.includes('allowed_hosts'), `denied message names the config key: ${denied}`);
  return { http: 'ok' };
}

// mongo --------------------------------------------------------------------------------------

function mongoExecute() {
  const items = collection('items');
  check(items.countDocuments({ taskId: 'parity' }) === 2, 'seeded documents carry the taskId');
  check(items.findOne({ name: 'a' }).value === 1, 'findOne');
  check(items.insertOne({ name: 'c', value: 3 }) !== undefined, 'insertOne returns the _id');
  check(items.insertMany([{ name: 'd', value: 4 }, { name: 'e', value: 5 }]).length === 2, 'insertMany');
  const names = items.find({}, { sort: { value: -1 }, limit: 2 }).map((d) => d.name);
  check(same(names, ['e', 'd']), `find sort limit: ${names}`);
  const one = items.updateOne({ name: 'c' }, { $set: { value: 30 } });
  check(one.matched === 1 && one.modified === 1, 'updateOne');
  check(items.updateMany({ value: { $gte: 4, $lt: 10 } }, { $set: { big: true } }).matched === 2, 'updateMany');
  check(items.replaceOne({ name: 'd' }, { name: 'd', value: 40 }).matched === 1, 'replaceOne');
  check(items.deleteOne({ name: 'e' }) === 1, 'deleteOne');
  const total = items.aggregate([{ $group: { _id: null, sum: { $sum: '$value' } } }]);
  check(total[0].sum === 1 + 2 + 30 + 40, `aggregate ${JSON.stringify(total)}`);
  check(items.deleteMany({ name: { $in: ['c', 'd'] } }) === 2, 'deleteMany');
  expectFailure(() => items.find({ $bogus: 1 }), MongoError, 'a bad filter');
  return { mongo: 'ok' };
}

// signing ------------------------------------------------------------------------------------

function signingExecute(runner, worker) {
  const staking = worker.publicKey('staking');
  const main = publicKey('main');
  check(staking && main && staking !== main, 'public keys per kind');
  const payload = { round: runner.currentRound, taskId: 'parity', x: 1.5 };
  const signature = worker.sign(payload);
  check(same(verify(signature, staking), payload), 'verify returns the payload');
  check(verifyText(signature, staking) === `{"round": ${runner.currentRound}, "taskId": "parity", "x": 1.5}`,
    'verifyText is the sorted json.dumps text');
  expectFailure(() => verify(signature, main), SigningError, 'verify with the wrong key');
  const other = sign(payload, 'main', 'worker2');
  check(same(verify(other, publicKey('main', 'worker2')), payload), 'sign as another worker');
  return { signing: 'ok' };
}

// The payload as a JavaScript value when JavaScript holds it exactly: its signed text has no
// float spelling (1.0, 1e16), no NaN/Infinity and no integer past 2^53, and JSON.parse
// accepts it (a NaN or Infinity that a later duplicate key replaced is not JSON). Such
// payloads are signed from the parsed object too.
function jsExact(v) {
  if (/[0-9][.eE]|NaN|Infinity|[0-9]{16,}/.test(v.dumped)) return undefined;
  try {
    return { value: JSON.parse(v.payload) };
  } catch (_) {
    return undefined;
  }
}

function goldenExecute(runner) {
  // Every golden vector of tests/fixtures/koii-signatures, signed from inside the guest:
  // keypair k is worker (k / 2 + 1)'s staking (even k) or main (odd k) key.
  const vectors = runner.config('golden_vectors');
  check(vectors && vectors.length, 'config.yaml has golden_vectors');
  let parsed = 0;
  vectors.forEach((v, i) => {
    const who = `worker${Math.floor(v.keypair / 2) + 1}`;
    const kind = v.keypair % 2 === 0 ? 'staking' : 'main';
    if (sign(rawJson(v.payload), kind, who) !== v.signature) {
      fail(`golden vector ${i} (${v.payload.slice(0, 80)}): the signature of its text differs from the reference's`);
    }
    const exact = jsExact(v);
    if (exact) {
      parsed += 1;
      if (sign(exact.value, kind, who) !== v.signature) {
        fail(`golden vector ${i} (${v.payload.slice(0, 80)}): the signature of its object differs from the reference's`);
      }
    }
  });
  runner.info(`golden: ${vectors.length} vectors signed byte-identically (${parsed} also from parsed objects)`);
  return { checked: vectors.length, checked_parsed: parsed };
}

// outcomes and log ---------------------------------------------------------------------------

function skipExecute(runner) {
  runner.info('info line');
  runner.warn('warn line');
  runner.log('debug line', 'debug');
  console.log('printed line');
  return skip(`skipped on purpose in round ${runner.currentRound}`);
}

function failExecute(runner) {
  if (runner.config('fail_on_purpose', false)) fail('failed on purpose');
  return { failed: false };
}

const steps = [
  new TestStep('config-params', 'config, params and state writes', configPrepare, configExecute, 'worker1', {
    label: 'from-manifest',
  }),
  new TestStep('state-read', 'state reads and scopes', null, stateExecute, 'worker2'),
  new TestStep('worker-info', 'worker names, keys, env', null, workerExecute, 'worker1'),
  new TestStep('http', 'HTTP methods and status checks', null, httpExecute, 'worker1'),
  new TestStep('mongo', 'the test database', null, mongoExecute, 'worker2'),
  new TestStep('signing', 'public keys, sign, verify', null, signingExecute, 'worker1'),
  new TestStep('golden', 'the Koii golden vectors', null, goldenExecute, 'worker1'),
  new TestStep('skip-and-log', 'skip and the step log', null, skipExecute, 'worker2'),
  new TestStep('fail', 'a failure when asked', null, failExecute, 'worker2'),
];

export const { manifest, prepare, execute, postLoad } = exportSteps(steps, {
  postLoad: (runner) => runner.set('post_load_ran', true, 'global'),
});
