import { strict as assert } from 'assert';
import type { Ledger } from './ledger';
import { HEAP_MARGIN_BYTES, MAX_SENT_AGAIN, PER_DEVICE_INFLIGHT, RSS_MARGIN_BYTES } from './rig';

/**
 * What every fault run must show: nothing accepted is lost, each device's uplinks arrive in order,
 * and what arrives twice stays within the in-flight window of each fault (a connection that drops
 * takes the acknowledgements of at most the window with it).
 */
export function assertNothingLost(ledger: Ledger, faults: number, context: string): void {
  const lost = ledger.lost();
  assert.deepEqual(
    lost.slice(0, 20),
    [],
    `${lost.length} accepted uplinks never delivered nor refused (${context}), ` +
      `${ledger.brokerAcked(lost).length} of them acknowledged by the platform broker: ${JSON.stringify(ledger.summary())}`,
  );
  const brokers = ledger.lostToBrokerKills();
  if (brokers.length > 0) {
    console.log(
      `      ${brokers.length} acknowledged by the platform broker, lost when it was killed: ${brokers.slice(0, 10).join(', ')}`,
    );
  }
  assertOrderAndDuplicates(ledger, faults, context);
}

/** In order per device, nothing delivered that was not accepted, duplicates within the in-flight window. */
export function assertOrderAndDuplicates(ledger: Ledger, faults: number, context: string): void {
  const disorder = ledger.firstDisorder;
  assert.equal(
    ledger.outOfOrder,
    0,
    `uplinks overtook older ones of their device (${context}); ${disorder} received FCntUp ${ledger.arrivalsOf(disorder ?? '').join(',')}`,
  );
  assert.equal(ledger.unexpected(), 0, `uplinks delivered that were never accepted (${context})`);
  assert.ok(
    ledger.duplicates <= faults * MAX_SENT_AGAIN,
    `${ledger.duplicates} duplicates after ${faults} faults: more than ${MAX_SENT_AGAIN} sent again per fault (${context})`,
  );
  assert.ok(
    ledger.maxDuplicatesPerDevice() <= faults * PER_DEVICE_INFLIGHT,
    `a device got ${ledger.maxDuplicatesPerDevice()} duplicates after ${faults} faults: more than ${PER_DEVICE_INFLIGHT} in flight per device per fault (${context})`,
  );
}

export const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;

export interface Memory {
  rss: number;
  heapUsed: number;
}

/** Node-RED's memory after recovery and drain is back near its level before the faults (both after GC). */
export function assertMemoryBack(before: Memory, after: Memory): void {
  assert.ok(
    after.heapUsed <= before.heapUsed + HEAP_MARGIN_BYTES,
    `heap ${mb(after.heapUsed)} after recovery, ${mb(before.heapUsed)} before: more than ${mb(HEAP_MARGIN_BYTES)} above`,
  );
  assert.ok(
    after.rss <= before.rss + RSS_MARGIN_BYTES,
    `RSS ${mb(after.rss)} after recovery, ${mb(before.rss)} before: more than ${mb(RSS_MARGIN_BYTES)} above`,
  );
}

export const describeMemory = (m: Memory) => `RSS ${mb(m.rss)}, heap ${mb(m.heapUsed)}`;
