import { strict as assert } from 'assert';
import * as mqtt from 'mqtt';
import { MqttConnection } from '../../lib/mqtt/mqtt-connection';
import { Mosquitto } from '../../testkit/broker';

/*
 * A broker hands over a burst at once (a thousand messages released after a reconnect, or held
 * PUBACKs released together): the connection takes them in over several turns of the event loop, so
 * timers and other flows run between, instead of all of them in one go.
 */
describe('MQTT connection: a burst is taken in over several turns of the event loop', function () {
  this.timeout(30000);
  const broker = new Mosquitto({ extra: ['max_inflight_messages 1000', 'max_queued_messages 10000'] });
  before(() => broker.start());
  after(() => broker.dispose());

  it('handles at most a few milliseconds of messages per turn, and every message still arrives', async () => {
    const burst = 400;
    const connect = () => {
      const c = new MqttConnection({
        url: `mqtt://127.0.0.1:${broker.port}`,
        clientId: 'pacing-test',
        persistentSession: true,
        holdAcks: true,
      });
      c.on('error', () => undefined);
      return c;
    };
    const connected = async (c: MqttConnection) => {
      const end = Date.now() + 5000;
      while (c.state !== 'connected' && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.equal(c.state, 'connected');
    };
    // Subscribed once, then away while the burst is queued at the broker for this session.
    const away = connect();
    away.subscribe('burst/#', () => undefined);
    away.start();
    await connected(away);
    await away.stop();
    const conn = connect();
    // The turn each message is handled in: a counter moved on by a chain of setImmediate.
    let turn = 0;
    let ticking = true;
    const tick = () => {
      turn++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const perTurn = new Map<number, number>();
    let received = 0;
    conn.subscribe('burst/#', () => {
      // A flow that costs 1 ms per message.
      const until = performance.now() + 1;
      while (performance.now() < until);
      perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
      received++;
    });
    const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'pacing-pub' });
    try {
      await Promise.all(
        Array.from({ length: burst }, (_, i) => pub.publishAsync(`burst/${i % 10}`, `m${i}`, { qos: 1 })),
      );
      conn.start();
      const until = Date.now() + 20000;
      while (received < burst && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      assert.equal(received, burst, 'every message of the burst arrived');
      const most = Math.max(...perTurn.values());
      // 4 ms of handling per turn: about 5 of these messages; never the hundreds one socket read holds.
      assert.ok(most <= 12, `at most ${most} messages were handled in one turn of the event loop`);
      assert.ok(perTurn.size >= burst / 12, `the burst took ${perTurn.size} turns`);
    } finally {
      ticking = false;
      await pub.endAsync(true);
      await conn.stop();
    }
  });
});
