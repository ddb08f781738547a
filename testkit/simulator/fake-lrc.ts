import * as http from 'http';
import type { AddressInfo } from 'net';
import { createHash } from 'crypto';
import { sampleDownlinkSent } from './sample-documents';
import { postTunnelDocument, type TunnelTarget } from './uplink-poster';

export interface ReceivedDownlink {
  query: URLSearchParams;
  rawQuery: string;
  accepted: boolean;
  reason?: string;
}

export interface FakeLrcOptions {
  /** The AS key as ThingPark shows it. */
  asKey: string;
  /**
   * Which text of the key the LRC hashes: `lower` (Actility's integration guide: the key as a
   * lower-case hex string, whatever case ThingPark displays) or `as-stored` (older platforms: the
   * 2016 sample of the guide verifies only with its mixed-case key as written).
   */
  hashKey?: 'lower' | 'as-stored';
  /** When set, AS_ID must be this (the AS profile's ID). */
  asId?: string;
  /** Queue each request, then never answer (a lost answer). */
  hang?: boolean;
  /** Queue each request, then close the connection without answering. */
  resetAfterQueue?: boolean;
  /** When set, each accepted downlink is followed by a signed DevEUI_downlink_Sent posted here. */
  reportTo?: TunnelTarget;
  maxTimeDeviation?: number;
  /** Lets a test make the LRC answer with an error status (e.g. 503) for the next N requests. */
  failNext?: { count: number; status: number };
}

/**
 * A stand-in for ThingPark's LRC downlink endpoint on loopback (reference/thingpark.md "Downlink"). It
 * recomputes the Token over the query as received (before &Token, URL-decoded) with the key text the
 * platform hashes, refuses a wrong one, a missing parameter or a Time out of range, and can lose its
 * answer after queuing (hang, reset) as a real LRC behind a network can.
 */
export class FakeLrc {
  readonly received: ReceivedDownlink[] = [];
  private server?: http.Server;

  constructor(readonly options: FakeLrcOptions) {}

  get url(): string {
    const port = (this.server?.address() as AddressInfo | null)?.port;
    return `http://127.0.0.1:${port}/thingpark/lrc/rest/downlink`;
  }

  async start(port = 0): Promise<this> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** How many downlinks were queued (what a device would get). */
  get queued(): number {
    return this.received.filter((r) => r.accepted).length;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const answer = (status: number, text: string) => {
      res.writeHead(status, { 'Content-Type': 'text/html' });
      res.end(`<html><body>${text}</body></html>`);
    };
    req.resume();
    const url = req.url ?? '';
    const at = url.indexOf('?');
    const path = at < 0 ? url : url.slice(0, at);
    const rawQuery = at < 0 ? '' : url.slice(at + 1);
    if (req.method !== 'POST' || !path.endsWith('/thingpark/lrc/rest/downlink'))
      return answer(404, 'Not found');
    const params = new URLSearchParams(rawQuery);
    const record: ReceivedDownlink = { query: params, rawQuery, accepted: false };
    this.received.push(record);
    const fail = this.options.failNext;
    if (fail && fail.count > 0) {
      fail.count--;
      record.reason = `HTTP ${fail.status}`;
      return answer(fail.status, 'Service temporarily unavailable');
    }
    const reject = (reason: string) => {
      record.reason = reason;
      answer(400, reason);
    };
    // The LRC hashes the query as received: everything before "&Token=", percent-decoded.
    const tokenAt = rawQuery.lastIndexOf('&Token=');
    if (tokenAt < 0) return reject('Missing Token parameter');
    const token = rawQuery.slice(tokenAt + '&Token='.length);
    if (!/^[0-9a-fA-F]{64}$/.test(token)) return reject('Token must be the last parameter');
    const key = this.options.hashKey === 'as-stored' ? this.options.asKey : this.options.asKey.toLowerCase();
    const signed = decodeURIComponent(rawQuery.slice(0, tokenAt));
    const expected = createHash('sha256')
      .update(signed + key)
      .digest('hex');
    if (expected !== token.toLowerCase()) return reject('Security error: invalid Token');
    for (const name of ['DevEUI', 'Payload', 'AS_ID', 'Time']) {
      if (!params.get(name)) return reject(`Missing ${name} parameter`);
    }
    if (this.options.asId && params.get('AS_ID') !== this.options.asId) {
      return reject('Security error: unknown AS_ID');
    }
    const time = Date.parse(params.get('Time') ?? '');
    if (Number.isNaN(time) || Math.abs(Date.now() - time) > (this.options.maxTimeDeviation ?? 120) * 1000) {
      return reject('Security error: Time out of range');
    }
    record.accepted = true;
    if (this.options.hang) return;
    if (this.options.resetAfterQueue) {
      req.socket.destroy();
      return;
    }
    answer(200, 'Request queued by LRC');
    const reportTo = this.options.reportTo;
    const correlationId = params.get('CorrelationID');
    if (reportTo && correlationId) {
      const body = sampleDownlinkSent(params.get('DevEUI')!, Number(params.get('FPort') ?? 0), correlationId);
      setTimeout(
        () => void postTunnelDocument(reportTo, 'DevEUI_downlink_Sent', body).catch(() => undefined),
        200,
      );
    }
  }
}
