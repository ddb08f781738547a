// First: on a Node.js older than the package's floor, fail here with one line naming it.
import '../../lib/node-version/require-supported';
import type { Request, Response, NextFunction, Router } from 'express';
import {
  DOCUMENT_TYPES,
  normaliseDocument,
  parseDocumentText,
  checkTunnelDocument,
  devEUIReader,
  type NormalisedDocument,
} from '../../lib/thingpark';
import type { Release } from '../../lib/mqtt/held-acks';
import type { NetworkNode } from '../network/network';
import type { Outcome } from '../../lib/acknowledgement';
import { ensureHandoverHooks, pendingDocuments } from '../shared/handover-hooks';
import { monitorRegistry } from '../shared/monitor-registry';
import { chosenTypes } from '../shared/out-node';
import { errorMessage, type Node, type NodeAPI, type NodeDef, type NodeStatus } from '../shared/red';
import { bypassAdminBodyParsers, joinRoot } from './admin-body-bypass';
import { BodyTooLargeError, readBody } from './http-body';
import { sharedReplayGuard } from './replay-guard';

interface UplinkInDef extends NodeDef {
  network: string;
  path: string;
  types: string[] | string;
}

export const DEFAULT_PATH = '/thingpark/uplink';
export const MAX_BODY_BYTES = 256 * 1024;

const SAFE: Promise<Outcome> = Promise.resolve({ ok: true });

type Handler = (req: Request, res: Response, next: NextFunction) => void;

interface Counters {
  received: number;
  refused: number;
}

