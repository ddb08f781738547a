import { EventEmitter } from 'events';
import { EntityType } from '../alwayson/constants';
import type { VtqEntry } from '../alwayson/helpers';
import type { InfoTable, TypedValue } from '../alwayson/values';
import type { AlwaysOnClientOptions, ClientState, ClientStats, PropertyWriteHandler } from './options';
import type { AlwaysOnRequester, ClientRequest, ClientResponse } from './requests';
import { AlwaysOnClient } from './session';
import { AlwaysOnClientError } from './errors';
import { pipeIndexFor } from '../alwayson/hash';

export interface PipePoolOptions extends AlwaysOnClientOptions {
  /** Number of AlwaysOn sockets, 1–255 (default 1). */
  pipeCount?: number;
}

/**
 * `pipeCount` AlwaysOn clients to the same platform. Each Thing lives on exactly one pipe, chosen by
 * `pipeIndexFor(name, pipeCount)` (32-bit FNV-1a of the UTF-8 name, modulo the pipe count): it is bound there and
 * every service call for it goes there, so the platform's writes to it arrive there too. Requests not aimed at a
 * Thing (EntityServices, ThingTemplates) go over pipe 0.
 *
 * Events: `state` (aggregate state, lastError?) — `connected` when every pipe is, `disconnected` when none is
 * connected or connecting, `connecting` otherwise; `bindError` ({ pipe, names, error }); `protocolError` (error).
 */
export class PipePool extends EventEmitter implements AlwaysOnRequester {
  readonly pipes: readonly AlwaysOnClient[];
  private _state: ClientState = 'disconnected';

  constructor(options: PipePoolOptions) {
    super();
    const n = options.pipeCount ?? 1;
    if (!Number.isInteger(n) || n < 1 || n > 255)
      throw new RangeError(`pipeCount ${n} must be an integer in 1..255`);
    const pipes: AlwaysOnClient[] = [];
    for (let i = 0; i < n; i++) {
      const c = new AlwaysOnClient(options);
      c.on('state', () => this.updateState());
      c.on('bindError', (e: { names: string[]; error: AlwaysOnClientError }) =>
        this.emit('bindError', { pipe: i, ...e }),
      );
      c.on('protocolError', (e: AlwaysOnClientError) => this.emit('protocolError', e));
      c.on('bound', (names: string[]) => this.emit('bound', names));
      c.on('propertyUpdate', (thing: string) => this.emit('propertyUpdate', thing));
      pipes.push(c);
    }
    this.pipes = pipes;
  }

  get pipeCount(): number {
    return this.pipes.length;
  }

  get state(): ClientState {
    return this._state;
  }

  /** The most relevant error of any pipe (the first pipe that has one). */
  get lastError(): AlwaysOnClientError | undefined {
    for (const p of this.pipes) if (p.lastError) return p.lastError;
    return undefined;
  }

  /** Counters summed over the pipes. */
  get stats(): ClientStats {
    const total = { ...this.pipes[0].stats };
    for (let i = 1; i < this.pipes.length; i++) {
      const s = this.pipes[i].stats;
      for (const k of Object.keys(total) as Array<keyof ClientStats>) total[k] += s[k];
    }
    return total;
  }

  get boundCount(): number {
    return this.pipes.reduce((n, p) => n + p.boundCount, 0);
  }

  indexFor(thing: string): number {
    return pipeIndexFor(thing, this.pipes.length);
  }

  pipeFor(thing: string): AlwaysOnClient {
    return this.pipes[this.indexFor(thing)];
  }

  isBound(thing: string): boolean {
    return this.pipeFor(thing).isBound(thing);
  }

  lastPushed(thing: string, property: string): TypedValue | undefined {
    return this.pipeFor(thing).lastPushed(thing, property);
  }

  /** Whether the platform refused to bind the Thing (retried with backoff). */
  isRefused(thing: string): boolean {
    return this.pipeFor(thing).isRefused(thing);
  }

  setPropertyWriteHandler(handler: PropertyWriteHandler | undefined): void {
    for (const p of this.pipes) p.setPropertyWriteHandler(handler);
  }

  start(): void {
    for (const p of this.pipes) p.start();
  }

  async close(graceMs?: number): Promise<void> {
    await Promise.all(this.pipes.map((p) => p.close(graceMs)));
    this.updateState();
  }

  /** Resolves when every pipe is connected. */
  async whenConnected(timeoutMs?: number): Promise<void> {
    await Promise.all(this.pipes.map((p) => p.whenConnected(timeoutMs)));
  }

  /** Bind each Thing on its pipe (see `AlwaysOnClient.bind`); rejects with the first failure once all are done. */
  bind(names: Iterable<string>): Promise<void> {
    return this.perPipe(names, (p, list) => p.bind(list));
  }

  unbind(names: Iterable<string>): Promise<void> {
    return this.perPipe(names, (p, list) => p.unbind(list));
  }

  request(req: ClientRequest): Promise<ClientResponse> {
    const pipe =
      (req.entityType ?? EntityType.THING) === EntityType.THING
        ? this.pipeFor(req.entityName)
        : this.pipes[0];
    return pipe.request(req);
  }

  callService(
    thing: string,
    service: string,
    params?: InfoTable,
    opts: { entityType?: number; timeoutMs?: number } = {},
  ): Promise<InfoTable | undefined> {
    const thingish = (opts.entityType ?? EntityType.THING) === EntityType.THING;
    return (thingish ? this.pipeFor(thing) : this.pipes[0]).callService(thing, service, params, opts);
  }

  updateProperties(
    thing: string,
    entries: readonly VtqEntry[],
    opts?: { timeoutMs?: number },
  ): Promise<void> {
    return this.pipeFor(thing).updateProperties(thing, entries, opts);
  }

  pushUplink(
    thing: string,
    data: unknown,
    time?: number | Date,
    opts?: { timeoutMs?: number; property?: string },
  ): Promise<void> {
    return this.pipeFor(thing).pushUplink(thing, data, time, opts);
  }

  private async perPipe(
    names: Iterable<string>,
    fn: (pipe: AlwaysOnClient, list: string[]) => Promise<void>,
  ): Promise<void> {
    const groups: string[][] = this.pipes.map(() => []);
    for (const n of names) {
      if (typeof n !== 'string' || n === '') throw new TypeError('Thing names must be non-empty strings');
      groups[this.indexFor(n)].push(n);
    }
    const results = await Promise.allSettled(
      groups.map((list, i) => (list.length > 0 ? fn(this.pipes[i], list) : Promise.resolve())),
    );
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }

  private updateState(): void {
    const states = this.pipes.map((p) => p.state);
    let s: ClientState;
    if (states.every((x) => x === 'connected')) s = 'connected';
    else if (states.every((x) => x === 'disconnected')) s = 'disconnected';
    else s = 'connecting';
    if (s === this._state) return;
    this._state = s;
    this.emit('state', s, this.lastError);
  }
}
