// First: on a Node.js older than the package's floor, fail here with one line naming it.
import '../../lib/node-version/require-supported';
import {
  ApiInputError,
  DEFAULT_MAX_ITEMS,
  OUTPUT_MODES,
  ThingParkApiError,
  TransportError,
  buildRequest,
  isOperation,
  type OutputMode,
} from '../../lib/thingpark-api';
import { redact } from '../../lib/connection/connection-check';
import type { AccountNode } from '../account/account';
import { errorMessage, type DoneFn, type Node, type NodeAPI, type NodeDef, type SendFn } from '../shared/red';

interface ApiDef extends NodeDef {
  account: string;
  /** An operation name, or `msg` to take `msg.operation`. */
  operation: string;
  output: string;
  maxItems: number | string;
}

type Msg = Record<string, unknown>;

module.exports = function (RED: NodeAPI) {
  function ThingParkApiNode(this: Node, config: ApiDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const account = RED.nodes.getNode(config.account) as AccountNode | null;
    const mode: OutputMode = (OUTPUT_MODES as readonly string[]).includes(config.output)
      ? (config.output as OutputMode)
      : 'all';
    const max = Number(config.maxItems);
    const maxItems = Number.isInteger(max) && max >= 1 ? max : DEFAULT_MAX_ITEMS;
    const closing = new AbortController();
    let running = 0;
    if (!account) node.status({ fill: 'red', shape: 'ring', text: RED._('thingpark-api.status.no-account') });

    /** An error as Catch nodes see it: ThingPark's status and message, no secret of the account. */
    const failure = (err: unknown, msg: Msg): Error => {
      const secrets = account?.secrets() ?? [];
      const clean = (text: string) => redact(text, secrets, 600) ?? '';
      if (err instanceof ThingParkApiError) {
        msg.thingpark = { status: err.status, message: clean(err.thingparkMessage) };
        node.status({
          fill: 'red',
          shape: 'ring',
          text: RED._('thingpark-api.status.http', { status: err.status }),
        });
        return new Error(
          RED._('thingpark-api.errors.http', { status: err.status, message: clean(err.thingparkMessage) }),
        );
      }
      node.status({ fill: 'red', shape: 'ring', text: RED._('thingpark-api.status.error') });
      if (err instanceof ApiInputError)
        return new Error(RED._('thingpark-api.errors.input', { error: clean(err.message) }));
      return new Error(RED._('thingpark-api.errors.transport', { error: clean(errorMessage(err)) }));
    };

    node.on('input', (msg: Msg, send: SendFn, done: DoneFn) => {
      if (!account) return done(new Error(RED._('thingpark-api.errors.no-account')));
      const operation = config.operation === 'msg' ? msg.operation : config.operation;
      if (!isOperation(operation))
        return done(new Error(RED._('thingpark-api.errors.operation', { operation: String(operation) })));
      let request;
      try {
        request = buildRequest(operation, { payload: msg.payload, devEUI: msg.devEUI, topic: msg.topic });
      } catch (err) {
        return done(failure(err, msg));
      }
      running++;
      node.status({ fill: 'blue', shape: 'ring', text: RED._('thingpark-api.status.requesting') });
      const rest: Msg = { ...msg };
      delete rest.payload;
      void (async () => {
        let sent = 0;
        let last = 0;
        for await (const result of account.client.results(request, {
          mode,
          maxItems,
          signal: closing.signal,
        })) {
          const out = RED.util.cloneMessage(rest) as Msg;
          out.payload = result.payload;
          out.thingpark = { operation, ...result.thingpark };
          send(out as never);
          sent++;
          last = result.thingpark.status;
        }
        return { sent, last };
      })().then(
        ({ sent, last }) => {
          running--;
          if (running === 0)
            node.status({
              fill: 'green',
              shape: 'dot',
              text: RED._('thingpark-api.status.done', { status: last, count: sent }),
            });
          done();
        },
        (err: unknown) => {
          running--;
          // Closing ends what is under way: not an error of the message.
          if (closing.signal.aborted || (err instanceof TransportError && err.code === 'ABORT_ERR'))
            return done();
          done(failure(err, msg));
        },
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      closing.abort();
      node.status({});
      done();
    });
  }

  RED.nodes.registerType('thingpark-api', ThingParkApiNode as never);
};
