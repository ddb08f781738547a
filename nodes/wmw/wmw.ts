import { hostname } from 'os';
import { WmwClient, WMW_PORT, WMW_REGIONS, type WmwBody } from '../../lib/wmw/wmw-client';
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

module.exports = function (RED: NodeAPI) {
  function ThingParkWmwNode(this: PlatformConfigNode<WmwBody>, config: WmwDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const creds = (node.credentials ?? {}) as { username?: string; password?: string };
    const env = (value: unknown) => resolveEnv(RED, node, value);
    const target =
      config.region && config.region !== 'custom' && WMW_REGIONS[config.region]
        ? { host: WMW_REGIONS[config.region], port: WMW_PORT }
        : splitHost(env(config.hostName), WMW_PORT);
    const enterpriseId = env(config.enterpriseId);
    const client = new WmwClient({
      host: target.host,
      port: target.port,
      enterpriseId,
      clientId:
        env(config.clientId) || `nodered-wmw-${enterpriseId}-${hostname()}`.replace(/[^A-Za-z0-9_-]/g, ''),
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
};
