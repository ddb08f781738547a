// First: on a Node.js older than the package's floor, fail here with one line naming it.
import '../../lib/node-version/require-supported';
import { hostname } from 'os';
import { checkWmwConnection, WmwClient, wmwTarget, type WmwBody, type WmwOptions } from '../../lib/wmw';
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

/** The client id of a connection: configured, or made from the enterprise id and this host. */
function clientIdOf(configured: string, enterpriseId: string): string {
  return configured || `nodered-wmw-${enterpriseId}-${hostname()}`.replace(/[^A-Za-z0-9_-]/g, '');
}

/**
 * A connection's options from its settings, read the same way for the live connection (the node's
 * values) and for "Test connection" (the dialog's): `${ENV}` resolved, a region or a custom host.
 */
function optionsOf(
  value: (name: 'region' | 'hostName' | 'enterpriseId' | 'clientId') => string,
  credential: (name: 'username' | 'password') => string,
  tls: Record<string, unknown> | undefined,
  insecure: boolean,
): WmwOptions {
  const enterpriseId = value('enterpriseId');
  return {
    ...wmwTarget(value('region'), value('hostName')),
    enterpriseId,
    clientId: clientIdOf(value('clientId'), enterpriseId),
    username: credential('username') || undefined,
    password: credential('password') || undefined,
    tls,
    insecure,
  };
}

module.exports = function (RED: NodeAPI) {
  function ThingParkWmwNode(this: PlatformConfigNode<WmwBody>, config: WmwDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const creds = (node.credentials ?? {}) as Record<string, string | undefined>;
    const env = (value: unknown) => resolveEnv(RED, node, value);
    const options = optionsOf(
      (name) => (name === 'region' ? config.region : env(config[name])),
      (name) => env(creds[name]),
      tlsOptionsFrom(RED, config.tls),
      config.insecure === true,
    );
    const problem = !options.host
      ? RED._('thingpark-wmw.errors.no-host')
      : !options.enterpriseId
        ? RED._('thingpark-wmw.errors.no-enterprise')
        : undefined;
    // MQTT keeps order on one connection, so several messages of a device may be in flight at once.
    const connection = new PlatformConnection(
      RED,
      node,
      'WMW',
      new WmwClient(options),
      config,
      { perKeyInflight: 32 },
      problem,
    );
    node.connection = connection;
    node.on('close', (removed: boolean, done: () => void) => {
      connection.close(removed).then(done, done);
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
      const { host, port, clientId, username, password, tls, insecure } = optionsOf(
        input.value,
        input.credential,
        input.tls,
        input.flag('insecure'),
      );
      if (!host) return incomplete(RED._('thingpark-wmw.label.hostName'));
      return checkWmwConnection({
        host,
        port,
        clientId: `${clientId}-check`,
        username,
        password,
        tls,
        insecure,
      });
    },
  });
};
