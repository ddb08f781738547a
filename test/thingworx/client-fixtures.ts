import { strict as assert } from 'assert';
import {
  AlwaysOnClient,
  PipePool,
  type AlwaysOnClientOptions,
  type PipePoolOptions,
} from '../../lib/thingworx';
import { AlwaysOnTestServer, type AlwaysOnServerOptions } from '../../testkit/alwayson-server';

export const APP_KEY = '8f6b1c2e-test-app-key';
export const TEMPLATE = 'ThingParkDevice';

/** Poll `check` until it holds (fails the test after `ms`). */
export async function eventually(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Keeps servers and clients made during a test and closes them after it. */
export class Fixture {
  readonly servers: AlwaysOnTestServer[] = [];
  readonly closers: Array<() => Promise<void>> = [];

  async server(opts: Partial<AlwaysOnServerOptions> = {}): Promise<AlwaysOnTestServer> {
    const s = await new AlwaysOnTestServer({ appKey: APP_KEY, ...opts }).start();
    this.servers.push(s);
    return s;
  }

  /** Fast timings for tests: quick backoff, short timeouts, keep-alive off unless asked. */
  clientOptions(
    server: AlwaysOnTestServer,
    extra: Partial<AlwaysOnClientOptions> = {},
  ): AlwaysOnClientOptions {
    return {
      url: server.url,
      allowInsecure: !server.options.tls,
      appKey: APP_KEY,
      pingIntervalMs: 0,
      connectTimeoutMs: 3000,
      requestTimeoutMs: 3000,
      backoff: { initialMs: 20, maxMs: 200 },
      ...extra,
    };
  }

  client(server: AlwaysOnTestServer, extra: Partial<AlwaysOnClientOptions> = {}): AlwaysOnClient {
    const c = new AlwaysOnClient(this.clientOptions(server, extra));
    this.closers.push(() => c.close());
    return c;
  }

  pool(server: AlwaysOnTestServer, extra: Partial<PipePoolOptions> = {}): PipePool {
    const p = new PipePool(this.clientOptions(server, extra));
    this.closers.push(() => p.close());
    return p;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.closers.splice(0).map((f) => f()));
    await Promise.all(this.servers.splice(0).map((s) => s.close()));
  }
}

/** 16-hex-digit DevEUI-like names. */
export function devEuis(n: number, prefix = '0018B2'): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++)
    out.push(
      prefix +
        i
          .toString(16)
          .toUpperCase()
          .padStart(16 - prefix.length, '0'),
    );
  return out;
}
