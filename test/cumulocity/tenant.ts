import * as mqtt from 'mqtt';

export interface Recorded {
  topic: string;
  payload: string;
}

/** Templates a tenant older than Cumulocity 10.18 does not know. */
const NEWER_TEMPLATES = new Set(['201', '504', '505', '506']);

/**
 * A broker-side stand-in for the parts of a Cumulocity tenant the agent tests need, strict where the
 * platform is documented (c8y-docs mqtt-static-templates.md, mqtt-bundle/implementation.md):
 * - `500` on `s/us` is answered with every operation still PENDING, as JSON on
 *   `devicecontrol/notifications`; `504,<id>` (or `501,<type>`) makes one EXECUTING, so it is no longer
 *   sent;
 * - `105` is answered `106,<child>,<child>…` on `s/ds` with the children the gateway created (`101`) and
 *   that were not deleted since;
 * - an old tenant (`oldTenant`) refuses templates 201 and 504-506 on `s/e`, one line per refused line,
 *   shaped `<error code>,<template>,<message>` like the platform's s/e lines (thin-edge.io relies on
 *   `41,100,Device already existing` there, thin-edge/thin-edge.io#3904); 40 is SmartREST's "template
 *   not found" code (c8y-docs smartrest-one-bundle/built-in-messages.md).
 * It records everything the gateway publishes, in order.
 */
export class TenantStandIn {
  readonly records: Recorded[] = [];
  readonly children = new Set<string>();
  /** JSON operations with their status, as the tenant holds them. */
  readonly operations: Record<string, unknown>[] = [];
  oldTenant = false;
  /** How late the `106` answer comes (a busy tenant answers `105` seconds later). */
  childListDelayMs = 0;
  private client?: mqtt.MqttClient;

  async connect(url: string): Promise<void> {
    const client = mqtt.connect(url, { clientId: 'c8y-tenant', reconnectPeriod: 0 });
    client.on('message', (topic, payload) => this.onMessage(topic, payload.toString()));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(['s/us/#', 's/us', 'event/events/create'], { qos: 1 });
    this.client = client;
  }

  async end(): Promise<void> {
    await this.client?.endAsync(true);
    this.client = undefined;
  }

  /** Every line published on `topic`, in order. */
  lines(topic: string): string[] {
    return this.records.filter((r) => r.topic === topic).flatMap((r) => r.payload.split('\n'));
  }

  /** An operation created in the UI: PENDING until the gateway sets it EXECUTING. */
  createOperation(id: string, externalId: string, text: string): void {
    this.operations.push({
      id,
      status: 'PENDING',
      c8y_Command: { text },
      externalSource: { externalId, type: 'c8y_Serial' },
    });
  }

  private publish(topic: string, payload: string): void {
    void this.client?.publishAsync(topic, payload, { qos: 1 });
  }

  private onMessage(topic: string, payload: string): void {
    this.records.push({ topic, payload });
    if (!topic.startsWith('s/us')) return;
    for (const line of payload.split('\n')) {
      const fields = line.split(',');
      const template = fields[0];
      if (this.oldTenant && NEWER_TEMPLATES.has(template)) {
        this.publish('s/e', `40,${template},Template not found`);
        continue;
      }
      if (template === '101' && topic === 's/us') this.children.add(fields[1]);
      else if (template === '500') {
        for (const op of this.operations) {
          if (op.status === 'PENDING') this.publish('devicecontrol/notifications', JSON.stringify(op));
        }
      } else if (template === '105') {
        const answer = () => this.publish('s/ds', ['106', ...this.children].join(','));
        if (this.childListDelayMs > 0) setTimeout(answer, this.childListDelayMs);
        else answer();
      } else if (template === '504' || template === '501') {
        const op =
          template === '504'
            ? this.operations.find((o) => o.id === fields[1])
            : this.operations.find((o) => o.status === 'PENDING');
        if (op) op.status = 'EXECUTING';
      }
    }
  }
}
