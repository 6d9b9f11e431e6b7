// Faults on the test's own workers, applied by a JavaScript step: kill, stop, start,
// restart, pause and resume a worker, degrade its network and end that again (the WIT
// interface `prometheus:step/faults`, the same calls as the Rust SDK's `faults` module).
//
// The runner grants them only when config.yaml sets `faults_from_steps: true`; without it
// the first call ends the step with an error naming that key. Each call returns the line
// the run prints for the fault (`killed worker2 (pid 4242)`) and throws `FaultError` (a
// `StepFailed`: the step fails with its message) when the runner refuses it:
//
//   import { kill, start } from './prometheus-faults.js';
//
//   function execute(runner, worker, data) {
//     return { killed: kill('worker2'), started: start('worker2') };
//   }
//
// Build against the `steps-with-faults` world, which adds this one import to `steps`:
// copy this file beside prometheus-step.js and run `componentize-qjs --wit wit --world
// steps-with-faults --js steps.js --module-root DIR --sync -o steps.wasm`. A package built
// against `steps` cannot import this module (the build says the interface is unknown).

import * as faults from 'prometheus:step/faults@0.1.0';

import { StepFailed } from './prometheus-step.js';

/** The runner refused a fault (an unknown worker, an external one, bad settings). */
export class FaultError extends StepFailed {}

function call(what, worker, ...args) {
  try {
    return faults[what](worker, ...args);
  } catch (e) {
    const payload = e && e.payload !== undefined ? e.payload : e;
    throw new FaultError(`${what} ${worker}: ${payload}`);
  }
}

/** SIGKILL to the worker's process group; returns once it is reaped. */
export const kill = (worker) => call('kill', worker);
/** SIGTERM, the grace period, then SIGKILL to what is left. */
export const stop = (worker) => call('stop', worker);
/** Starts a worker that is down again (same program, environment and data); returns once
 * it is ready. */
export const start = (worker) => call('start', worker);
/** `stop` then `start`. */
export const restart = (worker) => call('restart', worker);
/** SIGSTOP: the worker holds every request until `resume`. */
export const pause = (worker) => call('pause', worker);
/** SIGCONT after `pause`. */
export const resume = (worker) => call('resume', worker);
/** Degrades the network to `worker` through its fault proxy: `settings` holds the keys of a
 * `network:` fault of config.yaml except `worker` (`latency_ms`, `jitter_ms`,
 * `bandwidth_kbps`, `reset_rate`, `http_error`, `hang`) and optionally `for` (`step`,
 * `round`, `run`). */
export const network = (worker, settings = {}) => call('network', worker, JSON.stringify(settings));
/** Ends the network fault on `worker`, if any. */
export const clear = (worker) => call('clear', worker);
