/**
 * What ThingPark X IoT Flow takes on an MQTT downlink topic, from its documentation
 * (actility/tpx-iot-flow-doc docs/Message/downlink-message.md), written apart from our downlink code
 * so a test can hold what we publish to it. Returns the reasons IoT Flow would drop the message for;
 * an empty list means it would pass it on to the LRC. IoT Flow ignores invalid JSON silently.
 */
export function iotFlowRefusals(text: string, options: { asAuthentication?: boolean } = {}): string[] {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return ['not JSON'];
  }
  const root = isObject(message) ? message.DevEUI_downlink : undefined;
  if (!isObject(message) || Object.keys(message).length !== 1 || !isObject(root)) {
    return ['not {"DevEUI_downlink":{…}}'];
  }
  const body = root;
  const reasons: string[] = [];
  const unsigned = (name: string, max: number) => {
    const value = body[name];
    if (value === undefined) return;
    const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > max)
      reasons.push(`${name} ${String(value)}`);
  };
  for (const key of Object.keys(body)) if (!DOCUMENTED.has(key)) reasons.push(`undocumented ${key}`);
  const time = body.Time;
  if (time === undefined) {
    if (options.asAuthentication !== false) reasons.push('Time is mandatory with AS authentication');
  } else if (typeof time !== 'string' || !ISO_TIME.test(time)) reasons.push(`Time ${String(time)}`);
  if (typeof body.DevEUI !== 'string' || !/^[0-9A-Fa-f]{16}$/.test(body.DevEUI)) reasons.push('DevEUI');
  if (body.RAN !== 'CELLULAR') {
    if (typeof body.FPort !== 'number' || !Number.isInteger(body.FPort) || body.FPort < 1 || body.FPort > 224)
      reasons.push(`FPort ${String(body.FPort)}`);
  }
  const hex = body.payload_hex;
  if ((hex === undefined) === (body.payload === undefined))
    reasons.push('exactly one of payload_hex and payload');
  if (hex !== undefined && (typeof hex !== 'string' || !/^(?:[0-9A-Fa-f]{2})+$/.test(hex)))
    reasons.push('payload_hex');
  for (const flag of ['Confirmed', 'FlushDownlinkQueue', 'RetryIneligibleGateways']) unsigned(flag, 1);
  unsigned('FCntDn', 0xffffffff);
  unsigned('AFCntDn', 0xffffffff);
  const validity = body.ValidityTime;
  if (validity !== undefined && !(typeof validity === 'string' && ISO_TIME.test(validity))) {
    unsigned('ValidityTime', 0xffffffff);
  }
  if (body.DriverCfg !== undefined && !isObject(body.DriverCfg)) reasons.push('DriverCfg');
  if (body.CorrelationID !== undefined && typeof body.CorrelationID !== 'string')
    reasons.push('CorrelationID');
  return reasons;
}

const DOCUMENTED = new Set([
  'Time', 'DevEUI', 'FPort', 'payload_hex', 'payload', 'FCntDn', 'AFCntDn', 'Confirmed', 'FlushDownlinkQueue',
  'ValidityTime', 'AS_ID', 'AS_KEY', 'Token', 'CorrelationID', 'RetryIneligibleGateways', 'DriverCfg',
  // ThingPark Cellular (reference/thingpark.md): RAN=CELLULAR with MType instead of FPort.
  'RAN', 'MType',
]); // prettier-ignore

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
