import { strict as assert } from 'assert';
import { EventEmitter } from 'events';
import type { DownlinkOutcome, DownlinkRequest } from '../../lib/connection/platform-client';
import { downlinkMessage, returnDownlinkOutcome } from '../../nodes/shared/downlink-route';
import type { NodeAPI } from '../../nodes/shared/red';

const request: DownlinkRequest = {
  devEUI: '0018B20000000B20',
  connectivity: 'LORAWAN',
  fPort: 2,
  payloadHex: '0a0b',
  correlationId: 'C0FFEE',
};
const outcome: DownlinkOutcome = { status: 'queued', DevEUI: request.devEUI, CorrelationID: 'C0FFEE' };

/** Just enough of RED for the route: the deployed config nodes by id. */
const redWith = (nodes: Record<string, unknown>) =>
  ({ nodes: { getNode: (id: string) => nodes[id] ?? null } }) as unknown as NodeAPI;

describe('the one downlink route (nodes/shared/downlink-route.ts)', () => {
  it('downlink in emits the same message for every platform, with its origin', () => {
    for (const platform of ['wmw', 'cumulocity', 'thingworx']) {
      const msg = downlinkMessage(platform, 'cfg1', { request, ref: { id: 7 } });
      assert.deepEqual(msg, {
        payload: {
          DevEUI_downlink: { DevEUI: request.devEUI, FPort: 2, payload_hex: '0a0b', CorrelationID: 'C0FFEE' },
        },
        topic: request.devEUI,
        thingpark: {
          type: 'DevEUI_downlink',
          connectivity: 'LORAWAN',
          origin: { platform, config: 'cfg1', ref: { id: 7 } },
        },
      });
    }
  });

  it("downlink out's answer reaches the origin connection's client (PlatformClient.downlinkResult) with its ref", () => {
    const heard: unknown[] = [];
    const client = Object.assign(new EventEmitter(), {
      downlinkResult: (...args: unknown[]) => heard.push(args),
    });
    const RED = redWith({ cfg1: { connection: { client } } });
    returnDownlinkOutcome(RED, { platform: 'wmw', config: 'cfg1', ref: 'op-1' }, outcome, request);
    assert.deepEqual(heard, [['op-1', outcome, request]]);
  });

  it('a node that still closes commands itself is asked instead of its client; nothing breaks without an origin', () => {
    const heard: string[] = [];
    const client = { downlinkResult: () => heard.push('client') };
    const RED = redWith({
      own: { connection: { client }, downlinkResult: () => heard.push('node') },
      plain: { connection: { client: new EventEmitter() } },
    });
    returnDownlinkOutcome(RED, { config: 'own', ref: 1 }, outcome);
    returnDownlinkOutcome(RED, { config: 'plain', ref: 1 }, outcome);
    returnDownlinkOutcome(RED, { config: 'deleted', ref: 1 }, outcome);
    returnDownlinkOutcome(RED, undefined, outcome);
    assert.deepEqual(heard, ['node']);
  });
});
