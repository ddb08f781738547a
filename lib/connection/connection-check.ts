/**
 * The outcome of one connection attempt made to test a configuration ("Test connection" in the
 * editor). `code` names the outcome (`reachable`: the server answers, but the credentials could not
 * be checked); `detail` is a short technical hint (an error code, an HTTP
 * status), never a secret: see `redact`.
 */
export type CheckCode =
  'ok' | 'reachable' | 'not-authorised' | 'unreachable' | 'tls' | 'timeout' | 'refused' | 'failed';

export interface CheckResult {
  ok: boolean;
  code: CheckCode;
  detail?: string;
}

/** How long one attempt may take, from the first byte to the verdict. */
export const CHECK_TIMEOUT_MS = 10000;

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EPIPE',
  'ETIMEDOUT',
]);
const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(VERIFY|GET)|HOSTNAME|ALTNAME/;
const TLS_TEXT = /certificate|\bssl\b|\btls\b|handshake/i;

export const passed = (detail?: string): CheckResult => ({ ok: true, code: 'ok', detail });
export const reachable = (detail?: string): CheckResult => ({ ok: true, code: 'reachable', detail });
export const failed = (code: Exclude<CheckCode, 'ok' | 'reachable'>, detail?: string): CheckResult => ({
  ok: false,
  code,
  detail,
});

/** Sorts a socket, TLS or DNS error into unreachable / TLS / other. */
export function classifyNetworkError(err: unknown): CheckResult {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (code && UNREACHABLE.has(code)) return failed('unreachable', code);
  if ((code && TLS_CODE.test(code)) || TLS_TEXT.test(message)) return failed('tls', code ?? message);
  if (e?.cause && e.cause !== err) {
    const inner = classifyNetworkError(e.cause);
    if (inner.code !== 'failed') return inner;
  }
  return failed('failed', code ?? message);
}

/** `text` with every secret of at least 3 characters replaced by `***`, and cut to `max` characters. */
export function redact(text: string | undefined, secrets: readonly unknown[], max = 200): string | undefined {
  if (text === undefined) return undefined;
  let out = text;
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret.length < 3) continue;
    out = out.split(secret).join('***');
  }
  return out.length > max ? `${out.slice(0, max - 1)}…` : out;
}

/**
 * Runs `attempt` with a deadline: whatever it has not decided by then is a `timeout`. `attempt` gets
 * a signal that aborts at the deadline, so it can release its sockets.
 */
export async function withDeadline<R = CheckResult>(
  attempt: (signal: AbortSignal) => Promise<R | CheckResult>,
  timeoutMs: number,
): Promise<R | CheckResult> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve(failed('timeout'));
    }, timeoutMs);
  });
  try {
    return await Promise.race([attempt(controller.signal).catch(classifyNetworkError), deadline]);
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/**
 * One bounded connection attempt, the pattern every "Test connection" follows: `open(settle)` starts
 * a connection of the real kind (same URL, TLS and credential handling as the live one) and calls
 * `settle` with its verdict (connected, refused, failed); it returns what closes that connection. The
 * first verdict wins; at the deadline the verdict is `timeout`. The connection is closed before the
 * verdict is given, so a check never leaves a socket behind.
 */
export function checkOnce(
  open: (settle: (result: CheckResult) => void) => () => Promise<void>,
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<CheckResult> {
  return withDeadline(
    (signal) =>
      new Promise<CheckResult>((resolve) => {
        let verdict: CheckResult | undefined;
        let close: (() => Promise<void>) | undefined;
        const release = () => {
          signal.removeEventListener('abort', onAbort);
          void close!()
            .catch(() => undefined)
            .then(() => resolve(verdict!));
        };
        const settle = (result: CheckResult) => {
          if (verdict) return;
          verdict = result;
          // A verdict given while `open` still runs is released once `open` has returned.
          if (close) release();
        };
        const onAbort = () => settle(failed('timeout'));
        signal.addEventListener('abort', onAbort);
        try {
          close = open(settle);
        } catch (err) {
          close = () => Promise.resolve();
          settle(classifyNetworkError(err));
        }
        if (verdict) release();
      }),
    timeoutMs,
  );
}
