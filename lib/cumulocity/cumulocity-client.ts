/**
 * Cumulocity over Core MQTT as a gateway with one child device per ThingPark device (reference/cumulocity.md):
 * the PlatformClient that wires the gateway connections (transport/), the mapping (mapping/) and the
 * operation desk to the connection's delivery queue.
 *
 * - Children are spread over gateway identities `<id>`, `<id>-2`… (at most `maxChildren` each), each
 *   with its own connection (transport/gateway-connections.ts).
 * - On every connect an identity sends `100,<name>,<type>` + `117,<minutes>`, then `114` for each of
 *   its children. A child is registered (`101` on `s/us`, then `110`/`111`, `114`, `117` on
 *   `s/us/<child>`) before its first data, once: the durable ChildRegistry remembers it.
 * - Operations and their status lines: operation-desk.ts.
 * - What the platform reports on `s/e` and `error` (a message it could not take, after its PUBACK: it names no
 *   message, so nothing can be sent again) is a 'platform-error' event (topic, text) for the user to see.
 */
import { EventEmitter } from 'events';
import * as path from 'path';
import type { ConnectionState, PlatformClient } from '../connection/platform-client';
import { ack, permanent, retryable, type DeliveryResult, type QueueEntry } from '../delivery';
import { CumulocityError } from './errors';
import {
  assertGatewayId,
  childDeviceFromDocument,
  childRegistration,
  DEFAULT_CHILD_INTERVAL_MINUTES,
  DEFAULT_GATEWAY_INTERVAL_MINUTES,
  DEFAULT_GATEWAY_TYPE,
  DEFAULT_MAX_CHILDREN,
  CHILD_LIST_REQUEST,
  devEUIFromChildId,
  gatewayDisplayName,
  gatewayIdentity,
  gatewayStartup,
  HEARTBEAT,
  LAST_WILL,
  supportedOperationsRefresh,
  type ChildDevice,
} from './mapping/device-registration';
import { smartRestTopic, type Publish } from './mapping/smartrest';
import { packageAgent } from './agent';
import { mapDocument } from './mapping/mapper';
import { OperationDesk, statusMessageOf } from './operation-desk';
import type { CumulocityBody, CumulocityOptions, DownlinkOutcome } from './options';
import { ChildRegistry } from './state/child-registry';
import { OperationStore } from './state/operation-store';
import { cumulocityBrokerUrl, cumulocityMqttUser } from './transport/endpoint';
import { ERROR_TOPICS, GatewayConnections, type IdentitySession } from './transport/gateway-connections';

export class CumulocityClient extends EventEmitter implements PlatformClient<CumulocityBody> {
  readonly registry: ChildRegistry;
  readonly operations: OperationStore;
  /** Warnings from loading the stored state (the config node logs them). */
  readonly loadWarnings: string[] = [];
  private readonly connections: GatewayConnections;
  private readonly desk: OperationDesk;
  private readonly childLists = new Map<
    number,
    { ids: Set<string>; asked: ReadonlySet<string>; timer?: NodeJS.Timeout }
  >();
  /** The tenant refused the newer templates (201, 504-506). */
  private legacy = false;
  private readonly registering = new Map<string, Promise<{ gateway: number; saved: Promise<void> }>>();

  constructor(private readonly options: CumulocityOptions) {
    super();
    assertGatewayId(options.gatewayId);
    const now = options.now ?? Date.now;
    const agent = options.agent ?? packageAgent();
    const requiredIntervalMinutes = options.requiredIntervalMinutes ?? DEFAULT_GATEWAY_INTERVAL_MINUTES;
    // Half the required interval, so one lost heartbeat does not make the gateway UNAVAILABLE.
    const heartbeatMs = options.heartbeatIntervalMs ?? Math.max(1, requiredIntervalMinutes) * 30000;
    const file = (name: string) => (options.stateDir ? path.join(options.stateDir, name) : undefined);
    this.registry = new ChildRegistry({
      file: file('children.json'),
      gatewayId: options.gatewayId,
      maxChildren: options.maxChildren ?? DEFAULT_MAX_CHILDREN,
    });
    this.operations = new OperationStore({ file: file('operations.json') });
    for (const warning of [this.registry.load(), this.operations.load()]) {
      if (warning) this.loadWarnings.push(warning);
    }
    this.connections = new GatewayConnections({
      ...options,
      url: cumulocityBrokerUrl(options.host, options.port, options.insecure),
      username: cumulocityMqttUser(options.tenantId, options.username),
      now,
      startup: (index) => {
        this.dropChildList(index);
        return gatewayStartup({
          name: gatewayDisplayName(options.gatewayName || options.gatewayId, index),
          type: options.gatewayType || DEFAULT_GATEWAY_TYPE,
          requiredIntervalMinutes,
          agent,
          hardware: {
            serial: gatewayIdentity(options.gatewayId, index),
            model: agent.name,
            revision: agent.version,
          },
        });
      },
      afterStartup: (index) => [
        ...supportedOperationsRefresh(this.registry.childrenOf(index)),
        this.childListRequest(index),
      ],
      periodic: [
        { everyMs: heartbeatMs, lines: () => [{ topic: smartRestTopic(), payload: HEARTBEAT }] },
        {
          everyMs: options.childListIntervalMs ?? DEFAULT_CHILD_LIST_INTERVAL_MS,
          lines: (index) => [this.childListRequest(index)],
        },
      ],
      will: LAST_WILL,
      onMessage: (identity, topic, payload) => this.onMessage(identity, topic, payload),
    });
    this.connections.on('state', (state: ConnectionState, err?: Error) => this.emit('state', state, err));
    this.connections.on('error', (err: Error) => this.emit('error', err));
    this.desk = new OperationDesk({
      ...options,
      registry: this.registry,
      operations: this.operations,
      now,
      publish: (gateway, publishes) => this.connections.publishAll(gateway, publishes),
    });
    for (const event of ['downlink', 'downlink-error', 'warning'])
      this.desk.on(event, (value: unknown) => this.emit(event, value));
    this.desk.on('children', (identity: IdentitySession, ids: string[]) => this.onChildList(identity, ids));
  }

