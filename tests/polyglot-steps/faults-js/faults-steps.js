// Faults applied by a JavaScript step (`prometheus-faults.js`, built against the
// `steps-with-faults` world): the same package as
// tests/polyglot-steps/faults-python/faults_steps.py; see there for the steps.

import { FaultError, clear, kill, network, start } from './prometheus-faults.js';
import { TestStep, exportSteps, fail, get, skip } from './prometheus-step.js';

const noPrepare = () => null;

function killAndStart(runner) {
  let refused;
  try {
    kill('no-such-worker');
  } catch (e) {
    if (!(e instanceof FaultError)) throw e;
    refused = e.message;
  }
  if (refused === undefined) fail('killing a worker that does not exist was not refused');
  const victim = runner.config('victim', 'worker2');
  const killed = kill(victim);
  const started = start(victim);
  return { refused, killed, started };
}

function errorThenClear(runner) {
  if (!runner.config('network_probe', false)) return skip('network_probe is not set');
  const health = runner.worker('worker2').endpoint('/health');
  const applied = network('worker2', { http_error: { status: 503, rate: 1.0 }, for: 'step' });
  const during = get(health).status;
  const cleared = clear('worker2');
  const after = get(health).status;
  if (during !== 503) fail(`during the fault worker2 answered ${during}, not 503`);
  if (after !== 200) fail(`after clear worker2 answered ${after}, not 200`);
  return { set: applied, during, cleared, after };
}

const steps = [
  new TestStep('kill-and-start', 'kills a worker and starts it again', noPrepare, killAndStart, 'worker1'),
  new TestStep('error-then-clear', "degrades worker2's network, then ends it", noPrepare, errorThenClear, 'worker1'),
];
export const { manifest, prepare, execute, postLoad } = exportSteps(steps);
