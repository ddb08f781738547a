// First: on a Node.js older than the package's floor, fail here with one line naming it.
import '../../lib/node-version/require-supported';
import { hostname } from 'os';
import {
  DEFAULT_LRC_URL,
  LrcClient,
  checkLrcReachable,
  subscriptionFilter,
  type Connectivity,
} from '../../lib/thingpark';
import { checkMqttConnection } from '../../lib/mqtt/mqtt-check';
import { incomplete, registerConnectionTest } from '../shared/connection-test';
import { MqttConnection, type ConnectionState } from '../../lib/mqtt/mqtt-connection';
import { monitorRegistry } from '../shared/monitor-registry';
import { UserRegistry } from '../shared/user-registry';
import {
  errorMessage,
  resolveEnv,
  tlsOptionsFrom,
  type Node,
  type NodeAPI,
  type NodeDef,
} from '../shared/red';

export interface NetworkDef extends NodeDef {
  mode: 'http' | 'mqtt';
  lrcUrl: string;
  asId: string;
  maxTimeDeviation: number | string;
  acceptUnverified: boolean;
  broker: string;
  protocol: 'tcp' | 'ssl' | 'wss';
  uplinkTopic: string;
  downlinkTopic: string;
  sharedGroup: string;
  clientId: string;
  tls: string;
  /** `stored` (default): ThingPark is answered (HTTP 200, PUBACK) once the document is stored; `immediate`: at once. */
  ackMode?: 'stored' | 'immediate';
  /** Seconds the flow has to store a document before ThingPark gets a 503 (default 3). */
  ackTimeout?: number | string;
}

interface NetworkCredentials {
  asKey?: string;
  username?: string;
  password?: string;
}

export const DEFAULT_UPLINK_TOPIC = 'mqtt/things/{DevEUI}/uplink';
export const DEFAULT_DOWNLINK_TOPIC = 'mqtt/things/{DevEUI}/downlink';
const CONNECTIVITY_MEMORY = 100000;

export interface NetworkNode extends Node {
  mode: 'http' | 'mqtt';
  asId: string;
  asKey: string;
  maxTimeDeviation: number;
  acceptUnverified: boolean;
  /** ThingPark is told a document was received only once every out node it reached stored it. */
  answerWhenStored: boolean;
  ackTimeoutMs: number;
  uplinkTopic: string;
  downlinkTopic: string;
  lrc: LrcClient;
  mqtt?: MqttConnection;
  userRegistry: UserRegistry;
  users: Record<string, Node>;
  /** Registers an `uplink in` for the IoT Flow uplink topic (mqtt mode). */
  subscribeUplinks(handler: (topic: string, payload: Buffer) => void): void;
  unsubscribeUplinks(handler: (topic: string, payload: Buffer) => void): void;
  rememberConnectivity(devEUI: string, connectivity: Connectivity): void;
  connectivityOf(devEUI: string): Connectivity | undefined;
}

const STATUS: Record<
  ConnectionState,
  { fill: 'green' | 'yellow' | 'red'; shape: 'dot' | 'ring'; text: string }
> = {
  connected: { fill: 'green', shape: 'dot', text: 'node-red:common.status.connected' },
  connecting: { fill: 'yellow', shape: 'ring', text: 'node-red:common.status.connecting' },
  disconnected: { fill: 'red', shape: 'ring', text: 'node-red:common.status.disconnected' },
};

export function brokerUrl(broker: string, protocol: string): string {
  const scheme = protocol === 'ssl' ? 'mqtts' : protocol === 'wss' ? 'wss' : 'mqtt';
  const hasPort = /:\d+$/.test(broker);
  const port = protocol === 'ssl' ? 8883 : protocol === 'wss' ? 443 : 1883;
  const path = protocol === 'wss' && !broker.includes('/') ? '/mqtt' : '';
  return `${scheme}://${hasPort ? broker : `${broker}:${port}`}${path}`;
}

const PROTOCOLS = ['tcp', 'ssl', 'wss'];

/** The MQTT client id of a connection: configured, or made from this host and the node id. */
function clientIdOf(configured: string, nodeId: string): string {
  return configured || `nodered-thingpark-${hostname()}-${nodeId}`.replace(/[^A-Za-z0-9_-]/g, '');
}

