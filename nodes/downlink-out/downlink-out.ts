// First: on a Node.js older than the package's floor, fail here with one line naming it.
import '../../lib/node-version/require-supported';
import { parseDownlink, downlinkDocument, type DownlinkRequest } from '../../lib/thingpark/downlink';
import { isPlainObject } from '../../lib/thingpark/normalise';
import type { Connectivity } from '../../lib/thingpark/document-types';
import type { LrcResult } from '../../lib/thingpark/lrc-client';
import { resolveTopic } from '../../lib/thingpark/topics';
import { NotConnectedError } from '../../lib/mqtt/mqtt-connection';
import type { NetworkNode } from '../network/network';
import { errorMessage, type DoneFn, type Node, type NodeAPI, type NodeDef, type SendFn } from '../shared/red';

interface DownlinkOutDef extends NodeDef {
  network: string;
}

/** What `downlink out` reports in `msg.payload` (DESIGN.md "Messages"). */
export interface DownlinkResult {
  status: 'queued' | 'rejected' | 'error';
  DevEUI?: string;
  CorrelationID?: string;
  httpStatus?: number;
  reason?: string;
  attempts?: number;
}

/** A platform connection that wants to hear how a downlink it originated went. */
interface DownlinkOrigin {
  platform?: string;
  config?: string;
  ref?: unknown;
}
interface OriginConfigNode extends Node {
  downlinkResult?(origin: DownlinkOrigin, result: DownlinkResult, request?: DownlinkRequest): void;
}

const MQTT_ATTEMPTS = 3;

module.exports = function (RED: NodeAPI) {
  function ThingParkDownlinkOutNode(this: Node, config: DownlinkOutDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const network = RED.nodes.getNode(config.network) as NetworkNode | null;
    if (!network) {
      node.status({ fill: 'red', shape: 'ring', text: RED._('thingpark-downlink-out.status.no-network') });
      node.error(RED._('thingpark-downlink-out.errors.no-network'), {});
      return;
    }
    if (network.mode === 'mqtt') {
      network.userRegistry.register(node);
      node.on('close', (_removed: boolean, done: () => void) => {
        network.userRegistry.deregister(node).then(done, done);
      });
    }
    let pending = 0;

    node.on('input', (msg: Record<string, unknown>, send: SendFn, done: DoneFn) => {
      const thingpark = isPlainObject(msg.thingpark) ? msg.thingpark : {};
      const origin = isPlainObject(thingpark.origin) ? (thingpark.origin as DownlinkOrigin) : undefined;
      const finish = (result: DownlinkResult, request?: DownlinkRequest) => {
        pending--;
        msg.payload = result;
        if (request) msg.downlink = downlinkDocument(request);
        notifyOrigin(origin, result, request);
        send(msg as never);
        if (result.status === 'queued') {
          if (network.mode === 'http' || pending === 0) {
            node.status({ fill: 'green', shape: 'dot', text: RED._('thingpark-downlink-out.status.queued') });
          }
          done();
        } else {
          node.status({
            fill: 'red',
            shape: 'ring',
            text: RED._(`thingpark-downlink-out.status.${result.status}`),
          });
          done(
            new Error(
              RED._('thingpark-downlink-out.errors.failed', { reason: result.reason ?? result.status }),
            ),
          );
        }
      };
      pending++;
      let request: DownlinkRequest;
      try {
        const devEUI = deviceOf(msg.payload);
        const known: Connectivity | undefined =
          thingpark.connectivity === 'CELLULAR' || thingpark.connectivity === 'LORAWAN'
            ? thingpark.connectivity
            : devEUI
              ? network.connectivityOf(devEUI)
              : undefined;
        request = parseDownlink(msg.payload, {
          connectivity: known,
          allowDriverPayload: network.mode === 'mqtt',
        });
      } catch (err) {
        return finish({ status: 'error', reason: errorMessage(err) });
      }
      node.status({ fill: 'blue', shape: 'ring', text: RED._('thingpark-downlink-out.status.sending') });
      const sending = network.mode === 'http' ? sendHttp(network, request) : sendMqtt(network, request);
      sending.then(
        (result) => finish(result, request),
        (err) => finish({ status: 'error', DevEUI: request.devEUI, reason: errorMessage(err) }, request),
      );
    });
  }

  async function sendHttp(network: NetworkNode, request: DownlinkRequest): Promise<DownlinkResult> {
    if (!network.asId || !network.asKey) {
      return {
        status: 'error',
        DevEUI: request.devEUI,
        reason: RED._('thingpark-downlink-out.errors.no-key'),
      };
    }
    const result: LrcResult = await network.lrc.send(request);
    return {
      status: result.status,
      DevEUI: request.devEUI,
      CorrelationID: result.correlationId,
      httpStatus: result.httpStatus,
      reason: result.reason,
      attempts: result.attempts,
    };
  }

  async function sendMqtt(network: NetworkNode, request: DownlinkRequest): Promise<DownlinkResult> {
    const document = downlinkDocument(request);
    const topic = resolveTopic(network.downlinkTopic, document.DevEUI_downlink);
    const base = { DevEUI: request.devEUI, CorrelationID: request.correlationId };
    let lastError: unknown;
    for (let attempt = 1; attempt <= MQTT_ATTEMPTS; attempt++) {
      try {
        await network.mqtt!.publish(topic, JSON.stringify(document), 1);
        return { status: 'queued', ...base, attempts: attempt };
      } catch (err) {
        lastError = err;
        if (attempt < MQTT_ATTEMPTS)
          await new Promise((r) => setTimeout(r, (err instanceof NotConnectedError ? 2000 : 500) * attempt));
      }
    }
    return { status: 'error', ...base, reason: errorMessage(lastError), attempts: MQTT_ATTEMPTS };
  }

  function notifyOrigin(
    origin: DownlinkOrigin | undefined,
    result: DownlinkResult,
    request?: DownlinkRequest,
  ) {
    if (!origin?.config) return;
    const target = RED.nodes.getNode(origin.config) as OriginConfigNode | null;
    target?.downlinkResult?.(origin, result, request);
  }

  RED.nodes.registerType('thingpark-downlink-out', ThingParkDownlinkOutNode as never);
};

function deviceOf(payload: unknown): string | undefined {
  if (!isPlainObject(payload)) return undefined;
  const body = isPlainObject(payload.DevEUI_downlink) ? payload.DevEUI_downlink : payload;
  return typeof body.DevEUI === 'string' ? body.DevEUI.toUpperCase() : undefined;
}
