import type { PlatformDownlink } from '../../connection/platform-client';
import { parseDownlink } from '../../thingpark';

/** What a WMW downlink's `ref` holds: the topic it came on and when it arrived. */
export interface WmwMessageRef {
  topic: string;
  receivedAt: string;
}

/**
 * A message WMW published on `downlink_<id>` as a downlink request: a ThingPark `DevEUI_downlink`
 * document (typed or untyped JSON; a driver `payload` object instead of payload_hex is allowed, for
 * an IoT Flow MQTT connection to encode). Throws an Error naming the topic and the problem.
 */
export function wmwDownlink(topic: string, payload: Buffer, receivedAt: Date): PlatformDownlink {
  const text = payload.toString('utf8');
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new Error(`message on ${topic} is not JSON: ${preview(text)}`);
  }
  try {
    const request = parseDownlink(document, { allowDriverPayload: true });
    const ref: WmwMessageRef = { topic, receivedAt: receivedAt.toISOString() };
    return { request, ref };
  } catch (err) {
    throw new Error(`message on ${topic}: ${(err as Error).message}`);
  }
}

function preview(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
