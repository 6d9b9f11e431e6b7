// Steps of the hello example in JavaScript: the same scenario as examples/hello (Rust).
//
// Two `hello-worker` servers (`worker1`, `worker2`) greet and audit each other, once per round:
//
// | step            | worker  | does |
// |-----------------|---------|------|
// | check-health    | worker1 | `GET /health` of every worker; each answers 200 with its own name |
// | submit-greeting | worker1 | `POST /greetings` (201); stores `greeting_id`, `greeting_from` (round), appends to `greeting_ids` (global) |
// | audit-greeting  | worker2 | `GET /greetings/{id}` from the submitter; checks round and sender; stores `audited` |
// | bonus-round     | worker2 | skipped in odd rounds; in even rounds `GET /health` |
// | summary         | worker1 | `greeting_ids` holds at least one id per round so far |
//
// Failure injection, as in the Rust example: config.yaml's `fail_step` names a step whose
// `execute` fails with `injected failure in <step> (config fail_step)` (in every round, or
// only in round `fail_round`). `throw_in` names a step whose `execute` throws a TypeError
// from deep inside, to show how a thrown error reaches the user.
//
// Build: scripts/build-polyglot.sh (componentize-qjs, with ./prometheus-step.js beside this file).

import { TestStep, exportSteps, fail, get, post, skip } from './prometheus-step.js';

/** Fails `step` when config.yaml asks for it (`fail_step`, `fail_round`, `throw_in`). */
function failIfInjected(runner, step) {
  if (runner.config('fail_step') === step) {
    const round = runner.config('fail_round');
    if (round === undefined || round === runner.currentRound) fail(`injected failure in ${step} (config fail_step)`);
  }
  if (runner.config('throw_in') === step) {
    const greeting = undefined;
    return greeting.text; // a TypeError: the user sees it with its stack
  }
}

/** The post-load callback (prometheus-test's `post_load_callback`). */
function afterLoad(runner) {
  runner.info('hello: post-load ran');
  runner.set('post_load_ran', true, 'global');
}

// check-health ---------------------------------------------------------------------------

function checkHealthPrepare(runner) {
  return runner.workers.map((w) => ({ name: w.name, url: w.url }));
}

function checkHealthExecute(runner, worker, targets) {
  failIfInjected(runner, 'check-health');
  const healthy = [];
  for (const target of targets) {
    const health = get(`${target.url.replace(/\/+$/, '')}/health`).expectStatus(200).json();
    if (health.worker !== target.name) fail(`${target.name}: /health answered as worker \`${health.worker}\``);
    healthy.push(target.name);
  }
  return { healthy };
}

// submit-greeting ------------------------------------------------------------------------

function submitGreetingPrepare(runner, worker, { text }) {
  const round = runner.currentRound;
  return { round, from: worker.name, text: `${text} from ${worker.name} in round ${round}` };
}

function submitGreetingExecute(runner, worker, greeting) {
  failIfInjected(runner, 'submit-greeting');
  const url = worker.endpoint('/greetings');
  const created = post(url, greeting).expectStatus(201).json();
  if (typeof created.id !== 'string') fail(`POST ${url}: the answer has no string \`id\`: ${JSON.stringify(created)}`);
  runner.set('greeting_id', created.id);
  runner.set('greeting_from', greeting.from);
  const ids = runner.get('greeting_ids', []);
  ids.push(created.id);
  runner.set('greeting_ids', ids, 'global');
  runner.info(`greeting ${created.id} posted (${ids.length} so far)`);
  return created;
}

// audit-greeting -------------------------------------------------------------------------

function auditGreetingPrepare(runner) {
  const id = runner.get('greeting_id') ?? fail('no greeting_id in state: did submit-greeting run this round?');
  const submitter = runner.get('greeting_from') ?? fail('no greeting_from in state: did submit-greeting run this round?');
  return { id, submitter, url: runner.worker(submitter).endpoint(`/greetings/${id}`) };
}

function auditGreetingExecute(runner, worker, audit) {
  failIfInjected(runner, 'audit-greeting');
  const round = runner.currentRound;
  const greeting = get(audit.url).expectStatus(200).json();
  if (greeting.id !== audit.id) fail(`GET ${audit.url}: got greeting \`${greeting.id}\``);
  if (greeting.round !== round) fail(`greeting ${audit.id} is from round ${greeting.round}, expected round ${round}`);
  if (greeting.from !== audit.submitter) fail(`greeting ${audit.id} is from \`${greeting.from}\`, expected \`${audit.submitter}\``);
  runner.set('audited', true);
  return { audited: audit.id };
}

// bonus-round ----------------------------------------------------------------------------

function bonusRoundExecute(runner, worker) {
  failIfInjected(runner, 'bonus-round');
  const round = runner.currentRound;
  if (round % 2 === 1) return skip(`bonus runs only in even rounds (round ${round})`);
  get(worker.endpoint('/health')).expectStatus(200);
  return { bonus: true };
}

// summary --------------------------------------------------------------------------------

function summaryExecute(runner) {
  failIfInjected(runner, 'summary');
  const round = runner.currentRound;
  const count = runner.get('greeting_ids', []).length;
  if (count < round) fail(`expected at least ${round} greeting ids after round ${round}, found ${count}`);
  runner.info(`summary: ${count} greetings after round ${round}`);
  return { greetings: count };
}

const steps = [
  new TestStep('check-health', 'Both workers answer /health', checkHealthPrepare, checkHealthExecute, 'worker1'),
  new TestStep('submit-greeting', "worker1 posts this round's greeting", submitGreetingPrepare, submitGreetingExecute, 'worker1', {
    text: 'hello',
  }),
  new TestStep('audit-greeting', 'worker2 reads the greeting back from worker1', auditGreetingPrepare, auditGreetingExecute, 'worker2'),
  new TestStep('bonus-round', 'Even rounds only: worker2 answers /health', null, bonusRoundExecute, 'worker2'),
  new TestStep('summary', 'Every round so far left a greeting', null, summaryExecute, 'worker1'),
];

export const { manifest, prepare, execute, postLoad } = exportSteps(steps, { postLoad: afterLoad });
