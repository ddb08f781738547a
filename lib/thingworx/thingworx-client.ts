import { EventEmitter } from 'events';
import type { ConnectionState, PlatformClient, PlatformDownlink } from '../connection/platform-client';
import { ack, permanent, retryable, type DeliveryResult, type QueueEntry } from '../delivery';
import { EntityType, MessageCode } from './alwayson/constants';
import { singleRowTable, Typed, type VtqEntry } from './alwayson/helpers';
import {
  DEFAULT_TEMPLATE,
  devEuiOfThing,
  documentEntries,
  DOWNLINK_PROPERTIES,
  parseDownlinkWrite,
  STATUS_PROPERTY,
  thingNameFor,
  timeOf,
  type PropertyTypes,
} from './mapping/thing-mapping';
import type { ThingWorxBody, ThingWorxDownlinkRef, ThingWorxOptions } from './options';
import { ENTITY_SERVICES, ThingProvisioner } from './provisioning/provisioner';
import { TemplateSetup } from './provisioning/template-setup';
import { applySubscriptions } from './mapping/subscriptions';
import { PropertySubscriptions } from './subscriptions/property-subscriptions';
import { AlwaysOnClientError, ProvisioningError } from './transport/errors';
import type { PropertyWrite, PropertyWriteResult } from './transport/options';
import { PipePool } from './transport/pipes';

const LISTING_REFRESH_MS = 30000;
/** Failures that only mean the connection went away. */
const TRANSIENT = new Set(['disconnected', 'not-connected', 'closed']);
/** Attempts after which a Thing the platform keeps calling unknown is given up. */
const MAX_RECREATE_ATTEMPTS = 3;

/**
 * The ThingWorx side of a `thingpark-thingworx` connection: `pipeCount` AlwaysOn sockets (PipePool) plus
 * provisioning (ThingProvisioner).
 *
 * On every start, once the sockets are up: make sure our template exists (created from RemoteThing with the remote
 * JSON properties `uplinkData`, `downlink` and `downlinkStatus` when missing), read its property definitions once
 * (`GetInstancePropertyDefinitions`: which flattened values and whether `downlinkStatus` can be written), list our
 * Things (`QueryImplementingThingsOptimized`, paged; no other Thing is ever bound) and bind them in batches. Only
 * then is the connection `connected` and the queue delivers. A delivery to an unknown Thing creates it
 * (CreateThing, EnableThing, RestartThing) and binds it; each document becomes one UpdateSubscribedPropertyValues,
 * under the Thing's subscription settings (GetPropertySubscriptions: edge names, push types), read before its first
 * push after a BIND and again on NotifyPropertyUpdate. A Thing the platform refuses to bind is said once (`warning`,
 * with the "Last in wins" hint for "Binding failed"), still takes its values, and its BIND is retried with backoff.
 * A write of `downlink` / `downlinkData` on a bound Thing becomes a `downlink` event (answered 0x40), or a
 * `downlink-error` (answered 0x80 with the reason); so does a frame from the platform that cannot be decoded.
 *
 * Memory: the names of the bound Things (one Set per pipe), their subscription settings (shared between Things
 * with the same), and the last value pushed of each property (bounded, 32 MiB a socket); nothing per message.
 *
 * Events: those of PlatformClient, plus `warning` (text) for things the user should know that are not errors.
 */
export class ThingWorxClient extends EventEmitter implements PlatformClient<ThingWorxBody> {
  readonly templateName: string;
  readonly thingNamePrefix: string;
  /** Counters for tests and stats. */
  readonly counters = { thingsCreated: 0, thingsListed: 0, downlinks: 0, invalidDownlinks: 0 };
  private pool?: PipePool;
  private provisioner?: ThingProvisioner;
  private template?: TemplateSetup;
  private subscriptions?: PropertySubscriptions;
  private readonly configError?: Error;
  private _state: ConnectionState = 'disconnected';
  private started = false;
  private generation = 0;
  private provisioned = false;
  private provisioning = false;
  private provisionError?: Error;
  private retryTimer?: NodeJS.Timeout;
  private properties?: PropertyTypes;
  /** When our Things were last listed again because a Thing turned out to exist (0: never). */
  private lastRefresh = 0;
  private listingInFlight?: Promise<void>;
  /** Things whose CreateThing succeeded but whose enable / restart / bind did not finish yet. */
  private readonly creating = new Set<string>();
  private bindWaiters: Array<{ name: string; resolve: () => void; reject: (e: Error) => void }> = [];
  private bindTimer?: NodeJS.Timeout;

