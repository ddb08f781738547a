// First: on a Node.js older than the package's floor, fail here with one line naming it.
import '../../lib/node-version/require-supported';
import { hostname } from 'os';
import { checkWmwConnection, WmwClient, WMW_PORT, WMW_REGIONS, type WmwBody } from '../../lib/wmw/wmw-client';
import { incomplete, registerConnectionTest } from '../shared/connection-test';
import { PlatformConnection } from '../shared/platform-connection';
import type { PlatformConfigNode } from '../shared/out-node';
import { resolveEnv, tlsOptionsFrom, type NodeAPI, type NodeDef } from '../shared/red';

interface WmwDef extends NodeDef {
  region: string;
  hostName: string;
  enterpriseId: string;
  clientId: string;
  tls: string;
  insecure: boolean;
  bufferMax: number | string;
  bufferPolicy: string;
}

/** `host[:port]`, port 8883 when absent. */
export function splitHost(value: string, defaultPort: number): { host: string; port: number } {
  const match = /^(.*?)(?::(\d+))?$/.exec(value.trim())!;
  return { host: match[1], port: match[2] ? Number(match[2]) : defaultPort };
}

/** The client id of a connection: configured, or made from the enterprise id and this host. */
function clientIdOf(configured: string, enterpriseId: string): string {
  return configured || `nodered-wmw-${enterpriseId}-${hostname()}`.replace(/[^A-Za-z0-9_-]/g, '');
}

/** Where a connection goes: a known region's host, or the custom `host[:port]`. */
function targetOf(region: string, hostName: string): { host: string; port: number } {
  return region && region !== 'custom' && WMW_REGIONS[region]
    ? { host: WMW_REGIONS[region], port: WMW_PORT }
    : splitHost(hostName, WMW_PORT);
}

module.exports = function (RED: NodeAPI) {
  function ThingParkWmwNode(this: PlatformConfigNode<WmwBody>, config: WmwDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const creds = (node.credentials ?? {}) as { username?: string; password?: string };
    const env = (value: unknown) => resolveEnv(RED, node, value);
    const target = targetOf(config.region, env(config.hostName));
    const enterpriseId = env(config.enterpriseId);
    const client = new WmwClient({
      host: target.host,
      port: target.port,
      enterpriseId,
      clientId: clientIdOf(env(config.clientId), enterpriseId),
      username: env(creds.username) || undefined,
      password: env(creds.password) || undefined,
      tls: tlsOptionsFrom(RED, config.tls),
      insecure: config.insecure === true,
    });
    // MQTT keeps order on one connection, so several messages of a device may be in flight at once.
    const problem = !target.host
      ? RED._('thingpark-wmw.errors.no-host')
      : !enterpriseId
        ? RED._('thingpark-wmw.errors.no-enterprise')
        : undefined;
    node.connection = new PlatformConnection(
      RED,
      node,
      'WMW',
      client,
      config,
      { perKeyInflight: 32 },
      problem,
    );
    node.on('close', (removed: boolean, done: () => void) => {
      node.connection.close(removed).then(done, done);
    });
  }

  RED.nodes.registerType('thingpark-wmw', ThingParkWmwNode as never, {
    credentials: { username: { type: 'text' }, password: { type: 'password' } },
  });

  // "Test connection": one MQTT connect with the dialog's values, under another client id than the
  // live connection's so that the broker does not drop it.
  registerConnectionTest(RED, {
    type: 'thingpark-wmw',
    path: '/thingpark/wmw/test',
    passwords: ['password'],
    check: async (input) => {
      const target = targetOf(input.value('region'), input.value('hostName'));
      if (!target.host) return incomplete(RED._('thingpark-wmw.label.hostName'));
      return checkWmwConnection({
        ...target,
        clientId: `${clientIdOf(input.value('clientId'), input.value('enterpriseId'))}-check`,
        username: input.credential('username') || undefined,
        password: input.credential('password') || undefined,
        tls: input.tls,
        insecure: input.flag('insecure'),
      });
    },
  });
};
