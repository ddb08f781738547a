import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { CodecError, HostedSandbox, codecHostPid } from '../../lib/codec';

const fixture = (name: string) =>
  fs.readFileSync(path.join(__dirname, '..', '..', '..', 'test', 'codec', 'fixtures', name), 'utf8');
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const until = async (check: () => boolean, what: string, ms = 5000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};
const settled = (p: Promise<unknown>) =>
  p.then(
    (value) => ({ value }),
    (e: Error) => ({ error: e.message }),
  );

describe('codec host: codecs run in a child process that a codec may bring down, not Node-RED', function () {
  this.timeout(60000);
  const open: HostedSandbox[] = [];
  const sandbox = (code: string, timeout = 50) => {
    const s = new HostedSandbox(code, timeout);
    open.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  it('an allocation that takes V8 down (one step, past any heap bound) fails that call alone; another codec answers meanwhile and after', async () => {
    const hostile = fixture(path.join('hostile', 'alloc-once.js')).replace(
      'function decodeUplink',
      'function hostileDecode',
    );
    const bad = sandbox(
      `${hostile}\nfunction decodeUplink(input) { return input.fPort === 66 ? hostileDecode(input) : { data: { ok: input.bytes[0] } }; }`,
      // Time enough to reach the heap bound first: the fill takes 3–10 s on a loaded 2-core machine.
      30000,
    );
    const good = sandbox('function decodeUplink(input) { return { data: { good: input.bytes[0] } }; }');
    await good.functions();
    const first = codecHostPid()!;
    const [crash, meanwhile, same] = await Promise.all([
      settled(bad.call('decodeUplink', { bytes: [1], fPort: 66 })),
      settled(good.call('decodeUplink', { bytes: [2], fPort: 1 })),
      settled(bad.call('decodeUplink', { bytes: [3], fPort: 1 })),
    ]);
    assert.match(String((crash as { error: string }).error), /brought its process down .*more than 256 MB/);
    assert.deepEqual(meanwhile, { value: { data: { good: 2 } } });
    assert.deepEqual(same, { value: { data: { ok: 3 } } }, 'the same codec answers its next call');
    assert.ok(!alive(first), 'the first host is gone');
    assert.ok(codecHostPid() && codecHostPid() !== first && alive(codecHostPid()!), 'a new host runs');
    assert.deepEqual(await good.call('decodeUplink', { bytes: [9], fPort: 1 }), { data: { good: 9 } });
  });

  it('a host killed with calls in flight: they are sent again one at a time and all answer', async () => {
    const slow = sandbox(
      'function decodeUplink(input) { var end = Date.now() + 300; while (Date.now() < end) {} return { data: input.bytes[0] }; }',
      2000,
    );
    await slow.functions();
    const pid = codecHostPid()!;
    const calls = [1, 2, 3].map((n) => settled(slow.call('decodeUplink', { bytes: [n] })));
    await new Promise((r) => setTimeout(r, 100));
    process.kill(pid, 'SIGKILL');
    assert.deepEqual(await Promise.all(calls), [
      { value: { data: 1 } },
      { value: { data: 2 } },
      { value: { data: 3 } },
    ]);
    assert.notEqual(codecHostPid(), pid);
  });

  it('a host killed with one call in flight: that call fails with the reason', async () => {
    const slow = sandbox(
      'function decodeUplink(input) { var end = Date.now() + 500; while (Date.now() < end) {} return { data: 1 }; }',
      2000,
    );
    await slow.functions();
    const pid = codecHostPid()!;
    const call = settled(slow.call('decodeUplink', { bytes: [1] }));
    await new Promise((r) => setTimeout(r, 100));
    process.kill(pid, 'SIGKILL');
    assert.match(String(((await call) as { error: string }).error), /brought its process down \(SIGKILL/);
  });

  it('the host starts with the first codec and ends with the last; a closed codec refuses calls', async () => {
    const a = sandbox('function decodeUplink() { return { data: 1 }; }');
    const b = sandbox('function decodeUplink() { return { data: 2 }; }');
    assert.deepEqual(await a.call('decodeUplink', { bytes: [] }), { data: 1 });
    const pid = codecHostPid()!;
    await a.close();
    assert.ok(alive(pid), 'b still uses it');
    assert.deepEqual(await b.call('decodeUplink', { bytes: [] }), { data: 2 });
    await b.close();
    await until(() => !alive(pid), 'the host to end');
    assert.equal(codecHostPid(), undefined);
    await assert.rejects(a.call('decodeUplink', { bytes: [] }), CodecError);
  });

  it('a codec that does not load says why', async () => {
    const s = sandbox('function decodeUplink( {');
    await assert.rejects(s.functions(), /codec does not load/);
  });
});