  constructor(private readonly options: ThingWorxOptions) {
    super();
    this.templateName = options.templateName || DEFAULT_TEMPLATE;
    this.thingNamePrefix = options.thingNamePrefix ?? '';
    try {
      this.pool = new PipePool({
        ...options.client,
        host: options.host,
        port: options.port,
        appKey: options.appKey,
        allowInsecure: options.allowInsecure === true,
        tls: options.tls,
        pipeCount: options.pipeCount ?? 1,
        compression: options.compression ?? options.client?.compression,
      });
    } catch (e) {
      // No host, no key or a bad host: the node reports its own text and never starts us.
      this.configError = e instanceof Error ? e : new Error(String(e));
      return;
    }
    this.provisioner = new ThingProvisioner(this.pool, {
      templateName: this.templateName,
      allowCreateTemplate: options.allowCreateTemplate ?? true,
      pageSize: options.listPageSize ?? 5000,
    });
    this.template = new TemplateSetup(this.pool, this.provisioner, this.templateName, (text) =>
      this.emit('warning', text),
    );
    this.pool.setPropertyWriteHandler((w) => this.onPropertyWrite(w));
    // A frame the platform sent that cannot be read (perhaps a downlink write): said, not only counted.
    this.pool.on('protocolError', (e: AlwaysOnClientError) => this.emit('downlink-error', e));
    this.pool.on('state', () => this.onPoolState());
    this.subscriptions = new PropertySubscriptions(this.pool);
    this.pool.on('bound', (names: string[]) => {
      for (const n of names) this.subscriptions!.invalidate(n);
    });
    // Settings changed in Composer (pushType, deadband, edge name): read again, now, for the next push.
    this.pool.on('propertyUpdate', (thing: string) => {
      this.subscriptions!.invalidate(thing);
      this.subscriptions!.get(thing).catch(() => undefined);
    });
    this.pool.on('bindError', (e: { names: string[]; error: AlwaysOnClientError }) => {
      if (e.error.retryable && e.error.kind !== 'response') return;
      this.emit('warning', bindRefusal(e.names, e.error));
    });
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** Why these options cannot work (no host, no key, a host that makes no URL), if so: the client never starts. */
  get configProblem(): string | undefined {
    return this.configError?.message;
  }

  get lastError(): Error | undefined {
    return this.provisionError ?? this.pool?.lastError ?? (this.started ? this.configError : undefined);
  }

  get reconnects(): number {
    return this.pool?.stats.reconnects ?? 0;
  }

  /** Things currently bound (all pipes). */
  get boundCount(): number {
    return this.pool?.boundCount ?? 0;
  }

  /** The template's property definitions, once read (undefined before, or when the platform did not say). */
  get templateProperties(): PropertyTypes | undefined {
    return this.properties;
  }

  /** Whether a `downlinkStatus` can be written: true / false once known, undefined before. */
  get statusSupported(): boolean | undefined {
    return this.properties ? this.properties.has(STATUS_PROPERTY) : undefined;
  }

  thingName(devEUI: string): string {
    return thingNameFor(this.thingNamePrefix, devEUI);
  }

  isBound(thing: string): boolean {
    return this.pool?.isBound(thing) ?? false;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.generation++;
    if (!this.pool) {
      this.setState('disconnected');
      this.emit('error', this.configError);
      return;
    }
    this.setState('connecting');
    this.pool.start();
  }

  async stop(): Promise<void> {
    this.started = false;
    this.generation++;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.provisioned = false;
    this.provisionError = undefined;
    this.subscriptions?.clear();
    clearTimeout(this.bindTimer);
    this.bindTimer = undefined;
    for (const w of this.bindWaiters.splice(0)) w.reject(new AlwaysOnClientError('closed', 'client closed'));
    if (this.pool) await this.pool.close(1000);
    this.setState('disconnected');
  }

  async deliver(entry: QueueEntry<ThingWorxBody>): Promise<DeliveryResult> {
    const pool = this.pool;
    const body = entry.body;
    if (!pool || !this.provisioned) return retryable(new Error('ThingWorx is not connected'));
    if (!body || typeof body.devEUI !== 'string') return permanent(new Error('not a ThingWorx message'));
    const thing = body.thing || this.thingName(body.devEUI);
    const time = timeOf(body.time, Date.now());
    try {
      if (!body.document) {
        // A downlink status: written only on a Thing we know, and only when the template has the property.
        if (!body.status || !this.properties?.has(STATUS_PROPERTY) || !pool.isBound(thing)) return ack();
        await this.push(thing, [
          { name: STATUS_PROPERTY, value: Typed.json(body.status), time, quality: 'GOOD' },
        ]);
        return ack();
      }
      // A Thing the platform refused to bind still takes its values (its BIND is retried meanwhile).
      if (!pool.isBound(thing) && !pool.isRefused(thing)) await this.ensureThing(thing);
      await this.push(thing, documentEntries(body.document, time, this.properties));
      return ack();
    } catch (e) {
      return this.classify(e, thing, entry.attempts);
    }
  }

  /** Push values as the platform's subscription settings say (edge names, push types); nothing left: no request. */
  private async push(thing: string, entries: VtqEntry[]): Promise<void> {
    const pool = this.pool!;
    const subs = await this.subscriptions!.get(thing);
    const out = applySubscriptions(entries, subs, (edgeName) => pool.lastPushed(thing, edgeName));
    if (out.length > 0) await pool.updateProperties(thing, out);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Connection and provisioning

  private setState(state: ConnectionState): void {
    if (state === this._state) return;
    this._state = state;
    this.emit('state', state, this.lastError);
  }

  private onPoolState(): void {
    if (!this.started || !this.pool) return;
    const poolState = this.pool.state;
    if (poolState === 'connected') {
      if (this.provisioned) this.setState('connected');
      else if (this.provisionError)
        this.setState('disconnected'); // until the retry timer tries again
      else if (!this.provisioning && !this.retryTimer) void this.provision();
      return;
    }
    this.setState(poolState === 'disconnected' ? 'disconnected' : 'connecting');
    // Reported while it lasts; the connection node reports each distinct error once.
    const err = this.pool.lastError;
    if (err) this.emit('error', err);
  }

  private async provision(): Promise<void> {
    const pool = this.pool!;
    const generation = this.generation;
    const current = () => generation === this.generation && this.started;
    this.provisioning = true;
    this.setState('connecting');
    try {
      await this.template!.ensure();
      if (!current()) return;
      this.properties = await this.template!.properties();
      if (!current()) return;
      await this.listAndBind();
      if (!current()) return;
      this.provisioned = true;
      this.provisionError = undefined;
      this.provisioning = false;
      if (pool.state === 'connected') this.setState('connected');
    } catch (e) {
      if (!current()) return;
      const err = e instanceof Error ? e : new Error(String(e));
      if (e instanceof AlwaysOnClientError && TRANSIENT.has(e.kind)) {
        // The connection went while provisioning: provisioned again once it is back.
        this.provisioning = false;
        if (pool.state === 'connected') setImmediate(() => this.onPoolState());
        return;
      }
      if (!(e instanceof AlwaysOnClientError && e.retryable)) {
        this.provisionError = err;
        this.setState('disconnected');
      }
      this.emit('error', err);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (current() && pool.state === 'connected' && !this.provisioned && !this.provisioning)
          void this.provision();
      }, this.options.provisioningRetryMs ?? 30000);
    } finally {
      if (generation === this.generation) this.provisioning = false;
    }
  }