module.exports = function (RED: NodeAPI) {
  function ThingParkUplinkInNode(this: Node, config: UplinkInDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const network = RED.nodes.getNode(config.network) as NetworkNode | null;
    const selected = chosenTypes(config.types, DOCUMENT_TYPES);
    const counters: Counters = { received: 0, refused: 0 };
    let connectionStatus: NodeStatus | undefined;
    let statusTimer: NodeJS.Timeout | undefined;

    if (!network) {
      node.status({ fill: 'red', shape: 'ring', text: RED._('thingpark-uplink-in.status.no-network') });
      node.error(RED._('thingpark-uplink-in.errors.no-network'), {});
      return;
    }

    const showStatus = () => {
      statusTimer = undefined;
      const figures = RED._('thingpark-uplink-in.status.counts', { ...counters });
      if (connectionStatus?.text) {
        node.status({ ...connectionStatus, text: `${connectionStatus.text} · ${figures}` });
      } else {
        node.status({ fill: counters.refused ? 'yellow' : 'green', shape: 'dot', text: figures });
      }
    };
    const scheduleStatus = () => {
      if (!statusTimer) statusTimer = setTimeout(showStatus, 250);
    };

    // Without messaging hooks (Node-RED before 2.0) nothing can tell when the flow is done: answer at once.
    const answerWhenStored = network.answerWhenStored && ensureHandoverHooks(RED);

    /**
     * Hands a document to the flow. With `answerWhenStored`, settles once the flow has finished with
     * every copy (each out node it reached stored it), or with the reason it is not safe.
     */
    const emit = (doc: NormalisedDocument, verified: boolean): Promise<Outcome> => {
      counters.received++;
      scheduleStatus();
      if (doc.info.devEUI) network.rememberConnectivity(doc.info.devEUI, doc.info.connectivity);
      monitorRegistry.recordDocument(network.id, {
        ...doc.info,
        rssi: doc.body.LrrRSSI,
        snr: doc.body.LrrSNR,
      });
      if (!selected.has(doc.info.type)) return SAFE;
      const id = doc.body.LrrID ?? doc.body.LrrId ?? doc.body.McAddr;
      const topic = doc.info.devEUI ?? (typeof id === 'string' || typeof id === 'number' ? String(id) : '');
      const msg = { payload: doc.document, topic, thingpark: { ...doc.info, verified } } as Record<
        string,
        unknown
      >;
      if (!answerWhenStored) {
        node.send(msg as never);
        return SAFE;
      }
      const msgid = RED.util.generateId();
      msg._msgid = msgid;
      const outcome = pendingDocuments.open(msgid, network.ackTimeoutMs);
      if (!outcome) return Promise.resolve({ ok: false, reason: 'too many documents waiting to be stored' });
      node.send(msg as never);
      pendingDocuments.sent(msgid);
      return outcome;
    };

    const refuse = () => {
      counters.refused++;
      scheduleStatus();
    };

    node.on('close', () => clearTimeout(statusTimer));
    if (network.mode === 'http') {
      startHttp(node, network, config, emit, refuse, showStatus, answerWhenStored);
    } else {
      const devEUIOf = devEUIReader(network.uplinkTopic);
      const onMessage = (topic: string, payload: Buffer, hold?: () => Release) => {
        const text = payload.toString('utf8');
        // The PUBACK waits until the document is safe; the broker sends it again after a crash.
        const release = answerWhenStored ? hold?.() : undefined;
        try {
          const hint = devEUIOf(topic);
          const outcome = emit(normaliseDocument(parseDocumentText(text), { devEUIHint: hint }), false);
          if (release) {
            outcome.then((o) => {
              if (!o.ok) {
                refuse();
                node.warn(RED._('thingpark-uplink-in.errors.not-stored', { reason: o.reason }));
              }
              release(o.ok);
            });
          }
        } catch (err) {
          // A message that can never be read is acknowledged: sending it again would not help.
          release?.(true);
          refuse();
          node.error(RED._('thingpark-uplink-in.errors.malformed', { error: errorMessage(err) }), {
            topic,
            payload: text.length > 1024 ? `${text.slice(0, 1024)}…` : text,
          } as never);
        }
      };
      network.subscribeUplinks(onMessage);
      network.userRegistry.register(node, (status) => {
        connectionStatus = status;
        showStatus();
      });
      node.on('close', (_removed: boolean, done: () => void) => {
        network.unsubscribeUplinks(onMessage);
        network.userRegistry.deregister(node).then(done, done);
      });
    }
  }

  function startHttp(
    node: Node,
    network: NetworkNode,
    config: UplinkInDef,
    emit: (doc: NormalisedDocument, verified: boolean) => Promise<Outcome>,
    refuse: () => void,
    showStatus: () => void,
    answerWhenStored: boolean,
  ) {
    const settings = RED.settings as unknown as Record<string, unknown>;
    if (settings.httpNodeRoot === false) {
      node.warn(RED._('thingpark-uplink-in.errors.no-http'));
      node.status({ fill: 'red', shape: 'ring', text: RED._('thingpark-uplink-in.status.no-http') });
      return;
    }
    let path = (config.path || DEFAULT_PATH).trim();
    if (!path.startsWith('/')) path = `/${path}`;
    const guard = sharedReplayGuard(network.id, Math.max(network.maxTimeDeviation, 60) * 2000);

    const handler: Handler = (req, res) => {
      const fail = (status: number, reason: string) => {
        refuse();
        res.status(status).type('text/plain').send(reason);
        node.debug(`${status} ${reason}`);
      };
      readBody(req, MAX_BODY_BYTES).then(
        (body) => {
          const url = req.originalUrl;
          const verdict = checkTunnelDocument(
            url.includes('?') ? url.slice(url.indexOf('?') + 1) : '',
            body,
            {
              asKey: network.asKey,
              maxTimeDeviation: network.maxTimeDeviation,
              acceptUnverified: network.acceptUnverified,
            },
          );
          if (!verdict.ok) return fail(verdict.status, verdict.reason);
          const { doc, verified, token } = verdict;
          if (token && !guard.accept(token.toLowerCase())) return fail(403, 'replayed request');
          if (!answerWhenStored) {
            // Answer first, then run the flow: the lowest latency, but a crash can lose what was answered.
            res.status(200).type('text/plain').send('OK');
            emit(doc, verified);
            return;
          }
          // Answer once stored; otherwise 503, so that ThingPark tries its next destination.
          emit(doc, verified).then((o) => {
            if (o.ok) res.status(200).type('text/plain').send('OK');
            else fail(503, o.reason);
          });
        },
        (err) => {
          if (err instanceof BodyTooLargeError) fail(413, err.message);
          else fail(400, errorMessage(err));
        },
      );
    };

    const middleware = settings.httpNodeMiddleware;
    const chain: Handler[] = [];
    if (typeof middleware === 'function') chain.push(middleware as Handler);
    else if (Array.isArray(middleware)) chain.push(...(middleware as Handler[]));
    chain.push(handler);
    RED.httpNode.post(path, ...chain);
    const fullPath = joinRoot(typeof settings.httpNodeRoot === 'string' ? settings.httpNodeRoot : '/', path);
    const undoBypass = bypassAdminBodyParsers(RED.httpAdmin, settings.httpAdminRoot, fullPath);
    showStatus();

    node.on('close', () => {
      undoBypass();
      removeRoute(RED.httpNode as unknown as AppWithRouter, path);
    });
  }

  RED.nodes.registerType('thingpark-uplink-in', ThingParkUplinkInNode as never);
};

type AppWithRouter = { _router?: Router; router?: Router };

/** Express 4 keeps the router at `_router`, Express 5 at `router`. */
function removeRoute(app: AppWithRouter, path: string): void {
  const router = app._router ?? app.router;
  const stack = (
    router as unknown as { stack?: Array<{ route?: { path: string; methods: Record<string, boolean> } }> }
  )?.stack;
  if (!stack) return;
  for (let i = stack.length - 1; i >= 0; i--) {
    const route = stack[i].route;
    if (route && route.path === path && route.methods.post) stack.splice(i, 1);
  }
}
