import type { Express } from 'express';
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from '../../testkit/paths';

// node-red-node-test-helper has no type declarations.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const helper: any = require('node-red-node-test-helper');
/**
 * The Node-RED under test: `node-red` (4.1, the dev dependency) by default; THINGPARK_NODE_RED
 * names another install (`node-red-5` for the 5.x run on Node 22).
 */
export const runtimePackage = process.env.THINGPARK_NODE_RED || 'node-red';
const runtimeDir = path.dirname(require.resolve(`${runtimePackage}/package.json`));
helper.init(require.resolve(runtimePackage));

/** A core node module or file of the Node-RED under test (its own @node-red/nodes). */
export function coreNode(file: string): NodeModule {
  return require(require.resolve(`@node-red/nodes/${file}`, { paths: [runtimeDir] }));
}

export type NodeModule = (RED: unknown) => void;

/**
 * The messaging hooks of the Node-RED under test. A real runtime gives nodes `RED.hooks`; the
 * helper's stand-in API does not, so it is added here from the runtime's own @node-red/util.
 */
const runtimeHooks = require(require.resolve('@node-red/util', { paths: [runtimeDir] })).hooks;
export function withRuntimeHooks(mod: NodeModule): NodeModule {
  return (RED: unknown) => {
    const api = RED as { hooks?: unknown };
    if (!api.hooks) api.hooks = runtimeHooks;
    return mod(RED);
  };
}

export const nodeFile = (name: string) => path.join(repoRoot, 'dist', 'nodes', name, `${name}.js`);
export const networkNode: NodeModule = require(nodeFile('network'));
export const uplinkInNode: NodeModule = withRuntimeHooks(require(nodeFile('uplink-in')));
export const downlinkOutNode: NodeModule = require(nodeFile('downlink-out'));

let mounted: Express | undefined;

type Catalog = Record<string, unknown>;
const catalogs: Record<string, Catalog> = {
  'node-red': require(
    require.resolve('@node-red/nodes/locales/en-US/messages.json', { paths: [runtimeDir] }),
  ),
};
const ours: Catalog = {};
for (const file of fs
  .readdirSync(path.join(repoRoot, 'locales', 'en-US'))
  .filter((f) => f.endsWith('.json'))) {
  Object.assign(ours, JSON.parse(fs.readFileSync(path.join(repoRoot, 'locales', 'en-US', file), 'utf8')));
}

/**
 * The helper's runtime translates nothing (`RED._` returns the key). This one reads our en-US
 * catalogs and the core ones, so tests see real status texts and a missing key shows as MISSING:.
 */
export function translate(key: string, vars: Record<string, unknown> = {}): string {
  const [ns, rest] = key.includes(':') ? key.split(':', 2) : ['', key];
  let value: unknown = ns ? catalogs[ns] : ours;
  for (const part of rest.split('.')) value = (value as Catalog | undefined)?.[part];
  if (typeof value !== 'string') return `MISSING:${key}`;
  return value.replace(/__([A-Za-z0-9_]+)__/g, (_m, name: string) => String(vars[name] ?? ''));
}

/**
 * Loads our nodes with real translations. The helper also gives nodes an HTTP node app that its server does not serve; this mounts it, so tests
 * make real HTTP requests to the real routes the nodes registered.
 */
export function servingHttpNodes(modules: NodeModule[]): NodeModule[] {
  return modules.map((mod) => (RED: unknown) => {
    (RED as { _: typeof translate })._ = translate;
    const app = (RED as { httpNode: Express }).httpNode;
    if (app && app !== mounted) {
      mounted = app;
      helper._app.use(app);
    }
    return mod(RED);
  });
}

/** Resolves with the next message a helper node receives. */
export function nextMessage<T = Record<string, unknown>>(
  node: { once: (e: string, f: (m: T) => void) => void },
  timeoutMs = 5000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message within ' + timeoutMs + ' ms')), timeoutMs);
    node.once('input', (msg: T) => {
      clearTimeout(timer);
      resolve(msg);
    });
  });
}

/** Collects every message a helper node receives. */
export function collect<T = Record<string, unknown>>(node: {
  on: (e: string, f: (m: T) => void) => void;
}): T[] {
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
