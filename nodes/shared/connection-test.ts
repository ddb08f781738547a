import type { Request, Response } from 'express';
import {
  CHECK_TIMEOUT_MS,
  failed,
  redact,
  withDeadline,
  type CheckCode,
} from '../../lib/connection/connection-check';
import { errorMessage, resolveEnv, tlsOptionsFrom, type Node, type NodeAPI } from './red';

/** What Node-RED's editor sends for a password field it holds a stored value for, unchanged. */
export const UNCHANGED_PASSWORD = '__PWRD__';
/** Checks running at once, all connection types together; more are answered `busy`. */
const MAX_RUNNING = 4;
let running = 0;

/**
 * Outcomes of a test: those of one connection attempt, plus `incomplete` (a required value is
 * missing, the detail names it), `tls-config` (the chosen TLS configuration is not deployed yet),
 * `busy` and `invalid` (not a test request).
 */
export type TestCode = CheckCode | 'incomplete' | 'tls-config' | 'busy' | 'invalid';

export interface TestResult {
  ok: boolean;
  code: TestCode;
  detail?: string;
}

/** The configuration under test, as the edit dialog holds it now (saved or not). */
export interface TestInput {
  /** A property of the dialog, `${ENV}` resolved, trimmed. */
  value(name: string): string;
  /** A checkbox of the dialog. */
  flag(name: string): boolean;
  /** A credential of the dialog, `${ENV}` resolved; the stored one when the editor sent it unchanged. */
  credential(name: string): string;
  /** The TLS options of the chosen `tls-config` node (undefined when none is chosen). */
  tls: Record<string, unknown> | undefined;
  /** The config node's id (also for a node not deployed yet). */
  id: string;
}

export interface ConnectionTestSpec {
  /** The config node type: the endpoint needs `<type>.write` permission. */
  type: string;
  /** Admin path, e.g. `/thingpark/wmw/test`. */
  path: string;
  /** Credential names of type password (the editor sends `__PWRD__` for them when unchanged). */
  passwords: readonly string[];
  check(input: TestInput): Promise<TestResult>;
}

export const incomplete = (what: string): TestResult => ({ ok: false, code: 'incomplete', detail: what });

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Registers `POST <path>` on the admin API: it tries one connection with the values of an edit
 * dialog and answers `{ok, code, message, detail?}` (HTTP 200 whatever the verdict), `message` in the
 * runtime's language and `code` for the editor to translate in the user's. Bounded by
 * CHECK_TIMEOUT_MS; secrets never appear in the answer.
 */
export function registerConnectionTest(RED: NodeAPI, spec: ConnectionTestSpec): void {
  const admin = (RED as { httpAdmin?: NodeAPI['httpAdmin'] }).httpAdmin;
  if (!admin) return;
  const answer = (res: Response, result: TestResult, secrets: unknown[], status = 200) => {
    const detail = redact(result.detail, secrets);
    const text = RED._(`thingpark-common.test.${result.code}`);
    const message = detail ? `${text} (${detail})` : text;
    res.status(status).json({ ok: result.ok, code: result.code, message, ...(detail ? { detail } : {}) });
  };

  admin.post(spec.path, RED.auth.needsPermission(`${spec.type}.write`), (req: Request, res: Response) => {
    const body: unknown = req.body;
    if (
      !isRecord(body) ||
      !isRecord(body.config) ||
      (body.credentials !== undefined && !isRecord(body.credentials))
    )
      return answer(res, { ok: false, code: 'invalid' }, [], 400);
    if (running >= MAX_RUNNING) return answer(res, { ok: false, code: 'busy' }, [], 429);

    const id = typeof body.id === 'string' ? body.id : '';
    const config = body.config;
    const sent = (body.credentials ?? {}) as Record<string, unknown>;
    // Stored secrets are used for the node they belong to only.
    const deployed = id ? (RED.nodes.getNode(id) as (Node & { type?: string }) | null) : null;
    const own = deployed && deployed.type === spec.type ? deployed : undefined;
    const stored = (own ? RED.nodes.getCredentials(id) : undefined) as Record<string, unknown> | undefined;
    const secrets: unknown[] = [...Object.values(sent), ...Object.values(stored ?? {})];
    const env = (value: unknown) => resolveEnv(RED, own, value);

    const input: TestInput = {
      id,
      value: (name) => env(typeof config[name] === 'boolean' ? '' : config[name]).trim(),
      flag: (name) => config[name] === true || config[name] === 'true',
      credential: (name) => {
        let raw = sent[name];
        if (spec.passwords.includes(name) && raw === UNCHANGED_PASSWORD) raw = stored?.[name];
        const value = env(typeof raw === 'string' ? raw : '');
        secrets.push(raw, value);
        return value;
      },
      tls: undefined,
    };
    const tlsId = typeof config.tls === 'string' && config.tls !== '_ADD_' ? config.tls : '';
    if (tlsId) {
      input.tls = tlsOptionsFrom(RED, tlsId);
      if (!input.tls) return answer(res, { ok: false, code: 'tls-config' }, secrets);
    }

    running++;
    withDeadline<TestResult>(() => spec.check(input), CHECK_TIMEOUT_MS + 1000)
      .catch((err: unknown): TestResult => failed('failed', errorMessage(err)))
      .then(
        (result) => answer(res, result, secrets),
        () => undefined,
      )
      .finally(() => running--);
  });
}
