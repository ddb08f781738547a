// First: on a Node.js older than the package's floor, fail here with one line naming it.
import '../../lib/node-version/require-supported';
import {
  downlinkDocument,
  iotFlowDownlink,
  parseDownlink,
  thingparkTime,
  isPlainObject,
  resolveTopic,
  type DownlinkRequest,
  type Connectivity,
  type LrcResult,
} from '../../lib/thingpark';
import { NotConnectedError } from '../../lib/mqtt/mqtt-connection';
import type { NetworkNode } from '../network/network';
import { returnDownlinkOutcome } from '../shared/downlink-route';
import type { DownlinkOrigin, DownlinkOutcome } from '../../lib/connection/platform-client';
import { errorMessage, type DoneFn, type Node, type NodeAPI, type NodeDef, type SendFn } from '../shared/red';

interface DownlinkOutDef extends NodeDef {
  network: string;
}

/** What `downlink out` reports in `msg.payload` (DESIGN.md "Messages"). */
export type DownlinkResult = DownlinkOutcome;

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
        returnDownlinkOutcome(RED, origin, result, request);
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
          target: network.mode === 'mqtt' ? 'iotflow' : 'lrc',
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
    // Time is part of what the flow gets back in msg.downlink: set it on the request itself.
    request.time ??= thingparkTime(new Date());
    const document = iotFlowDownlink(request);
    const topic = resolveTopic(network.downlinkTopic, document.DevEUI_downlink);
    const base = { DevEUI: request.devEUI, CorrelationID: request.correlationId };
    let lastError: unknown;
    for (let attempt = 1; attempt <= MQTT_ATTEMPTS; attempt++) {
      try {
        await network.mqtt!.publish(topic, JSON.stringify(document), 1);
        return { status: 'queued', ...base, attempts: attempt };
      } catch (err) {
        lastError = err;
        // Only a publish that never left is sent again: one without its PUBACK may have reached IoT Flow.
        if (!(err instanceof NotConnectedError))
          return { status: 'error', ...base, reason: errorMessage(err), attempts: attempt };
        if (attempt < MQTT_ATTEMPTS) await new Promise((r) => setTimeout(r, 2000 * attempt));
      }
    }
    return { status: 'error', ...base, reason: errorMessage(lastError), attempts: MQTT_ATTEMPTS };
  }

  RED.nodes.registerType('thingpark-downlink-out', ThingParkDownlinkOutNode as never);
};

function deviceOf(payload: unknown): string | undefined {
  if (!isPlainObject(payload)) return undefined;
  const body = isPlainObject(payload.DevEUI_downlink) ? payload.DevEUI_downlink : payload;
  return typeof body.DevEUI === 'string' ? body.DevEUI.toUpperCase() : undefined;
}
