import type { Request, Response } from 'express';
import {
  ApiInputError,
  ThingParkApiError,
  buildRequest,
  readPage,
  type Operation,
} from '../../lib/thingpark-api';
import { redact } from '../../lib/connection/connection-check';
import { UNCHANGED_PASSWORD } from '../shared/connection-test';
import { errorMessage, type Node, type NodeAPI } from '../shared/red';
import type { AccountNode } from './account';

/** What the one-click of the `thingpark-network` dialog may do with an account, and nothing else. */
const ALLOWED: readonly Operation[] = [
  'listDevices',
  'getDevice',
  'listConnections',
  'createHttpConnection',
  'createIotFlowConnection',
  'updateDevice',
];

/** Fields of ThingPark answers that hold secrets (AS keys, MQTT passwords, device keys): never echoed. */
const SECRET_FIELD = /(password|secret|key|keys|token)$/i;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `value` with secret fields masked and every known secret text replaced, for an admin answer. */
export function masked(value: unknown, secrets: readonly string[]): unknown {
  if (Array.isArray(value)) return value.map((v) => masked(v, secrets));
  if (isRecord(value))
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        SECRET_FIELD.test(k) && v !== null && v !== undefined && v !== '' ? '***' : masked(v, secrets),
      ]),
    );
  if (typeof value === 'string') return redact(value, secrets, 100000);
  return value;
}

/**
 * `POST /thingpark/account/call` ({account, operation, payload?, devEUI?, network?}): runs one of the
 * ALLOWED operations with the deployed account's stored credentials, for the editor's one-click. Needs
 * `thingpark-account.write`. Answers `{ok, status, location?, payload, cursor?, more?, count?, asId?}`
 * or `{ok: false, status?, message}`; never a secret (the account's, nor one the request carried).
 * An IoT Flow creation whose password is Node-RED's unchanged placeholder uses the stored password of
 * the `network` node named, a deployed `thingpark-network` only.
 */
export function registerAccountAdmin(RED: NodeAPI): void {
  const admin = (RED as { httpAdmin?: NodeAPI['httpAdmin'] }).httpAdmin;
  if (!admin) return;
  admin.post(
    '/thingpark/account/call',
    RED.auth.needsPermission('thingpark-account.write'),
    (req: Request, res: Response) => {
      const body: unknown = req.body;
      if (
        !isRecord(body) ||
        typeof body.account !== 'string' ||
        !ALLOWED.includes(body.operation as Operation)
      )
        return res.status(400).json({ ok: false, message: RED._('thingpark-account.admin.invalid') });
      const account = RED.nodes.getNode(body.account) as (AccountNode & { type?: string }) | null;
      if (!account || account.type !== 'thingpark-account')
        return res.status(404).json({ ok: false, message: RED._('thingpark-account.admin.not-deployed') });
      const operation = body.operation as Operation;
      const secrets: string[] = [];
      let payload = body.payload;
      if (operation === 'createIotFlowConnection' && isRecord(payload) && isRecord(payload.configuration)) {
        const configuration = { ...payload.configuration };
        if (configuration.password === UNCHANGED_PASSWORD) {
          const network =
            typeof body.network === 'string'
              ? (RED.nodes.getNode(body.network) as (Node & { type?: string }) | null)
              : null;
          const stored =
            network?.type === 'thingpark-network'
              ? (RED.nodes.getCredentials(body.network as string) as { password?: string } | undefined)
              : undefined;
          configuration.password = stored?.password ?? '';
        }
        payload = { ...payload, configuration };
      }
      collectSecrets(payload, secrets);
      const answer = (status: number, json: Record<string, unknown>) => {
        const all = [...secrets, ...account.secrets()].filter((s) => s.length >= 3);
        res.status(status).json(masked(json, all));
      };
      run(account, operation, payload, body.devEUI).then(
        (result) => answer(200, { ok: true, ...result }),
        (err: unknown) => {
          if (err instanceof ThingParkApiError)
            return answer(200, { ok: false, status: err.status, message: err.message });
          if (err instanceof ApiInputError) return answer(400, { ok: false, message: err.message });
          answer(200, { ok: false, message: errorMessage(err) });
        },
      );
    },
  );
}

async function run(
  account: AccountNode,
  operation: Operation,
  payload: unknown,
  devEUI: unknown,
): Promise<Record<string, unknown>> {
  const request = buildRequest(operation, { payload, devEUI });
  const answer = await account.client.send(request);
  const out: Record<string, unknown> = {
    status: answer.status,
    ...(answer.location ? { location: answer.location } : {}),
  };
  if (request.paged) {
    const page = readPage(answer.body);
    return { ...out, payload: page.items, more: page.more, cursor: page.cursor, count: page.count };
  }
  out.payload = answer.body;
  if (operation === 'createHttpConnection' && isRecord(answer.body)) out.asId = answer.body.ID;
  if (operation === 'createIotFlowConnection' && isRecord(answer.body))
    out.asId = await applicationServerOf(account, String(answer.body.id));
  return out;
}

/** The application server by which the OSS side refers to an IoT Flow connection (`tpxIotFlow.connectionId`). */
async function applicationServerOf(account: AccountNode, connectionId: string): Promise<string | undefined> {
  const answer = await account.client.send(buildRequest('listConnections', {}));
  const found = readPage(answer.body).items.find(
    (a) => isRecord(a) && isRecord(a.tpxIotFlow) && String(a.tpxIotFlow.connectionId) === connectionId,
  );
  return isRecord(found) && typeof found.ID === 'string' ? found.ID : undefined;
}

function collectSecrets(value: unknown, into: string[]): void {
  if (Array.isArray(value)) value.forEach((v) => collectSecrets(v, into));
  else if (isRecord(value))
    for (const [k, v] of Object.entries(value)) {
      if (SECRET_FIELD.test(k) && typeof v === 'string') into.push(v);
      else collectSecrets(v, into);
    }
}
