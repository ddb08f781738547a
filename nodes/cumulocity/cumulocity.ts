// First: on a Node.js older than the package's floor, fail here with one line naming it.
import '../../lib/node-version/require-supported';
import * as fs from 'fs';
import { homedir, hostname } from 'os';
import * as path from 'path';
import {
  checkCumulocityConnection,
  CumulocityClient,
  CUMULOCITY_PORT,
  DEFAULT_OPERATION_TIMEOUT_MS,
  type CumulocityBody,
  type DownlinkOutcome,
} from '../../lib/cumulocity';
import { assertGatewayId, DEFAULT_MAX_CHILDREN } from '../../lib/cumulocity';
import { incomplete, registerConnectionTest } from '../shared/connection-test';
import { PlatformConnection } from '../shared/platform-connection';
import type { PlatformConfigNode } from '../shared/out-node';
import { errorMessage, resolveEnv, tlsOptionsFrom, type NodeAPI, type NodeDef } from '../shared/red';

interface CumulocityDef extends NodeDef {
  hostName: string;
  tenantId: string;
  tls: string;
  insecure: boolean;
  gatewayId: string;
  gatewayName: string;
  deviceType: string;
  requiredInterval: number | string;
  childInterval: number | string;
  maxChildren: number | string;
  /** Minutes between heartbeats (`125`); empty: half the gateway interval. */
  heartbeatInterval?: number | string;
  successOn: string;
  operationTimeout: number | string;
  bufferMax: number | string;
  bufferPolicy: string;
}

export interface CumulocityConfigNode extends PlatformConfigNode<CumulocityBody> {
  client: CumulocityClient;
  /** Called by `downlink out` for downlinks that came from this connection. */
  downlinkResult(origin: { ref?: unknown }, result: DownlinkOutcome): void;
}

/** `host[:port]`, `defaultPort` when absent. */
export function splitHostPort(value: string, defaultPort: number): { host: string; port: number } {
  const match = /^(.*?)(?::(\d+))?$/.exec(value.trim())!;
  return { host: match[1], port: match[2] ? Number(match[2]) : defaultPort };
}

/** The gateway's default external id: one per Node-RED host, usable as MQTT client id. */
export function defaultGatewayId(): string {
  return `thingpark-edge-${hostname()}`.replace(/[^A-Za-z0-9_.-]/g, '-');
}

/** Where a connection keeps its child registry and operations: under Node-RED's user directory. */
export function stateDir(RED: NodeAPI, nodeId: string): string {
  const userDir =
    (RED.settings as unknown as { userDir?: string }).userDir ?? path.join(homedir(), '.node-red');
  return path.join(userDir, 'thingpark-cumulocity', nodeId.replace(/[^A-Za-z0-9_.-]/g, '_'));
}

const STATE_FILE = /^(children|operations)\.json(\.tmp-\d+|\.corrupt-\d+)?$/;

/** Deletes a removed connection's state, only the files it wrote. */
async function removeStateDir(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return;
  }
  await Promise.all(names.filter((n) => STATE_FILE.test(n)).map((n) => fs.promises.rm(path.join(dir, n))));
  await fs.promises.rmdir(dir).catch(() => undefined);
}

function positive(value: unknown, fallback: number, integer: boolean): number {
  const n = Number(value);
  if (value === '' || value === undefined || value === null || !Number.isFinite(n) || n <= 0) return fallback;
  return integer ? Math.floor(n) : n;
}

const WARN_EVERY_MS = 60000;

