import { strict as assert } from 'assert';
import * as fc from 'fast-check';
import { topicMatches } from '../../lib/mqtt/mqtt-connection';
import { devEUIFromTopic, devEUIReader } from '../../lib/thingpark/mapping/topics';

/** The MQTT rules written the obvious way (level arrays), to check the allocation-free matcher against. */
function referenceMatches(filter: string, topic: string): boolean {
  const f = filter.startsWith('$share/') ? filter.split('/').slice(2).join('/') : filter;
  const fl = f.split('/');
  const tl = topic.split('/');
  for (let i = 0; i < fl.length; i++) {
    if (fl[i] === '#') return true;
    if (i >= tl.length) return false;
    if (fl[i] !== '+' && fl[i] !== tl[i]) return false;
  }
  return fl.length === tl.length;
}

function referenceDevEUI(pattern: string, topic: string): string | undefined {
  const levels = pattern.split('/');
  const actual = topic.split('/');
  if (levels.length !== actual.length) return undefined;
  for (let i = 0; i < levels.length; i++) {
    const at = levels[i].indexOf('{DevEUI}');
    if (at < 0) continue;
    const suffix = levels[i].slice(at + '{DevEUI}'.length);
    const value = actual[i].slice(at, actual[i].length - suffix.length);
    return /^[0-9a-fA-F]{16}$/.test(value) ? value.toUpperCase() : undefined;
  }
  return undefined;
}

const level = fc.constantFrom('', 'a', 'b', 'ab', 'mqtt', 'things', 'uplink', '0018b20000000b20', 'dev-');
const topicArb = fc.array(level, { minLength: 1, maxLength: 5 }).map((l) => l.join('/'));
const filterArb = fc
  .tuple(
    fc.constantFrom('', '$share/g/', '$share/'),
    fc.array(fc.oneof(level, fc.constantFrom('+', '#')), { minLength: 1, maxLength: 5 }),
  )
  .map(([prefix, l]) => prefix + l.join('/'));

describe('MQTT topics: filter matching and DevEUI extraction', () => {
  it('topicMatches agrees with the level-by-level rules, shared subscriptions included (property)', () => {
    fc.assert(
      fc.property(filterArb, topicArb, (filter, topic) => {
        assert.equal(topicMatches(filter, topic), referenceMatches(filter, topic), `${filter} ~ ${topic}`);
      }),
      { numRuns: 3000 },
    );
    assert.equal(topicMatches('mqtt/things/+/uplink', 'mqtt/things/0018B20000000B20/uplink'), true);
    assert.equal(topicMatches('$share/grp/mqtt/things/+/uplink', 'mqtt/things/X/uplink'), true);
    assert.equal(topicMatches('mqtt/#', 'mqtt'), true);
    assert.equal(topicMatches('mqtt/+', 'mqtt'), false);
  });

  it('devEUIFromTopic agrees with the level-by-level reading for any pattern and topic (property)', () => {
    const patternArb = fc
      .tuple(
        fc.array(level, { maxLength: 3 }),
        fc.constantFrom('{DevEUI}', 'dev-{DevEUI}', '{DevEUI}-x', 'none'),
        fc.array(level, { maxLength: 2 }),
      )
      .map(([a, mid, b]) => [...a, mid, ...b].join('/'));
    const devTopicArb = fc
      .tuple(
        fc.array(level, { maxLength: 3 }),
        fc.constantFrom('0018b20000000b20', 'dev-0018B20000000B21', '0018B20000000B22-x', 'zz', ''),
        fc.array(level, { maxLength: 2 }),
      )
      .map(([a, mid, b]) => [...a, mid, ...b].join('/'));
    fc.assert(
      fc.property(patternArb, devTopicArb, (pattern, topic) => {
        assert.equal(devEUIReader(pattern)(topic), referenceDevEUI(pattern, topic), `${pattern} ~ ${topic}`);
        assert.equal(devEUIFromTopic(pattern, topic), referenceDevEUI(pattern, topic));
      }),
      { numRuns: 3000 },
    );
  });
});