  get state(): ConnectionState {
    return this.connections.state;
  }
  get lastError(): Error | undefined {
    return this.connections.lastError;
  }
  get reconnects(): number {
    return this.connections.reconnects;
  }

  /** Client ids of the gateway identities in use, in order. */
  get gatewayIds(): string[] {
    return this.connections.clientIds;
  }

  start(): void {
    this.connections.start(this.registry.gatewayIndices());
    this.desk.start();
  }

  async stop(): Promise<void> {
    this.desk.stop();
    for (const list of this.childLists.values()) clearTimeout(list.timer);
    this.childLists.clear();
    await this.connections.stop();
    await Promise.all([this.registry.flush(), this.operations.flush()]);
  }

  async deliver(entry: QueueEntry<CumulocityBody>): Promise<DeliveryResult> {
    try {
      const status = statusMessageOf(entry.body);
      if (status) {
        await this.connections.publishAll(status.gateway, this.desk.statusPublishesOf(status));
        return ack();
      }
      const result = mapDocument(entry.body, {
        operationFor: (cid) => this.desk.operationToken(cid),
        legacyTemplates: this.legacy,
      });
      if (result.operation) {
        await this.desk.closeByReport(result);
        return ack();
      }
      if (result.publishes.length === 0) return ack();
      const child = result.childId ? await this.ensureChild(result.childId, entry.body) : { gateway: 0 };
      // Acknowledged once the registry, if just written to, is on disk too.
      await Promise.all([this.connections.publishAll(child.gateway, result.publishes), child.saved]);
      return ack();
    } catch (err) {
      // Bad input is refused for good; anything else (not connected, no PUBACK in time) is retried.
      if (err instanceof CumulocityError) return permanent(err);
      return retryable(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /**
   * What `downlink out` answered for a downlink made from an operation: queued → EXECUTING (or SUCCESSFUL
   * at once with successOn 'queued'); rejected / error → FAILED with the reason.
   */
  downlinkResult(ref: unknown, result: DownlinkOutcome): void {
    this.desk.downlinkResult(ref, result);
  }

  private onMessage(identity: IdentitySession, topic: string, payload: Buffer): void {
    if ((ERROR_TOPICS as readonly string[]).includes(topic)) {
      const text = payload.toString('utf8');
      const refused = topic === 's/e' ? refusedNewTemplate(text) : undefined;
      if (refused === undefined) this.emit('platform-error', topic, preview(text));
      else if (!this.legacy) this.fallBack(refused, text);
      return;
    }
    this.desk.onMessage(identity, topic, payload);
  }

  /**
   * The tenant does not know template 201 or 504-506 (they exist from Cumulocity 10.18 on): this
   * connection sends `200` and `501`-`503` from now on, said once. What was refused is lost: `s/e`
   * names no message, and the platform had acknowledged it.
   */
  private fallBack(template: string, text: string): void {
    this.legacy = true;
    this.desk.useLegacyTemplates();
    this.emit(
      'warning',
      new Error(
        `Cumulocity refused template ${template} (${preview(text)}): the tenant is older than 10.18; ` +
          'measurements go as 200 and operation statuses as 501-503 from now on',
      ),
    );
  }

  /** `105` on `s/us`, and the identity waits for its `106` answers. */
  private childListRequest(index: number): Publish {
    // Only children registered before asking can be missing from the answer.
    this.dropChildList(index);
    this.childLists.set(index, { ids: new Set(), asked: new Set(this.registry.childrenOf(index)) });
    return { topic: smartRestTopic(), payload: CHILD_LIST_REQUEST };
  }

  /**
   * Forgets an earlier question's answers, its settle timer with them: a reconnect within the settle
   * time must not let the old timer end the new question before its `106` came.
   */
  private dropChildList(index: number): void {
    clearTimeout(this.childLists.get(index)?.timer);
    this.childLists.delete(index);
  }

  /**
   * A `106` answer: once no more came for `childListSettleMs`, every child we registered on that
   * identity that Cumulocity no longer lists (deleted in the UI) is registered again, whole.
   */
  private onChildList(identity: IdentitySession, ids: string[]): void {
    const list = this.childLists.get(identity.index);
    if (!list) return; // not asked by this identity (another one's answer, on a shared broker)
    for (const id of ids) list.ids.add(id);
    clearTimeout(list.timer);
    list.timer = setTimeout(() => {
      if (this.childLists.get(identity.index) !== list) return;
      this.childLists.delete(identity.index);
      void this.restoreChildren(identity.index, list.asked, list.ids);
    }, this.options.childListSettleMs ?? DEFAULT_CHILD_LIST_SETTLE_MS);
    list.timer.unref();
  }

  private async restoreChildren(
    index: number,
    asked: ReadonlySet<string>,
    listed: ReadonlySet<string>,
  ): Promise<void> {
    for (const childId of asked) {
      if (listed.has(childId) || this.registry.gatewayOf(childId) !== index) continue;
      const device: ChildDevice = {
        devEUI: devEUIFromChildId(childId)!,
        connectivity: this.registry.isCellular(childId) ? 'CELLULAR' : 'LORAWAN',
        requiredIntervalMinutes: this.options.childIntervalMinutes ?? DEFAULT_CHILD_INTERVAL_MINUTES,
      };
      try {
        await this.connections.publishAll(index, childRegistration(device));
        this.emit('warning', new Error(`Cumulocity no longer had device ${childId}: registered it again`));
      } catch {
        return; // asked again on the next connect
      }
    }
  }

  /**
   * The identity of a child, registering it first when it is new; then `saved` settles once the
   * registry holding it is on disk.
   */
  private ensureChild(
    childId: string,
    document: CumulocityBody,
  ): Promise<{ gateway: number; saved?: Promise<void> }> {
    if (this.registry.isRegistered(childId))
      return Promise.resolve({ gateway: this.registry.gatewayOf(childId)! });
    let pending = this.registering.get(childId);
    if (!pending) {
      pending = this.registerChild(childId, document).finally(() => this.registering.delete(childId));
      this.registering.set(childId, pending);
    }
    return pending;
  }

  private async registerChild(
    childId: string,
    document: CumulocityBody,
  ): Promise<{ gateway: number; saved: Promise<void> }> {
    const body = Object.values(document)[0] as Record<string, unknown>;
    const device = childDeviceFromDocument(body);
    device.requiredIntervalMinutes = this.options.childIntervalMinutes ?? DEFAULT_CHILD_INTERVAL_MINUTES;
    const { gatewayIndex } = this.registry.allocate(childId);
    await this.connections.publishAll(gatewayIndex, childRegistration(device));
    // The data need not wait for the disk: the registry only spares registering again after a crash.
    const saved = this.registry.markRegistered(childId, device.connectivity === 'CELLULAR');
    saved.catch(() => undefined); // handled by the deliveries awaiting it
    return { gateway: gatewayIndex, saved };
  }
}

const DEFAULT_CHILD_LIST_INTERVAL_MS = 6 * 3600 * 1000;
const DEFAULT_CHILD_LIST_SETTLE_MS = 5000;
/** Templates Cumulocity has from 10.18 on, with the older ones we fall back to. */
const NEWER_TEMPLATES = new Set(['201', '504', '505', '506']);

/**
 * The newer template an `s/e` line says is unknown, if that is what it says. `s/e` lines are
 * `<error code>,<template>,<message>` (thin-edge.io relies on `41,100,Device already existing` there,
 * issue thin-edge/thin-edge.io#3904). Only a refusal of the template itself counts: code 40 (SmartREST's
 * "template not found") or a message saying the template is unknown; a `41,201,…` refusing the values
 * of one measurement is an ordinary platform error.
 */
function refusedNewTemplate(text: string): string | undefined {
  for (const line of text.split(/\r?\n/)) {
    const [code, template = '', message = ''] = line.split(',', 3).map((f) => f.trim());
    if (!NEWER_TEMPLATES.has(template)) continue;
    if (code === '40' || UNKNOWN_TEMPLATE.test(message)) return template;
  }
  return undefined;
}

const UNKNOWN_TEMPLATE =
  /template (is )?(not found|unknown|not supported)|(unknown|no|invalid|unsupported) (static )?template|invalid message identifier/i;

function preview(text: string): string {
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
