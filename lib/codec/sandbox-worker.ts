// Runs inside a worker thread (heap bounded by resourceLimits): one codec, loaded once into a
// node:vm context that has no require, process, Buffer or timers, and cannot compile strings.
// Inputs arrive and results leave as JSON text, so no host object ever reaches codec code.
import * as vm from 'vm';
import { parentPort, workerData } from 'worker_threads';

interface Call {
  id: number;
  fn: string;
  input: string;
}

const PRELUDE = `var module = { exports: {} }; var exports = module.exports;`;
const CALLER = `(function (fn, text) {
  var input = JSON.parse(text);
  var f = (module.exports && typeof module.exports[fn] === 'function') ? module.exports[fn]
    : (typeof globalThis[fn] === 'function' ? globalThis[fn] : undefined);
  if (!f) throw new Error('the codec has no ' + fn + ' function');
  var out = f(input);
  return out === undefined ? 'null' : JSON.stringify(out);
})`;

const { code, timeout } = workerData as { code: string; timeout: number };
const context = vm.createContext(Object.create(null), {
  codeGeneration: { strings: false, wasm: false },
  microtaskMode: 'afterEvaluate',
});
let call: ((fn: string, text: string) => string) | undefined;
let loadError: string | undefined;
let exported: string[] = [];
try {
  vm.runInContext(PRELUDE, context);
  vm.runInContext(code, context, { timeout: Math.max(timeout * 10, 1000), filename: 'codec.js' });
  call = vm.runInContext(CALLER, context) as typeof call;
  exported = JSON.parse(
    vm.runInContext(
      `JSON.stringify(['decodeUplink','encodeDownlink','decodeDownlink','extractPoints'].filter(function (n) {
        return (module.exports && typeof module.exports[n] === 'function') || typeof globalThis[n] === 'function'; }))`,
      context,
      { timeout: 1000 },
    ) as string,
  );
} catch (err) {
  loadError = describe(err);
}
parentPort!.postMessage([{ ready: true, error: loadError, functions: exported }]);

function describe(err: unknown): string {
  // Errors thrown in the context are not host Errors: read them as plain values.
  try {
    if (err && typeof err === 'object' && 'message' in err)
      return String((err as { message: unknown }).message);
    return String(err);
  } catch {
    return 'the codec threw an unreadable value';
  }
}

// Shared with the host: [id of the call running (0: none), its start (Date.now())]. The host ends a
// worker whose call runs past its bound; a vm timeout per call would cost more than the call itself.
const progress = new Float64Array(workerData.progress as SharedArrayBuffer);

parentPort!.on('message', (batch: Call[]) => {
  const answers: { id: number; result?: string; error?: string }[] = [];
  for (const msg of batch) {
    if (!call) {
      answers.push({ id: msg.id, error: loadError ?? 'codec not loaded' });
      continue;
    }
    const started = Date.now();
    progress[1] = started;
    progress[0] = msg.id;
    try {
      const result = call(msg.fn, msg.input);
      const took = Date.now() - started;
      if (took > timeout) answers.push({ id: msg.id, error: `codec took ${took} ms (limit ${timeout} ms)` });
      else answers.push({ id: msg.id, result });
    } catch (err) {
      answers.push({ id: msg.id, error: describe(err) });
    }
    progress[0] = 0;
  }
  parentPort!.postMessage(answers);
});
