import type { IncomingMessage } from 'http';
import { UNREAD_BODY } from './admin-body-bypass';

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`body larger than ${limit} bytes`);
  }
}

/**
 * The request body as text, bounded. A body already parsed by `httpNodeMiddleware` (a string, a
 * Buffer or an object) is used as it is.
 */
export function readBody(
  req: IncomingMessage & { body?: unknown; _body?: boolean; [UNREAD_BODY]?: boolean },
  limit: number,
): Promise<string | object> {
  if (req[UNREAD_BODY]) return readStream(req, limit);
  const parsed = req.body;
  if (typeof parsed === 'string') return Promise.resolve(parsed);
  if (Buffer.isBuffer(parsed)) return Promise.resolve(parsed.toString('utf8'));
  // A body parser that already ran (`_body`) consumed the stream, even for an empty body.
  if (parsed && typeof parsed === 'object' && (req._body || Object.keys(parsed).length > 0)) {
    return Promise.resolve(parsed);
  }
  return readStream(req, limit);
}

function readStream(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limit) return reject(new BodyTooLargeError(limit));
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}
