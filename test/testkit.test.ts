import { strict as assert } from 'assert';
import * as net from 'net';
import { freePort } from '../testkit/broker';

describe('testkit: freePort', () => {
  it('never gives the same port twice in one process, and each is free to listen on', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 300; i++) ports.push(await freePort());
    assert.equal(new Set(ports).size, ports.length, 'a port was given twice');
    const last = ports[ports.length - 1];
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(last, '127.0.0.1', () => resolve());
    });
    await new Promise((resolve) => server.close(resolve));
  });
});
