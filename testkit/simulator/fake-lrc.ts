import * as http from 'http';
import type { AddressInfo } from 'net';
import { sha256Hex, splitTunnelQuery } from '../../lib/thingpark/token';
import { sampleDownlinkSent } from './sample-documents';
import { postTunnelDocument, type TunnelTarget } from './uplink-poster';

export interface ReceivedDownlink {
  query: URLSearchParams;
  rawQuery: string;
  accepted: boolean;
  reason?: string;
}

export interface FakeLrcOptions {
  asKey: string;
  /** When set, each accepted downlink is followed by a signed DevEUI_downlink_Sent posted here. */
  reportTo?: TunnelTarget;
  maxTimeDeviation?: number;
  /** Lets a test make the LRC answer with an error status (e.g. 503) for the next N requests. */
  failNext?: { count: number; status: number };
}

/**
 * A stand-in for ThingPark's LRC downlink endpoint on loopback. It recomputes the Token over the query
 * as received (before &Token, URL-decoded) and refuses a wrong one, as the real endpoint does.
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

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const answer = (status: number, text: string) => {
      res.writeHead(status, { 'Content-Type': 'text/html' });
      res.end(`<html><body>${text}</body></html>`);
    };
    req.resume();
    const [path, rawQuery = ''] = (req.url ?? '').split('?', 2);
    if (req.method !== 'POST' || !path.endsWith('/thingpark/lrc/rest/downlink'))
      return answer(404, 'Not found');
    const { signed, token, params } = splitTunnelQuery(rawQuery);
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
    if (!token) return reject('Missing Token parameter');
    if (!rawQuery.endsWith(`&Token=${token}`)) return reject('Token must be the last parameter');
    if (sha256Hex(signed + this.options.asKey) !== token) return reject('Security error: invalid Token');
    for (const name of ['DevEUI', 'Payload', 'AS_ID', 'Time']) {
      if (!params.get(name)) return reject(`Missing ${name} parameter`);
    }
    const time = Date.parse(params.get('Time') ?? '');
    if (Number.isNaN(time) || Math.abs(Date.now() - time) > (this.options.maxTimeDeviation ?? 120) * 1000) {
      return reject('Security error: Time out of range');
    }
    record.accepted = true;
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
