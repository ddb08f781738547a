import * as http from 'http';
import * as https from 'https';
import {
  CHECK_TIMEOUT_MS,
  classifyNetworkError,
  failed,
  reachable,
  checkOnce,
  type CheckResult,
} from '../../connection/connection-check';

/**
 * Whether the LRC downlink URL answers: DNS, TCP, TLS (verified with `tls`) and an HTTP answer of any
 * status. Only a GET without parameters is sent, which the LRC cannot take for a downlink; the AS key
 * itself is only checked by ThingPark when a signed downlink arrives, so a pass says nothing of it.
 * The detail is the HTTP status.
 */
export function checkLrcReachable(
  url: string,
  tls: https.RequestOptions | undefined,
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<CheckResult> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.resolve(failed('failed', 'URL'));
  }
  if (target.protocol !== 'https:' && target.protocol !== 'http:')
    return Promise.resolve(failed('failed', target.protocol));
  // The query (and any user:password@) of a pasted URL are not sent.
  target.search = '';
  target.username = '';
  target.password = '';
  const lib = target.protocol === 'http:' ? http : https;
  return checkOnce((settle) => {
    const options = { ...(target.protocol === 'https:' ? tls : {}), method: 'GET' };
    const req = lib.request(target, options, (res) => {
      res.resume();
      settle(reachable(`HTTP ${res.statusCode ?? 0}`));
    });
    req.on('error', (err) => settle(classifyNetworkError(err)));
    req.end();
    return async () => void req.destroy();
  }, timeoutMs);
}
