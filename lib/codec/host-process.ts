// The codec host: a child process of Node-RED (its heap bounded by --max-old-space-size) that runs every
// codec of that Node-RED, each in its own worker thread and vm context (sandbox.ts). A codec that brings
// V8 down with it (an allocation so large that V8 gives up on the process, which no worker can catch)
// ends this process, not Node-RED's (hosted-sandbox.ts starts another). Ends when Node-RED goes.
import { CodecSandbox, type CodecFunction } from './sandbox';

export type HostRequest =
  | { op: 'open'; sid: number; code: string; timeout: number }
  | { op: 'call'; id: number; sid: number; fn: CodecFunction | 'functions'; input: unknown }
  | { op: 'close'; sid: number };

export type HostAnswer = { id: number; result?: unknown; functions?: string[]; error?: string };

const sandboxes = new Map<number, CodecSandbox>();
let answers: HostAnswer[] = [];

function answer(a: HostAnswer): void {
  answers.push(a);
  if (answers.length === 1)
    setImmediate(() => {
      const batch = answers;
      answers = [];
      process.send?.(batch);
    });
}

function handle(m: HostRequest): void {
  if (m.op === 'open') {
    sandboxes
      .get(m.sid)
      ?.close()
      .catch(() => undefined);
    sandboxes.set(m.sid, new CodecSandbox(m.code, m.timeout));
  } else if (m.op === 'close') {
    void sandboxes.get(m.sid)?.close();
    sandboxes.delete(m.sid);
  } else {
    const sandbox = sandboxes.get(m.sid);
    if (!sandbox) return answer({ id: m.id, error: 'codec closed' });
    const done =
      m.fn === 'functions'
        ? sandbox.functions().then((functions) => answer({ id: m.id, functions }))
        : sandbox.call(m.fn, m.input).then((result) => answer({ id: m.id, result }));
    done.catch((err: Error) => answer({ id: m.id, error: err.message }));
  }
}

process.on('message', (batch: HostRequest[]) => batch.forEach(handle));
process.on('disconnect', () => process.exit(0));
