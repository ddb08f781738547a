import WebSocket from 'ws';
import { freePort } from '../../testkit/broker';
import type { NodeRedProcess } from '../helpers/node-red-process';

/**
 * Starts a NodeRedProcess with the V8 inspector on a loopback port, so a test can collect garbage
 * in it before reading its memory: RSS alone says more about when V8 last collected than about leaks.
 */
export async function startInspectable(red: NodeRedProcess): Promise<number> {
  const inspectPort = await freePort();
  if (!red.port) red.port = await freePort();
  const saved = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${saved ?? ''} --inspect=127.0.0.1:${inspectPort}`.trim();
  // start() spawns before its first await: the child takes the options, this process keeps its own.
  const starting = red.start();
  if (saved === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = saved;
  await starting;
  return inspectPort;
}

/** Runs a full garbage collection in the inspected process; returns the heap then in use, bytes. */
export async function collectGarbage(inspectPort: number): Promise<number> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as Array<{
    webSocketDebuggerUrl: string;
  }>;
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    let id = 0;
    const call = (method: string) =>
      new Promise<Record<string, number>>((resolve, reject) => {
        const mine = ++id;
        const timer = setTimeout(() => reject(new Error(`inspector: no answer to ${method}`)), 10000);
        const onMessage = (data: WebSocket.RawData) => {
          const msg = JSON.parse(data.toString()) as { id?: number; result?: Record<string, number> };
          if (msg.id !== mine) return;
          clearTimeout(timer);
          ws.off('message', onMessage);
          resolve(msg.result ?? {});
        };
        ws.on('message', onMessage);
        ws.send(JSON.stringify({ id: mine, method }));
      });
    await call('HeapProfiler.collectGarbage');
    return (await call('Runtime.getHeapUsage')).usedSize;
  } finally {
    ws.close();
  }
}
