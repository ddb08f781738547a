import type { Request, Response, NextFunction } from 'express';

/**
 * When the editor and the HTTP nodes share a root (Node-RED's default, both `/`), every request first
 * passes through the admin app, whose JSON and form body parsers (5 MB limit) would read an uplink's
 * body before `uplink in` sees it: our 256 KiB limit would not apply, a declared but unsent large
 * body would never be answered, and malformed JSON would get Express's HTML error page. This
 * installs, once per admin app, a middleware in front of those parsers that marks requests to an
 * `uplink in` path as already read, so the parsers skip them and `uplink in` reads the body itself,
 * and sends them on past the rest of the admin app (the editor's and the admin API's Express apps and
 * their routes, none of which serves an uplink path: a tenth of Node-RED's CPU per uplink).
 */

/** Set on a request whose body `uplink in` must read from the stream itself. */
export const UNREAD_BODY = Symbol.for('thingpark.uplinkIn.unreadBody');

interface Layer {
  name?: string;
}
interface AdminApp {
  parent?: AdminApp;
  use(fn: (req: Request, res: Response, next: NextFunction) => void): unknown;
  _router?: { stack?: Layer[] };
  router?: { stack?: Layer[] };
  [PATHS]?: Map<string, number>;
}

const PATHS = Symbol.for('thingpark.uplinkIn.bypassedPaths');
const BODY_PARSERS = new Set(['jsonParser', 'urlencodedParser', 'textParser', 'rawParser']);

/** The path as Express matches it by default: case-insensitive, trailing slash ignored. */
export function routeKey(path: string): string {
  const lower = path.toLowerCase();
  return lower.length > 1 && lower.endsWith('/') ? lower.slice(0, -1) : lower;
}

export function joinRoot(root: string, path: string): string {
  return root.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`);
}

/**
 * Makes the admin app's body parsers skip POSTs to `fullPath` (the path under the server root).
 * Returns the function that undoes it. Does nothing when the admin app cannot see the path.
 */
export function bypassAdminBodyParsers(adminApp: unknown, adminRoot: unknown, fullPath: string): () => void {
  if (!adminApp || typeof adminRoot !== 'string') return () => undefined;
  const app = adminApp as AdminApp;
  const key = routeKey(fullPath);
  if (!key.startsWith(routeKey(adminRoot))) return () => undefined;
  // Nodes get the runtime's admin app; the editor's app it is mounted in holds the body parsers.
  const undo: Array<() => void> = [];
  for (let at: AdminApp | undefined = app; at; at = at.parent) {
    const paths = at[PATHS] ?? install(at);
    if (paths) undo.push(count(paths, key));
  }
  return () => undo.splice(0).forEach((fn) => fn());
}

function count(paths: Map<string, number>, key: string): () => void {
  paths.set(key, (paths.get(key) ?? 0) + 1);
  return () => {
    const left = (paths.get(key) ?? 1) - 1;
    if (left > 0) paths.set(key, left);
    else paths.delete(key);
  };
}

function install(app: AdminApp): Map<string, number> | undefined {
  const stack = (app._router ?? app.router)?.stack;
  const first = stack?.findIndex((layer) => BODY_PARSERS.has(layer.name ?? '')) ?? -1;
  if (!stack || first < 0) return undefined;
  const paths = new Map<string, number>();
  const skipParsers = (req: Request, _res: Response, next: NextFunction) => {
    if (req.method === 'POST' && paths.size > 0) {
      const url = req.originalUrl ?? req.url;
      const q = url.indexOf('?');
      if (paths.has(routeKey(q < 0 ? url : url.slice(0, q)))) {
        const marked = req as Request & { _body?: boolean; [UNREAD_BODY]?: boolean };
        marked._body = true;
        marked[UNREAD_BODY] = true;
        return next('router');
      }
    }
    next();
  };
  app.use(skipParsers);
  stack.splice(first, 0, stack.pop()!);
  app[PATHS] = paths;
  return paths;
}
