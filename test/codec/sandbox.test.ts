import { strict as assert } from 'assert';
import { CodecSandbox } from '../../lib/codec';

const run = async (body: string) => {
  const s = new CodecSandbox(`function decodeUplink(input) { ${body} }`, 200);
  try {
    return await s.call('decodeUplink', { bytes: [1] }).then(
      (v) => ({ value: v }),
      (e: Error) => ({ error: e.message }),
    );
  } finally {
    await s.close();
  }
};

describe('codec sandbox: escape attempts fail', function () {
  this.timeout(10000);
  it('has no require, process, Buffer, timers, fetch or module loader', async () => {
    const r = await run(
      `return [typeof require, typeof process, typeof Buffer, typeof setTimeout, typeof fetch, typeof importScripts, typeof globalThis.process].join(',')`,
    );
    assert.deepEqual(r, { value: 'undefined,undefined,undefined,undefined,undefined,undefined,undefined' });
  });
  it('this.constructor.constructor("return process")() cannot compile', async () => {
    const r = await run(`return this.constructor.constructor('return process')()`);
    assert.match(String((r as { error: string }).error), /Code generation from strings disallowed/);
  });
  it("the input object is the context's own: its constructor chain does not reach the host", async () => {
    const r = await run(`return input.constructor.constructor('return process')()`);
    assert.match(String((r as { error: string }).error), /Code generation from strings disallowed/);
    const r2 = await run(
      `return typeof input.bytes.constructor.from === 'function' && input.bytes instanceof Array`,
    );
    assert.deepEqual(r2, { value: true });
  });
  it('eval is refused', async () => {
    const r = await run(`return eval('1+1')`);
    assert.match(String((r as { error: string }).error), /disallowed/);
  });
  it('state does not leak between codecs', async () => {
    const a = new CodecSandbox('var seen = 0; function decodeUplink() { return ++seen; }', 200);
    const b = new CodecSandbox('function decodeUplink() { return typeof seen; }', 200);
    assert.equal(await a.call('decodeUplink', {}), 1);
    assert.equal(await a.call('decodeUplink', {}), 2);
    assert.equal(await b.call('decodeUplink', {}), 'undefined');
    await Promise.all([a.close(), b.close()]);
  });
});
