import {
  DocumentError,
  DOCUMENT_TYPES,
  normaliseDocument,
  type DocumentType,
  type NormalisedDocument,
} from '../../lib/thingpark';
import { QueueFullError } from '../../lib/delivery';
import type { PlatformConnection } from './platform-connection';
import { NOT_STORED } from './handover-hooks';
import { errorMessage, type DoneFn, type Node, type NodeAPI, type NodeDef, type SendFn } from './red';

/** A platform config node: it owns a PlatformConnection. */
export interface PlatformConfigNode<T> extends Node {
  connection: PlatformConnection<T>;
}

export interface OutNodeSpec<T> {
  type: string;
  /** The property naming the config node (`wmw`, `cumulocity`, `thingworx`). */
  configProperty: string;
  /** Document types forwarded when the node does not choose. */
  defaultTypes: DocumentType[];
  /** What is queued for a document, or undefined to skip it. May throw a DocumentError. */
  toBody(doc: NormalisedDocument, config: NodeDef & Record<string, unknown>): T | undefined;
  /** Largest message accepted, in bytes of JSON. */
  maxBytes?: number;
}

export const MAX_MESSAGE_BYTES = 256 * 1024;

/**
 * Registers a platform out node: it validates each ThingPark document, queues it durably for its
 * connection (done() once stored, done(err) when refused) and answers `msg.topic = "stats"` with the
 * connection's counters on its output.
 */
export function registerOutNode<T>(RED: NodeAPI, spec: OutNodeSpec<T>): void {
  function PlatformOutNode(this: Node, config: NodeDef & Record<string, unknown>) {
    RED.nodes.createNode(this, config);
    const node = this;
    const platform = RED.nodes.getNode(
      String(config[spec.configProperty] ?? ''),
    ) as PlatformConfigNode<T> | null;
    if (!platform?.connection) {
      node.status({ fill: 'red', shape: 'ring', text: RED._('thingpark-common.errors.no-connection') });
      node.error(RED._('thingpark-common.errors.no-connection'), {});
      return;
    }
    const connection = platform.connection;
    connection.registry.register(node);
    const types = chosenTypes(config.types, spec.defaultTypes);
    const maxBytes = spec.maxBytes ?? MAX_MESSAGE_BYTES;

    node.on('input', (msg: Record<string, unknown>, send: SendFn, done: DoneFn) => {
      if (msg.topic === 'stats') {
        send({ ...msg, payload: connection.stats() } as never);
        return done();
      }
      let doc: NormalisedDocument;
      let body: T | undefined;
      try {
        doc = normaliseDocument(msg.payload);
        if (!types.has(doc.info.type)) return done();
        body = spec.toBody(doc, config);
      } catch (err) {
        const reason = err instanceof DocumentError ? err.message : errorMessage(err);
        return done(new Error(RED._('thingpark-common.errors.invalid-document', { error: reason })));
      }
      if (body === undefined) return done();
      const json = JSON.stringify(body);
      const size = Buffer.byteLength(json);
      if (size > maxBytes) {
        return done(new Error(RED._('thingpark-common.errors.too-large', { size, max: maxBytes })));
      }
      const key = doc.info.devEUI ?? msg.topic?.toString() ?? doc.info.type;
      connection.enqueueJson(key, json).then(
        () => done(),
        (err: unknown) => {
          const refusal =
            err instanceof QueueFullError
              ? new Error(RED._('thingpark-common.buffer.full'))
              : err instanceof Error
                ? err
                : new Error(String(err));
          // Not stored: `uplink in` must not tell ThingPark it was received (see handover-hooks).
          Object.assign(refusal, { [NOT_STORED]: true });
          done(refusal);
        },
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      connection.registry.deregister(node).then(done, done);
    });
  }
  RED.nodes.registerType(spec.type, PlatformOutNode as never);
}

/** The document types a node's `types` property selects, or `defaults` when it selects none. */
export function chosenTypes(value: unknown, defaults: readonly DocumentType[]): Set<DocumentType> {
  const list = Array.isArray(value) ? value : typeof value === 'string' && value ? value.split(',') : [];
  const valid = list
    .map((t) => String(t).trim())
    .filter((t): t is DocumentType => (DOCUMENT_TYPES as readonly string[]).includes(t));
  return new Set(valid.length ? valid : defaults);
}