  /** List our Things and bind those not bound yet (a batch refused for good is reported, not fatal). */
  private async listAndBind(): Promise<void> {
    const pool = this.pool!;
    const names = await this.provisioner!.listThings();
    this.counters.thingsListed = names.length;
    const fresh = names.filter((n) => !pool.isBound(n));
    try {
      await pool.bind(fresh);
    } catch (e) {
      // Bound again on the next connection, or refused: reported once and retried with backoff.
      if (e instanceof AlwaysOnClientError && (e.retryable || e.kind === 'response')) return;
      const missing = fresh.filter((n) => !pool.isBound(n)).length;
      this.emit(
        'error',
        new Error(
          `${missing} of ${names.length} Things of ${this.templateName} could not be bound: ${errorMessage(e)}`,
        ),
      );
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Things

  /** Create (CreateThing, EnableThing, RestartThing) and bind the Thing of a device not seen before. */
  private async ensureThing(thing: string): Promise<void> {
    if (!this.creating.has(thing)) {
      try {
        await this.service('CreateThing', EntityType.RESOURCE, ENTITY_SERVICES, 'CreateThing', {
          name: Typed.string(thing),
          thingTemplateName: Typed.string(this.templateName),
          description: Typed.string(
            `ThingPark device ${devEuiOfThing(this.thingNamePrefix, thing) ?? thing}`,
          ),
        });
      } catch (e) {
        // Refused for good: perhaps it exists already (made elsewhere since our listing). Bind it only if ours.
        if (e instanceof AlwaysOnClientError && !e.retryable && (await this.isOurs(thing))) {
          await this.bindOne(thing);
          return;
        }
        throw e;
      }
      this.creating.add(thing);
    }
    await this.service('EnableThing', EntityType.THING, thing, 'EnableThing');
    await this.service('RestartThing', EntityType.THING, thing, 'RestartThing');
    await this.bindOne(thing);
    this.creating.delete(thing);
    this.counters.thingsCreated++;
  }

  private async service(
    step: string,
    entityType: number,
    entityName: string,
    service: string,
    params?: Record<string, ReturnType<typeof Typed.string>>,
  ): Promise<void> {
    try {
      await this.pool!.request({
        entityType,
        entityName,
        characteristicName: service,
        params: params ? singleRowTable(params) : undefined,
      });
    } catch (e) {
      if (e instanceof AlwaysOnClientError) {
        const what =
          entityType === EntityType.THING
            ? `${step} of ${entityName}`
            : `${step} ${params?.name?.value ?? ''}`;
        throw new ProvisioningError(step, `${what.trim()} failed: ${e.message}`, e);
      }
      throw e;
    }
  }

  /**
   * Whether a Thing implements our template, for one that CreateThing says exists: lists our Things again (and
   * binds the new ones), at most once every 30 s.
   */
  private async isOurs(thing: string): Promise<boolean> {
    if (!this.listingInFlight && Date.now() - this.lastRefresh >= LISTING_REFRESH_MS) {
      this.lastRefresh = Date.now();
      this.listingInFlight = this.listAndBind().finally(() => (this.listingInFlight = undefined));
    }
    if (this.listingInFlight) await this.listingInFlight;
    return this.pool!.isBound(thing);
  }

  /** Bind one Thing, batched with the others asked for in the same few milliseconds. */
  private bindOne(name: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.bindWaiters.push({ name, resolve, reject });
      this.bindTimer ??= setTimeout(() => void this.flushBinds(), 5);
    });
  }

