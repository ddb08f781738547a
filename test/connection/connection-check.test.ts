import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as https from 'https';
import * as net from 'net';
import {
  checkOnce,
  classifyNetworkError,
  failed,
  passed,
  redact,
} from '../../lib/connection/connection-check';
import { checkMqttConnection } from '../../lib/mqtt/mqtt-check';
import { checkLrcReachable } from '../../lib/thingpark/transport/lrc-check';
import { makeTestCerts, type TestCerts } from '../helpers/certs';

/** A TCP server that accepts and never says a word; counts the sockets still open. */
async function silentServer(): Promise<{ port: number; open: () => number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.resume();
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    open: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('connection checks (one attempt, bounded, no secret in the verdict)', function () {
  this.timeout(20000);

  it('checkOnce: the first verdict wins and the connection is closed before it is given', async () => {
    const events: string[] = [];
    const result = await checkOnce((settle) => {
      setTimeout(() => settle(failed('refused', 'first')), 5);
      setTimeout(() => settle(passed()), 10);
      return async () => {
        await new Promise((r) => setTimeout(r, 20));
        events.push('closed');
      };
    }, 1000);
    events.push('verdict');
    assert.deepEqual(result, { ok: false, code: 'refused', detail: 'first' });
    assert.deepEqual(events, ['closed', 'verdict']);
  });

  it('checkOnce: no verdict by the deadline is a timeout, and the attempt is closed; a verdict given at once counts too', async () => {
    let closed = 0;
    const late = await checkOnce(() => async () => void closed++, 50);
    assert.equal(late.code, 'timeout');
    assert.equal(closed, 1);
    const early = await checkOnce((settle) => {
      settle(passed());
      return async () => void closed++;
    }, 1000);
    assert.equal(early.code, 'ok');
    assert.equal(closed, 2);
    const thrown = await checkOnce(() => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    }, 1000);
    assert.deepEqual([thrown.code, thrown.detail], ['unreachable', 'ECONNREFUSED']);
  });

  it('an MQTT broker that never answers: timeout at the deadline, and the socket is closed', async () => {
    const silent = await silentServer();
    try {
      const started = Date.now();
      const result = await checkMqttConnection(
        { url: `mqtt://127.0.0.1:${silent.port}`, clientId: 'c' },
        400,
      );
      assert.equal(result.code, 'timeout');
      assert.ok(Date.now() - started < 2000);
      const end = Date.now() + 3000;
      while (silent.open() > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.equal(silent.open(), 0, 'the attempt let its socket go');
    } finally {
      await silent.close();
    }
  });

  describe('LRC reachability over TLS', () => {
    let certs: TestCerts;
    let server: https.Server;
    let port: number;
    const paths: string[] = [];

    before(async () => {
      certs = makeTestCerts();
      server = https.createServer(
        { cert: fs.readFileSync(certs.certFile), key: fs.readFileSync(certs.keyFile) },
        (req, res) => {
          paths.push(`${req.method} ${req.url}`);
          res.writeHead(405).end();
        },
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as net.AddressInfo).port;
    });
    after(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      fs.rmSync(certs.dir, { recursive: true, force: true });
    });

    it('trusted CA: reachable with the HTTP status; only a GET of the path, without the query', async () => {
      const url = `https://127.0.0.1:${port}/thingpark/lrc/rest/downlink?Token=abc`;
      const result = await checkLrcReachable(url, { ca: fs.readFileSync(certs.caFile) });
      assert.deepEqual(result, { ok: true, code: 'reachable', detail: 'HTTP 405' });
      assert.deepEqual(paths, ['GET /thingpark/lrc/rest/downlink']);
    });

    it('unknown CA: TLS error', async () => {
      const result = await checkLrcReachable(`https://127.0.0.1:${port}/lrc`, undefined);
      assert.deepEqual([result.ok, result.code], [false, 'tls']);
    });
  });

  it('sorts errors and keeps secrets out of details', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    assert.equal(classifyNetworkError(refused).code, 'unreachable');
    const tls = Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    assert.equal(classifyNetworkError(tls).code, 'tls');
    assert.equal(classifyNetworkError(new Error('wrapped', { cause: refused })).code, 'unreachable');
    assert.equal(classifyNetworkError(new Error('odd')).code, 'failed');
    assert.equal(redact('user s3cret refused s3cret', ['s3cret', '', 'ab']), 'user *** refused ***');
    assert.equal(redact('x'.repeat(300), [])!.length, 200);
  });
});
