import * as http from 'http';
import * as https from 'https';

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface HttpOptions {
  method: string;
  headers?: Record<string, string>;
  body?: string;
  /** TLS options (CA, client certificate, verification) for https URLs. */
  tls?: https.RequestOptions;
  timeoutMs: number;
  maxBytes: number;
  signal?: AbortSignal;
}

/** An HTTP exchange that failed before an answer: network, TLS, timeout, too large, aborted. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** One HTTP request with a bounded answer; the caller decides what a status means. */
export function httpRequest(url: string, options: HttpOptions): Promise<HttpAnswer> {
  const target = new URL(url);
  const lib = target.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(new TransportError('aborted', 'ABORT_ERR'));
    const headers: Record<string, string | number> = { Accept: 'application/json', ...options.headers };
    if (options.body !== undefined) headers['Content-Length'] = Buffer.byteLength(options.body);
    const req = lib.request(
      target,
      {
        ...(target.protocol === 'https:' ? options.tls : {}),
        method: options.method,
        headers,
        timeout: options.timeoutMs,
        signal: options.signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > options.maxBytes) {
            req.destroy(new TransportError(`answer larger than ${options.maxBytes} bytes`, 'ETOOBIG'));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', (err) => reject(asTransportError(err)));
      },
    );
    req.on('timeout', () => req.destroy(new TransportError('no answer in time', 'ETIMEDOUT')));
    req.on('error', (err) => reject(asTransportError(err, options.signal)));
    req.end(options.body);
  });
}

function asTransportError(err: unknown, signal?: AbortSignal): TransportError {
  if (err instanceof TransportError) return err;
  if (signal?.aborted) return new TransportError('aborted', 'ABORT_ERR');
  const e = err as NodeJS.ErrnoException;
  // Node's messages name the host and port, never headers or bodies: no secret can be in them.
  return new TransportError(e.code ? `${e.code}: ${e.message}` : e.message, e.code);
}
