import { PendingDocuments } from '../../lib/acknowledgement';
import { errorMessage, type NodeAPI } from './red';

/**
 * Follows, through Node-RED's messaging hooks, every copy of a document that `uplink in` handed to
 * the flow (by its _msgid, which clones and the messages a function node returns keep), so that
 * ThingPark is answered once the flow has finished with all of them. A copy counts from the moment
 * it is sent until the node that received it calls done(); link nodes, Catch and Complete nodes
 * receive without a send and count from their receive; a node that never calls done (an input
 * handler without it) counts as finished once its handler has returned.
 */

/** Set on an error by an out node that could not store a message (buffer full, disk full). */
export const NOT_STORED = 'thingparkNotStored';

export const pendingDocuments = new PendingDocuments();

interface Msg {
  _msgid?: string;
}
interface SendEvent {
  msg: Msg;
}
interface NodeEvent {
  msg: Msg;
  destination?: { node?: { _expectedDoneCount?: number } };
  node?: { node?: unknown };
  error?: unknown;
}

const HOOK = 'thingparkHandover';

/**
 * Installs the hooks once per runtime (a test harness may clear them between runs). False where the
 * runtime has no messaging hooks (Node-RED before 2.0).
 */
export function ensureHandoverHooks(RED: NodeAPI): boolean {
  const hooks = (RED as unknown as { hooks?: unknown }).hooks as
    { has(id: string): boolean; add(id: string, cb: (event: never) => void): void } | undefined;
  if (!hooks || typeof hooks.add !== 'function') return false;
  if (hooks.has(`onSend.${HOOK}`)) return true;
  const book = pendingDocuments;
  // Sends whose copy is between the sender and the receiver, and the messages they deliver.
  const routing = new WeakSet<object>();
  const inTransit = new WeakMap<object, number>();
  // The message's id while any document is followed; the book ignores ids it does not follow.
  const idOf = (msg: Msg | undefined): string | undefined =>
    book.size === 0 || !msg || typeof msg._msgid !== 'string' ? undefined : msg._msgid;

  hooks.add(`onSend.${HOOK}`, (events: SendEvent[]) => {
    if (book.size === 0) return;
    for (const e of events) {
      const id = idOf(e.msg);
      if (id && book.add(id)) routing.add(e);
    }
  });
  hooks.add(`preDeliver.${HOOK}`, (e: SendEvent) => {
    if (!routing.has(e)) return;
    routing.delete(e);
    inTransit.set(e.msg, (inTransit.get(e.msg) ?? 0) + 1);
  });
  hooks.add(`onReceive.${HOOK}`, (e: NodeEvent) => {
    const id = idOf(e.msg);
    if (!id) return;
    const n = inTransit.get(e.msg);
    if (n === undefined) book.add(id);
    else if (n <= 1) inTransit.delete(e.msg);
    else inTransit.set(e.msg, n - 1);
  });
  hooks.add(`postReceive.${HOOK}`, (e: NodeEvent) => {
    const id = idOf(e.msg);
    if (id && e.destination?.node?._expectedDoneCount === 0) book.release(id);
  });
  hooks.add(`onComplete.${HOOK}`, (e: NodeEvent) => {
    const id = idOf(e.msg);
    if (!id) return;
    const err = e.error as (Error & { [NOT_STORED]?: boolean }) | undefined;
    if (err && err[NOT_STORED]) book.refuse(id, errorMessage(err));
    else book.release(id);
  });
  return true;
}