  private async flushBinds(): Promise<void> {
    this.bindTimer = undefined;
    const waiters = this.bindWaiters.splice(0);
    const pool = this.pool!;
    let error: unknown;
    try {
      await pool.bind(waiters.map((w) => w.name));
    } catch (e) {
      error = e;
    }
    for (const w of waiters) {
      if (pool.isBound(w.name) || pool.isRefused(w.name)) w.resolve();
      else w.reject(error instanceof Error ? error : new Error(`BIND of ${w.name} refused`));
    }
  }

  private classify(e: unknown, thing: string, attempts: number): DeliveryResult {
    const err = e instanceof Error ? e : new Error(String(e));
    if (!(e instanceof AlwaysOnClientError)) return permanent(err);
    if (
      e.kind === 'response' &&
      e.code === MessageCode.NOT_FOUND &&
      !(e instanceof ProvisioningError) &&
      attempts < MAX_RECREATE_ATTEMPTS
    ) {
      // The Thing was deleted on the platform: forget it, so the next attempt creates it again.
      void this.pool?.unbind([thing]).catch(() => undefined);
      return retryable(err);
    }
    if (e.kind === 'response' && e.code === MessageCode.FORBIDDEN) {
      // A permission the administrator can grant: the device's uplinks wait (only its key backs off)
      // rather than being set aside for good. Reported once per run of refusals of the device.
      if (attempts === 0) this.emit('refused', thing, err);
      return retryable(err);
    }
    return e.retryable ? retryable(err) : permanent(err);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Downlinks

  private onPropertyWrite(w: PropertyWrite): PropertyWriteResult {
    if (!DOWNLINK_PROPERTIES.includes(w.property)) {
      return {
        code: MessageCode.METHOD_NOT_ALLOWED,
        reason: `property ${w.property} is not written from the platform (use ${DOWNLINK_PROPERTIES.join(' or ')})`,
      };
    }
    try {
      const request = parseDownlinkWrite(w.value, devEuiOfThing(this.thingNamePrefix, w.thing));
      const ref: ThingWorxDownlinkRef = { thing: w.thing, property: w.property };
      this.counters.downlinks++;
      const downlink: PlatformDownlink = { request, ref };
      this.emit('downlink', downlink);
      return undefined;
    } catch (e) {
      this.counters.invalidDownlinks++;
      const reason = errorMessage(e);
      this.emit('downlink-error', new Error(`Thing ${w.thing}, property ${w.property}: ${reason}`));
      return { code: MessageCode.BAD_REQUEST, reason };
    }
  }
}

/**
 * What to say of a refused BIND, once: the names, the platform's reason, and for "Binding failed" (a Thing held by
 * another connection, perhaps a dead one) the setting that lets the new connection take it.
 */
export function bindRefusal(names: readonly string[], error: Error): string {
  const shown = names.slice(0, 3).join(', ') + (names.length > 3 ? ', …' : '');
  const hint = /binding failed/i.test(error.message)
    ? ' Another connection holds these Things: enable "Last in wins" in ThingWorx (WSCommunicationsSubsystem, Configuration) so a reconnecting edge takes them back.'
    : '';
  return `BIND of ${names.length} Thing(s) refused (${shown}): ${error.message}; retried with backoff.${hint}`;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
