import { strict as assert } from 'assert';
import { Typed } from '../../lib/thingworx';
import { PushedValues } from '../../lib/thingworx/transport/pushed-values';

describe('last pushed values (answers to GET, VALUE / DEADBAND)', () => {
  it('keeps the last value of each property, and forgets the Things pushed to longest ago beyond its memory bound', () => {
    const doc = (n: number) => Typed.json({ text: 'x'.repeat(1000), n });
    const p = new PushedValues(5000); // room for two Things' 1 KB documents, not three
    p.record('A', [{ name: 'uplinkData', value: doc(1) }]);
    p.record('B', [{ name: 'uplinkData', value: doc(2) }]);
    p.record('A', [
      { name: 'uplinkData', value: doc(3) },
      { name: 'rssi', value: Typed.number(-90) },
    ]);
    assert.deepEqual(p.get('A', 'uplinkData'), doc(3));
    assert.deepEqual(p.get('A', 'rssi'), Typed.number(-90));
    p.record('C', [{ name: 'uplinkData', value: doc(4) }]);
    assert.equal(p.get('B', 'uplinkData'), undefined, 'B, pushed to longest ago, is forgotten');
    assert.deepEqual(p.get('A', 'uplinkData'), doc(3));
    assert.deepEqual(p.get('C', 'uplinkData'), doc(4));
    assert.ok(p.size <= 5000, `${p.size} bytes held`);
    p.forget('A');
    assert.equal(p.get('A', 'rssi'), undefined);
  });
});
