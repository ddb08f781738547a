/*
 * A memory probe inside a Node-RED under test (figure 3), to tell where its RSS goes. A function node
 * samples process.memoryUsage() every 100 ms and keeps the sample taken at the highest RSS;
 * GET /bench/mem answers {now, atPeak} and starts a new peak; GET /bench/mem?gc=1 first runs two full
 * garbage collections (through --expose-gc set at run time), so `now` shows what is live. It needs
 * `functionExternalModules` (MEM_SETTINGS) to load `process`, `v8` and `vm`.
 */

export const MEM_PATH = '/bench/mem';
export const MEM_SETTINGS = { functionExternalModules: true };

/** process.memoryUsage() in bytes. */
export interface MemSample {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

const PROBE = `
const sample = () => {
  const m = proc.memoryUsage();
  return { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
};
if (msg.req && msg.req.query.gc) {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  gc();
  gc();
}
const now = sample();
let peak = context.get('peak');
if (!peak || now.rss > peak.rss) context.set('peak', (peak = now));
if (!msg.req) return null;
context.set('peak', undefined);
msg.payload = { now, atPeak: peak };
return msg;
`;

/** The probe's nodes, on tab `z` (ids prefixed `mem-`). */
export function memProbe(z: string): Record<string, unknown>[] {
  return [
    {
      id: 'mem-tick',
      z,
      type: 'inject',
      repeat: '0.1',
      once: true,
      onceDelay: 0.1,
      topic: '',
      payload: '',
      payloadType: 'date',
      props: [{ p: 'payload' }],
      wires: [['mem-fn']],
    },
    { id: 'mem-in', z, type: 'http in', url: MEM_PATH, method: 'get', upload: false, wires: [['mem-fn']] },
    {
      id: 'mem-fn',
      z,
      type: 'function',
      name: 'memory probe',
      func: PROBE,
      outputs: 1,
      timeout: 0,
      noerr: 0,
      initialize: '',
      finalize: '',
      libs: [
        { var: 'proc', module: 'process' },
        { var: 'v8', module: 'v8' },
        { var: 'vm', module: 'vm' },
      ],
      wires: [['mem-res']],
    },
    { id: 'mem-res', z, type: 'http response', statusCode: '', headers: {}, wires: [] },
  ];
}

/** The probe's reading; `gc` runs full collections first (what is live), and resets the peak too. */
export async function readMem(url: string, gc = false): Promise<{ now: MemSample; atPeak: MemSample }> {
  const res = await fetch(`${url}${MEM_PATH}${gc ? '?gc=1' : ''}`, { signal: AbortSignal.timeout(20000) });
  if (!res.ok) throw new Error(`memory probe: HTTP ${res.status}`);
  return (await res.json()) as { now: MemSample; atPeak: MemSample };
}
