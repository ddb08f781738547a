// First: on a Node.js older than the package's floor, fail here with one line naming it.
import '../../lib/node-version/require-supported';
import type { DownlinkRequest } from '../../lib/thingpark/mapping/downlink';
import {
  checkAlwaysOnConnection,
  DEFAULT_TEMPLATE,
  devEuiOfThing,
  parseHostPort,
  statusFromResult,
  ThingWorxClient,
  type AlwaysOnTlsOptions,
  type ThingWorxBody,
  type ThingWorxDownlinkRef,
} from '../../lib/thingworx';
import { incomplete, registerConnectionTest } from '../shared/connection-test';
import { PlatformConnection } from '../shared/platform-connection';
import type { PlatformConfigNode } from '../shared/out-node';
import { errorMessage, resolveEnv, tlsOptionsFrom, type NodeAPI, type NodeDef } from '../shared/red';

interface ThingWorxDef extends NodeDef {
  hostName: string;
  thingTemplateName: string;
  thingNamePrefix: string;
  pipeCount: number | string;
  tls: string;
  allowInsecure: boolean;
  /** Offer permessage-deflate (absent in flows older than the setting: on, as before). */
  compression?: boolean;
  bufferMax: number | string;
  bufferPolicy: string;
}

/** What `downlink out` tells the connection a downlink came from (msg.thingpark.origin). */
interface DownlinkOrigin {
  platform?: string;
  config?: string;
  ref?: unknown;
}

export interface ThingWorxConfigNode extends PlatformConfigNode<ThingWorxBody> {
  client: ThingWorxClient;
  /** The Thing of a device (prefix + DevEUI). */
  thingName(devEUI: string): string;
  /** Called by `downlink out` with the result of a downlink this connection originated. */
  downlinkResult(
    origin: DownlinkOrigin,
    result: {
      status?: string;
      DevEUI?: string;
      CorrelationID?: string;
      httpStatus?: number;
      reason?: string;
    },
    request?: DownlinkRequest,
  ): void;
}

function isRef(value: unknown): value is ThingWorxDownlinkRef {
  const ref = value as ThingWorxDownlinkRef | undefined;
  return typeof ref?.thing === 'string' && typeof ref.property === 'string' && ref.thing !== '';
}

module.exports = function (RED: NodeAPI) {
  function ThingParkThingWorxNode(this: ThingWorxConfigNode, config: ThingWorxDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const creds = (node.credentials ?? {}) as { applicationKey?: string };
    const env = (value: unknown) => resolveEnv(RED, node, value);
    const { host, port } = parseHostPort(env(config.hostName));
    const appKey = env(creds.applicationKey);
    const pipes = Number(env(config.pipeCount));
    const tls = tlsOptionsFrom(RED, config.tls) as AlwaysOnTlsOptions | undefined;
    const client = new ThingWorxClient({
      host,
      port,
      appKey,
      allowInsecure: config.allowInsecure === true,
      tls,
      templateName: env(config.thingTemplateName).trim() || DEFAULT_TEMPLATE,
      thingNamePrefix: env(config.thingNamePrefix).trim(),
      pipeCount: Number.isInteger(pipes) ? Math.min(255, Math.max(1, pipes)) : 1,
      compression: config.compression !== false,
    });
    const problem = !host
      ? RED._('thingpark-thingworx.errors.no-host')
      : !appKey
        ? RED._('thingpark-thingworx.errors.no-key')
        : client.configProblem
          ? RED._('thingpark-thingworx.errors.bad-host', { error: client.configProblem })
          : undefined;
    node.client = client;
    // Each Thing's messages go one at a time, in order (AlwaysOn answers requests in any order).
    node.connection = new PlatformConnection(RED, node, 'ThingWorx', client, config, {}, problem);
    client.on('warning', (text: string) =>
      node.warn(RED._('thingpark-thingworx.warnings.platform', { text })),
    );

    node.thingName = (devEUI: string) => client.thingName(devEUI);

    node.downlinkResult = (origin, result, request) => {
      if (!isRef(origin?.ref) || client.statusSupported === false) return;
      const ref = origin.ref;
      const devEUI =
        request?.devEUI ?? result.DevEUI ?? devEuiOfThing(client.thingNamePrefix, ref.thing) ?? ref.thing;
      const status = statusFromResult(result, ref);
      const body: ThingWorxBody = { devEUI, thing: ref.thing, time: String(status.time), status };
      node.connection
        .enqueue(devEUI, body)
        .catch((err: unknown) =>
          node.warn(
            RED._('thingpark-thingworx.warnings.status', { thing: ref.thing, error: errorMessage(err) }),
          ),
        );
    };

    node.on('close', (removed: boolean, done: () => void) => {
      node.connection.close(removed).then(done, done);
    });
  }

  RED.nodes.registerType('thingpark-thingworx', ThingParkThingWorxNode as never, {
    credentials: { applicationKey: { type: 'password' } },
  });

  // "Test connection": one AlwaysOn socket, AUTH with the application key, closed again; no Thing bound.
  registerConnectionTest(RED, {
    type: 'thingpark-thingworx',
    path: '/thingpark/thingworx/test',
    passwords: ['applicationKey'],
    check: async (input) => {
      const { host, port } = parseHostPort(input.value('hostName'));
      if (!host) return incomplete(RED._('thingpark-thingworx.label.hostName'));
      const appKey = input.credential('applicationKey');
      if (!appKey) return incomplete(RED._('thingpark-thingworx.label.applicationKey'));
      return checkAlwaysOnConnection({
        host,
        port,
        appKey,
        allowInsecure: input.flag('allowInsecure'),
        tls: input.tls as AlwaysOnTlsOptions | undefined,
      });
    },
  });
};
