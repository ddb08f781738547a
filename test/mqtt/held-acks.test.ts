import { strict as assert } from 'assert';
import { HeldAcks, type Release } from '../../lib/mqtt/held-acks';

/* The PUBACKs of messages whose content must first be safe: written in arrival order (MQTT 3.1.1, 4.6). */
describe('MQTT held PUBACKs', () => {
  const setUp = () => {
    const written: number[] = [];
    let failures = 0;
    const acks = new HeldAcks(() => failures++);
    const arrive = (id: number, holds: number) => {
      const held = acks.arrived();
      const releases: Release[] = Array.from({ length: holds }, () => held.hold());
      acks.ready(held, () => written.push(id));
      return releases;
    };
    return { acks, written, arrive, failures: () => failures };
  };

  it('writes each PUBACK once nothing holds it or an earlier one, in arrival order', () => {
    const { acks, written, arrive } = setUp();
    const [r1] = arrive(1, 1);
    const [r2a, r2b] = arrive(2, 2);
    arrive(3, 0);
    assert.deepEqual(written, [], 'the first still held');
    r2a(true);
    r2b(true);
    assert.deepEqual(written, [], 'the second is free, but the first is not');
    r1(true);
    assert.deepEqual(written, [1, 2, 3]);
    r1(true);
    assert.deepEqual(written, [1, 2, 3], 'a release counts once');
    assert.equal(acks.size, 0);
    arrive(4, 0);
    assert.deepEqual(written, [1, 2, 3, 4], 'nothing held: written at once');
  });

  it('a message released as not safe is never acknowledged, nor is any after it', () => {
    const { written, arrive, failures } = setUp();
    const [r1] = arrive(1, 1);
    const [r2] = arrive(2, 1);
    r2(true);
    r1(false);
    assert.equal(failures(), 1);
    assert.deepEqual(written, []);
  });

  it('after the connection closed, releases write nothing', () => {
    const { acks, written, arrive } = setUp();
    const [r1] = arrive(1, 1);
    acks.discard();
    r1(true);
    assert.deepEqual(written, []);
  });

  it('keeps no message it has acknowledged (a long run of them)', () => {
    const { acks, written, arrive } = setUp();
    for (let i = 0; i < 5000; i++) arrive(i, 1)[0](true);
    assert.equal(written.length, 5000);
    const order = (acks as unknown as { order: unknown[] }).order;
    assert.ok(order.length <= 2048, `${order.length} slots kept`);
    assert.ok(
      order.every((slot) => slot === undefined),
      'every slot written is cleared',
    );
  });
});