module.exports = function (RED: NodeAPI) {
  function ThingParkCumulocityNode(this: CumulocityConfigNode, config: CumulocityDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const creds = (node.credentials ?? {}) as { username?: string; password?: string };
    const env = (value: unknown) => resolveEnv(RED, node, value);
    const target = splitHostPort(env(config.hostName), CUMULOCITY_PORT);
    const tenantId = env(config.tenantId).trim();
    const gatewayId = env(config.gatewayId).trim() || defaultGatewayId();
    let problem = !target.host
      ? RED._('thingpark-cumulocity.errors.no-host')
      : !tenantId
        ? RED._('thingpark-cumulocity.errors.no-tenant')
        : undefined;
    try {
      assertGatewayId(gatewayId);
    } catch {
      problem ??= RED._('thingpark-cumulocity.errors.bad-gateway', { id: gatewayId });
    }
    const dir = stateDir(RED, node.id);
    const heartbeat = positive(env(config.heartbeatInterval), 0, false);
    const heartbeatMinutes = heartbeat > 0 ? heartbeat : undefined;
    const options = {
      host: target.host,
      port: target.port,
      insecure: config.insecure === true,
      tls: tlsOptionsFrom(RED, config.tls),
      tenantId,
      username: env(creds.username),
      password: env(creds.password) || undefined,
      gatewayId,
      gatewayName: env(config.gatewayName).trim() || undefined,
      gatewayType: env(config.deviceType).trim() || undefined,
      requiredIntervalMinutes: positive(env(config.requiredInterval), 60, true),
      childIntervalMinutes: positive(env(config.childInterval), 1440, true),
      maxChildren: positive(env(config.maxChildren), DEFAULT_MAX_CHILDREN, true),
      heartbeatIntervalMs: heartbeatMinutes === undefined ? undefined : heartbeatMinutes * 60000,
      successOn: config.successOn === 'queued' ? ('queued' as const) : ('sent' as const),
      operationTimeoutMs:
        positive(env(config.operationTimeout), DEFAULT_OPERATION_TIMEOUT_MS / 60000, false) * 60000,
      stateDir: dir,
      // The connection exists once the client does: status messages take its durable queue.
      enqueue: (key: string, body: CumulocityBody) => node.connection.enqueue(key, body),
    };
    let client: CumulocityClient;
    try {
      // A connection that cannot work never starts: it must not touch the stored state either.
      client = new CumulocityClient(
        problem ? { ...options, gatewayId: 'unconfigured', stateDir: undefined } : options,
      );
    } catch (err) {
      problem ??= RED._('thingpark-cumulocity.errors.state', { error: errorMessage(err) });
      client = new CumulocityClient({ ...options, gatewayId: 'unconfigured', stateDir: undefined });
    }
    node.client = client;
    for (const warning of client.loadWarnings) node.warn(warning);
    const lastWarned = new Map<string, number>();
    /** Each distinct text once a minute at most: a platform or a store may repeat itself thousands of times. */
    const fresh = (text: string): boolean => {
      const now = Date.now();
      if ((lastWarned.get(text) ?? 0) > now - WARN_EVERY_MS) return false;
      if (lastWarned.size >= 1000) lastWarned.clear();
      lastWarned.set(text, now);
      return true;
    };
    client.on('warning', (err: Error) => {
      if (fresh(err.message)) node.warn(err.message);
    });
    // What Cumulocity could not take (s/e, error): an error the flows' Catch nodes see.
    client.on('platform-error', (topic: string, text: string) => {
      const message = RED._('thingpark-cumulocity.errors.reported', { topic, error: text });
      if (fresh(message)) node.connection.registry.reportError(message);
    });
    // MQTT keeps order on one connection, so several messages of a device may be in flight at once.
    node.connection = new PlatformConnection(
      RED,
      node,
      'Cumulocity',
      client,
      config,
      { perKeyInflight: 32 },
      problem,
    );
    node.downlinkResult = (origin, result) => client.downlinkResult(origin?.ref, result);
    node.on('close', (removed: boolean, done: () => void) => {
      node.connection
        .close(removed)
        .then(() => (removed ? removeStateDir(dir) : undefined))
        .then(done, done);
    });
  }

  RED.nodes.registerType('thingpark-cumulocity', ThingParkCumulocityNode as never, {
    credentials: { username: { type: 'text' }, password: { type: 'password' } },
  });

  // "Test connection": one MQTT connect with the dialog's values, under another client id than the
  // gateway's so that Cumulocity does not drop the live connection.
  registerConnectionTest(RED, {
    type: 'thingpark-cumulocity',
    path: '/thingpark/cumulocity/test',
    passwords: ['password'],
    check: async (input) => {
      const target = splitHostPort(input.value('hostName'), CUMULOCITY_PORT);
      if (!target.host) return incomplete(RED._('thingpark-cumulocity.label.hostName'));
      const tenantId = input.value('tenantId');
      if (!tenantId) return incomplete(RED._('thingpark-cumulocity.label.tenantId'));
      return checkCumulocityConnection({
        ...target,
        insecure: input.flag('insecure'),
        tls: input.tls,
        tenantId,
        username: input.credential('username'),
        password: input.credential('password') || undefined,
        clientId: `${input.value('gatewayId') || defaultGatewayId()}-check`,
      });
    },
  });
};
