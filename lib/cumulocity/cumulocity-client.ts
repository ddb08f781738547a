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
  gatewayDisplayName,
  gatewayStartup,
  supportedOperationsRefresh,
} from './mapping/device-registration';
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
  private readonly registering = new Map<string, Promise<{ gateway: number; saved: Promise<void> }>>();

  constructor(private readonly options: CumulocityOptions) {
    super();
    assertGatewayId(options.gatewayId);
    const now = options.now ?? Date.now;
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
      startup: (index) =>
        gatewayStartup({
          name: gatewayDisplayName(options.gatewayName || options.gatewayId, index),
          type: options.gatewayType || DEFAULT_GATEWAY_TYPE,
          requiredIntervalMinutes: options.requiredIntervalMinutes ?? DEFAULT_GATEWAY_INTERVAL_MINUTES,
        }),
      afterStartup: (index) => supportedOperationsRefresh(this.registry.childrenOf(index)),
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
    await this.connections.stop();
    await Promise.all([this.registry.flush(), this.operations.flush()]);
  }

  async deliver(entry: QueueEntry<CumulocityBody>): Promise<DeliveryResult> {
    try {
      const status = statusMessageOf(entry.body);
      if (status) {
        await this.connections.publishAll(status.gateway, status.publishes);
        return ack();
      }
      const result = mapDocument(entry.body, { operationFor: (cid) => this.desk.operationToken(cid) });
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
      this.emit('platform-error', topic, preview(payload.toString('utf8')));
      return;
    }
    this.desk.onMessage(identity, topic, payload);
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

function preview(text: string): string {
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
