import type { NextFunction, Request, Response } from 'express';
import { monitorFamilies, renderPrometheus, scrub } from '../../lib/monitor';
import { monitorRegistry, secretsOf } from '../shared/monitor-registry';
import { errorMessage, type NodeAPI } from '../shared/red';

/** Dead letters listed per connection (the newest). */
export const DEAD_LETTERS_SHOWN = 100;
/** Devices answered per request (the newest that match). */
export const DEVICES_SHOWN = 200;

type Handler = (req: Request, res: Response, next: NextFunction) => void;

/**
 * The admin API behind the ThingPark sidebar, under `/thingpark/`: reading needs Node-RED's read
 * permission, Resend and Discard the connection node type's write permission. Every answer is built
 * from counters and bounded lists (never a scan of the queue) and holds no credential.
 */
export function registerMonitorEndpoints(RED: NodeAPI): void {
  const admin = (RED as { httpAdmin?: NodeAPI['httpAdmin'] }).httpAdmin;
  if (!admin) return;
  const read = RED.auth.needsPermission('thingpark.read') as Handler;

  admin.get('/thingpark/monitor', read, (_req: Request, res: Response) => {
    res.json({
      connections: monitorRegistry.connectionSnapshots(RED),
      networks: monitorRegistry.networkSnapshots(RED),
      devices: monitorRegistry.devices.size,
    });
  });

  admin.get('/thingpark/monitor/devices', read, (req: Request, res: Response) => {
    const filter = typeof req.query.filter === 'string' ? req.query.filter.slice(0, 32) : '';
    res.json(monitorRegistry.devices.list(filter, DEVICES_SHOWN));
  });

  admin.get('/thingpark/metrics', read, (_req: Request, res: Response) => {
    const families = monitorFamilies(
      monitorRegistry.connectionSnapshots(RED),
      monitorRegistry.networkSnapshots(RED),
      monitorRegistry.devices.size,
    );
    res.type('text/plain; version=0.0.4; charset=utf-8').send(renderPrometheus(families));
  });

  admin.get('/thingpark/monitor/connections/:id/dead-letters', read, (req: Request, res: Response) => {
    const id = String(req.params.id);
    const entry = monitorRegistry.connection(id);
    if (!entry) return void res.status(404).json({ error: 'unknown connection' });
    entry.connection.queue.deadLetters(DEAD_LETTERS_SHOWN).then(
      (letters) =>
        res.json({
          total: entry.connection.queue.stats().deadLetters,
          letters: letters.reverse().map((l) => ({
            seq: l.seq,
            device: l.key,
            at: l.at,
            attempts: l.attempts,
            error: scrub(l.error, secretsOf(RED, id)),
          })),
        }),
      (err: unknown) => res.status(503).json({ error: errorMessage(err) }),
    );
  });

  /** The connection's node type's write permission, checked before anything is done. */
  const write: Handler = (req, res, next) => {
    const entry = monitorRegistry.connection(String(req.params.id));
    const permission = `${entry ? entry.node.type : 'thingpark'}.write`;
    (RED.auth.needsPermission(permission) as Handler)(req, res, () => {
      if (!entry) return void res.status(404).json({ error: 'unknown connection' });
      next();
    });
  };

  /** `{seqs: number[]}` or `{all: true}`: the dead letters chosen, oldest first. */
  const chosen = async (req: Request) => {
    const entry = monitorRegistry.connection(String(req.params.id))!;
    const body = (req.body ?? {}) as { seqs?: unknown; all?: unknown };
    const letters = await entry.connection.queue.deadLetters();
    if (body.all === true) return { entry, letters };
    const seqs = new Set(Array.isArray(body.seqs) ? body.seqs.filter((s) => Number.isInteger(s)) : []);
    return { entry, letters: letters.filter((l) => seqs.has(l.seq)) };
  };

  admin.post(
    '/thingpark/monitor/connections/:id/dead-letters/discard',
    write,
    (req: Request, res: Response) => {
      chosen(req)
        .then(({ entry, letters }) => entry.connection.queue.discardDeadLetters(letters.map((l) => l.seq)))
        .then(
          (discarded) => res.json({ discarded }),
          (err: unknown) => res.status(503).json({ error: errorMessage(err) }),
        );
    },
  );

  // Resend: each chosen letter goes back into the queue behind what its device has queued, then
  // leaves the dead letters. A refusal (buffer full in reject mode) stops there; the rest stay.
  admin.post(
    '/thingpark/monitor/connections/:id/dead-letters/resend',
    write,
    (req: Request, res: Response) => {
      void (async () => {
        const { entry, letters } = await chosen(req);
        const resent: number[] = [];
        let error: string | undefined;
        for (const l of letters) {
          if (l.body === undefined) continue;
          try {
            await entry.connection.enqueueJson(l.key, JSON.stringify(l.body));
            resent.push(l.seq);
          } catch (err) {
            error = errorMessage(err);
            break;
          }
        }
        await entry.connection.queue.discardDeadLetters(resent);
        res.status(error ? 409 : 200).json({ resent: resent.length, ...(error ? { error } : {}) });
      })().catch((err: unknown) => res.status(503).json({ error: errorMessage(err) }));
    },
  );
}