module.exports = function (RED: NodeAPI) {
  function ThingParkNetworkNode(this: NetworkNode, config: NetworkDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const creds = (node.credentials ?? {}) as NetworkCredentials;
    const env = (value: unknown) => resolveEnv(RED, node, value);
    node.mode = config.mode === 'mqtt' ? 'mqtt' : 'http';
    node.asId = env(config.asId);
    node.asKey = env(creds.asKey);
    const deviation = Number(config.maxTimeDeviation);
    node.maxTimeDeviation = Number.isFinite(deviation) && deviation >= 0 ? deviation : 120;
    node.acceptUnverified = config.acceptUnverified !== false;
    node.answerWhenStored = config.ackMode !== 'immediate';
    const ackTimeout = Number(config.ackTimeout);
    node.ackTimeoutMs = (Number.isFinite(ackTimeout) && ackTimeout > 0 ? Math.min(ackTimeout, 60) : 3) * 1000;
    node.uplinkTopic = env(config.uplinkTopic) || DEFAULT_UPLINK_TOPIC;
    node.downlinkTopic = env(config.downlinkTopic) || DEFAULT_DOWNLINK_TOPIC;
    node.lrc = new LrcClient({
      url: env(config.lrcUrl) || DEFAULT_LRC_URL,
      asId: node.asId,
      asKey: node.asKey,
      tls: tlsOptionsFrom(RED, config.tls),
    });

    const connectivity = new Map<string, Connectivity>();
    node.rememberConnectivity = (devEUI, value) => {
      if (connectivity.get(devEUI) === value) return;
      if (connectivity.size >= CONNECTIVITY_MEMORY) connectivity.delete(connectivity.keys().next().value!);
      connectivity.set(devEUI, value);
    };
    node.connectivityOf = (devEUI) => connectivity.get(devEUI.toUpperCase());

    let connection: MqttConnection | undefined;
    if (node.mode === 'mqtt') {
      const protocol = PROTOCOLS.includes(config.protocol) ? config.protocol : 'ssl';
      connection = new MqttConnection({
        url: brokerUrl(env(config.broker) || '127.0.0.1', protocol),
        clientId: clientIdOf(env(config.clientId), node.id),
        username: env(creds.username) || undefined,
        password: env(creds.password) || undefined,
        tls: tlsOptionsFrom(RED, config.tls),
        batchAcks: true,
        // The IoT Flow broker keeps what it publishes while we are away and sends again what we did
        // not acknowledge: nothing is lost across a restart, a crash or a redeploy.
        persistentSession: true,
        holdAcks: node.answerWhenStored,
      });
      node.mqtt = connection;
      connection.on('state', (state: ConnectionState) => {
        const s = STATUS[state];
        const detail =
          state === 'disconnected' && connection!.lastError ? `: ${connection!.lastError.message}` : '';
        node.userRegistry.setStatus({ fill: s.fill, shape: s.shape, text: RED._(s.text) + detail });
      });
      let lastReported = '';
      connection.on('error', (err: Error) => {
        // One report per distinct error, not one per reconnect attempt.
        if (err.message === lastReported) return;
        lastReported = err.message;
        node.userRegistry.reportError(
          RED._('thingpark-network.errors.connection', { error: errorMessage(err) }),
        );
      });
      connection.on('state', (state: ConnectionState) => {
        if (state === 'connected') lastReported = '';
      });
    }
    node.userRegistry = new UserRegistry(
      () => connection?.start(),
      () => connection?.stop(),
    );
    node.users = node.userRegistry.nodes;
    if (connection) {
      const s = STATUS.disconnected;
      node.userRegistry.setStatus({ fill: s.fill, shape: s.shape, text: RED._(s.text) });
    }

    const uplinkFilter = subscriptionFilter(node.uplinkTopic, env(config.sharedGroup) || undefined);
    node.subscribeUplinks = (handler) => connection?.subscribe(uplinkFilter, handler);
    node.unsubscribeUplinks = (handler) => connection?.unsubscribe(uplinkFilter, handler);

    const unannounce = monitorRegistry.addNetwork({
      node,
      mode: node.mode,
      state: () => ({
        state: connection?.state ?? 'listening',
        reconnects: connection?.reconnects ?? 0,
        lastError: connection?.lastError?.message,
      }),
    });
    node.on('close', (removed: boolean, done: () => void) => {
      unannounce();
      // Removed from the flows: the IoT Flow broker stops keeping a session nobody will come back to.
      const stopping = connection ? connection.stop(2000, { endSession: removed }) : Promise.resolve();
      stopping.then(
        () => done(),
        () => done(),
      );
    });
  }

  RED.nodes.registerType('thingpark-network', ThingParkNetworkNode as never, {
    credentials: {
      asKey: { type: 'password' },
      username: { type: 'text' },
      password: { type: 'password' },
    },
  });

  // "Test connection". MQTT mode: one connect to the IoT Flow broker (another client id than the live
  // connection's). HTTP mode: whether the LRC downlink URL answers over verified TLS; the AS key can
  // only be checked by sending a downlink, which a test must not do.
  registerConnectionTest(RED, {
    type: 'thingpark-network',
    path: '/thingpark/network/test',
    passwords: ['asKey', 'password'],
    check: async (input) => {
      if (input.value('mode') !== 'mqtt')
        return checkLrcReachable(input.value('lrcUrl') || DEFAULT_LRC_URL, input.tls);
      const broker = input.value('broker');
      if (!broker) return incomplete(RED._('thingpark-network.label.broker'));
      const protocol = input.value('protocol');
      return checkMqttConnection({
        url: brokerUrl(broker, PROTOCOLS.includes(protocol) ? protocol : 'ssl'),
        clientId: `${clientIdOf(input.value('clientId'), input.id)}-check`,
        username: input.credential('username') || undefined,
        password: input.credential('password') || undefined,
        tls: input.tls,
      });
    },
  });
};
