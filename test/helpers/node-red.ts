import type { Express } from 'express';
import * as path from 'path';
import { repoRoot } from './paths';

// node-red-node-test-helper has no type declarations.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const helper: any = require('node-red-node-test-helper');
helper.init(require.resolve('node-red'));

export type NodeModule = (RED: unknown) => void;

const nodeFile = (name: string) => path.join(repoRoot, 'dist', 'nodes', name, `${name}.js`);
export const networkNode: NodeModule = require(nodeFile('network'));
export const uplinkInNode: NodeModule = require(nodeFile('uplink-in'));
export const downlinkOutNode: NodeModule = require(nodeFile('downlink-out'));

let mounted: Express | undefined;

/**
 * The helper gives nodes an HTTP node app that its server does not serve; this mounts it, so tests
 * make real HTTP requests to the real routes the nodes registered.
 */
export function servingHttpNodes(modules: NodeModule[]): NodeModule[] {
  return modules.map((mod) => (RED: unknown) => {
    const app = (RED as { httpNode: Express }).httpNode;
    if (app && app !== mounted) {
      mounted = app;
      helper._app.use(app);
    }
    return mod(RED);
  });
}

/** Resolves with the next message a helper node receives. */
export function nextMessage<T = Record<string, unknown>>(node: { once: (e: string, f: (m: T) => void) => void }, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message within ' + timeoutMs + ' ms')), timeoutMs);
    node.once('input', (msg: T) => {
      clearTimeout(timer);
      resolve(msg);
    });
  });
}

/** Collects every message a helper node receives. */
export function collect<T = Record<string, unknown>>(node: { on: (e: string, f: (m: T) => void) => void }): T[] {
  const list: T[] = [];
  node.on('input', (msg: T) => list.push(msg));
  return list;
}

export async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
