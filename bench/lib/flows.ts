/*
 * The flows the figures deploy. Ids are fixed so a figure can find a config node's queue directory
 * (userDir/thingpark-queues/<id>).
 */

export const AS_ID = 'BENCH-AS';
export const AS_KEY = '0123456789abcdef0123456789abcdef';
export const ENTERPRISE = 'bench';
export const WMW_ID = 'bench-wmw';
export const NET_ID = 'bench-net';
export const UPLINK_PATH = '/bench/uplink';
export const CORE_PATH = '/core/uplink';
export const CORE_TOPIC = 'uplink_core';
export const STATS_PATH = '/bench/stats';
export const TWX_ID = 'bench-twx';
export const C8Y_ID = 'bench-c8y';
export const C8Y_TENANT = 'bench';

export type Flow = Record<string, unknown>[];

const tab = (id: string, label: string) => ({ id, type: 'tab', label, disabled: false, info: '' });

/** Credentials (flows_cred.json) of the ThingPark connection: the AS key, so every token is verified. */
export function networkCredentials(): Record<string, unknown> {
  return { [NET_ID]: { asKey: AS_KEY } };
}

export function httpNetwork(): Record<string, unknown> {
  return {
    id: NET_ID,
    type: 'thingpark-network',
    name: 'ThingPark',
    mode: 'http',
    lrcUrl: 'http://127.0.0.1:9/thingpark/lrc/rest/downlink',
    asId: AS_ID,
    maxTimeDeviation: 120,
    acceptUnverified: true,
  };
}

export function mqttNetwork(brokerPort: number): Record<string, unknown> {
  return {
    id: NET_ID,
    type: 'thingpark-network',
    name: 'IoT Flow',
    mode: 'mqtt',
    broker: `127.0.0.1:${brokerPort}`,
    protocol: 'tcp',
    uplinkTopic: 'mqtt/things/{DevEUI}/uplink',
    downlinkTopic: 'mqtt/things/{DevEUI}/downlink',
    sharedGroup: '',
    clientId: `bench-iotflow-${brokerPort}`,
    maxTimeDeviation: 120,
    acceptUnverified: true,
  };
}

/** BENCH_DURABILITY=power: every platform connection's queue flushes each write to the disk. */
function durability(): Record<string, string> {
  const d = process.env.BENCH_DURABILITY;
  return d ? { durability: d } : {};
}

export function wmwConfig(brokerPort: number, bufferMax = 100000): Record<string, unknown> {
  return {
    id: WMW_ID,
    type: 'thingpark-wmw',
    name: 'WMW',
    region: 'custom',
    hostName: `127.0.0.1:${brokerPort}`,
    enterpriseId: ENTERPRISE,
    clientId: `bench-wmw-${brokerPort}-${Math.random().toString(16).slice(2, 8)}`,
    tls: '',
    insecure: true,
    bufferMax,
    bufferPolicy: 'drop-oldest',
    ...durability(),
  };
}

/**
 * `http in GET /bench/stats` → topic "stats" → `wmw out` → `http response`: the connection's queue
 * counters (DESIGN.md: an out node answers `msg.topic = "stats"`).
 */
function statsEndpoint(z: string, outId: string): Flow {
  return [
    {
      id: 'stats-in',
      z,
      type: 'http in',
      url: STATS_PATH,
      method: 'get',
      upload: false,
      wires: [['stats-topic']],
    },
    {
      id: 'stats-topic',
      z,
      type: 'change',
      rules: [{ t: 'set', p: 'topic', pt: 'msg', to: 'stats', tot: 'str' }],
      wires: [[outId]],
    },
    { id: 'stats-res', z, type: 'http response', statusCode: '', headers: {}, wires: [] },
  ];
}

/** Figure 1, ours: `uplink in` (HTTP tunnel, token verified) → `wmw out` (durable queue, QoS 1). */
export function oursHttpFlow(brokerPort: number): Flow {
  return [
    tab('t', 'bench ours http'),
    httpNetwork(),
    wmwConfig(brokerPort),
    {
      id: 'up',
      z: 't',
      type: 'thingpark-uplink-in',
      network: NET_ID,
      path: UPLINK_PATH,
      types: ['DevEUI_uplink'],
      wires: [['out']],
    },
    {
      id: 'out',
      z: 't',
      type: 'thingpark-wmw-out',
      wmw: WMW_ID,
      types: ['DevEUI_uplink'],
      wires: [['stats-res']],
    },
    ...statsEndpoint('t', 'out'),
  ];
}

/**
 * Figure 1, core nodes only, doing the same job: check the ThingPark token (SHA-256 over the body
 * elements, the signed query and the AS key, as lib/thingpark/token.ts) and the Time window, answer,
 * publish the document with QoS 1.
 */
export const CORE_VERIFY = `
const url = msg.req.originalUrl;
const q = url.indexOf('?');
const raw = q < 0 ? '' : url.slice(q + 1);
const refuse = (status, reason) => { msg.statusCode = status; msg.payload = reason; return [msg, null]; };
const at = raw.search(/(^|&)Token=/);
if (at < 0) return refuse(401, 'missing Token');
const params = new URLSearchParams(raw);
const token = params.get('Token');
const time = params.get('Time');
if (!token || !time) return refuse(401, 'missing Token or Time');
const doc = msg.payload;
const up = doc && typeof doc === 'object' ? doc.DevEUI_uplink : undefined;
if (!up || !up.DevEUI) return refuse(400, 'not an uplink');
let signed;
try { signed = decodeURIComponent(raw.slice(0, at)); } catch (e) { signed = raw.slice(0, at); }
const s = (v) => (v === undefined || v === null ? '' : String(v));
const elements = s(up.CustomerID) + s(up.DevEUI) + (up.FPort === undefined ? '0' : s(up.FPort)) + s(up.FCntUp) + s(up.payload_hex);
const expected = crypto.createHash('sha256').update(elements + signed + AS_KEY, 'utf8').digest('hex');
if (expected !== token.toLowerCase()) return refuse(401, 'invalid Token');
const sent = Date.parse(time);
if (Number.isNaN(sent) || Math.abs(Date.now() - sent) > 120000) return refuse(403, 'Time outside the allowed deviation');
msg.statusCode = 200;
msg.payload = 'OK';
return [msg, { topic: '${CORE_TOPIC}', payload: doc, qos: 1 }];
`;

export function coreHttpFlow(brokerPort: number): Flow {
  return [
    tab('c', 'bench core http'),
    {
      id: 'core-broker',
      type: 'mqtt-broker',
      name: 'platform',
      broker: '127.0.0.1',
      port: String(brokerPort),
      clientid: `bench-core-${brokerPort}-${Math.random().toString(16).slice(2, 8)}`,
      autoConnect: true,
      usetls: false,
      protocolVersion: '4',
      keepalive: '60',
      cleansession: true,
      autoUnsubscribe: true,
      birthTopic: '',
      closeTopic: '',
      willTopic: '',
    },
    {
      id: 'core-in',
      z: 'c',
      type: 'http in',
      url: CORE_PATH,
      method: 'post',
      upload: false,
      wires: [['core-fn']],
    },
    {
      id: 'core-fn',
      z: 'c',
      type: 'function',
      name: 'verify token',
      func: `const AS_KEY = ${JSON.stringify(AS_KEY)};\n${CORE_VERIFY}`,
      outputs: 2,
      timeout: 0,
      noerr: 0,
      initialize: '',
      finalize: '',
      libs: [{ var: 'crypto', module: 'crypto' }],
      wires: [['core-res'], ['core-out']],
    },
    { id: 'core-res', z: 'c', type: 'http response', statusCode: '', headers: {}, wires: [] },
    {
      id: 'core-out',
      z: 'c',
      type: 'mqtt out',
      topic: '',
      qos: '1',
      retain: 'false',
      broker: 'core-broker',
      wires: [],
    },
  ];
}

/**
 * Figure 2's reference: Node-RED's own MQTT relay, core nodes only: `mqtt in` (QoS 1, JSON parsed)
 * → `mqtt out` (QoS 1) to `topic`, no validation and no queue. What any Node-RED flow costs on the way.
 */
export function coreMqttRelayFlow(brokerPort: number, filter: string, topic: string): Flow {
  return [
    tab('r', 'bench core mqtt relay'),
    {
      id: 'relay-broker',
      type: 'mqtt-broker',
      name: 'relay',
      broker: '127.0.0.1',
      port: String(brokerPort),
      clientid: `bench-relay-${brokerPort}-${Math.random().toString(16).slice(2, 8)}`,
      autoConnect: true,
      usetls: false,
      protocolVersion: '4',
      keepalive: '60',
      cleansession: true,
      autoUnsubscribe: true,
      birthTopic: '',
      closeTopic: '',
      willTopic: '',
    },
    {
      id: 'relay-in',
      z: 'r',
      type: 'mqtt in',
      topic: filter,
      qos: '1',
      datatype: 'json',
      broker: 'relay-broker',
      nl: false,
      rap: true,
      rh: 0,
      inputs: 0,
      wires: [['relay-out']],
    },
    {
      id: 'relay-out',
      z: 'r',
      type: 'mqtt out',
      topic,
      qos: '1',
      retain: 'false',
      broker: 'relay-broker',
      wires: [],
    },
  ];
}

/** Figures 2 and 3: `uplink in` (IoT Flow MQTT) → `wmw out`, with the stats endpoint. */
export function oursMqttFlow(feedPort: number, platformPort: number, bufferMax = 100000): Flow {
  return [
    tab('t', 'bench ours mqtt'),
    mqttNetwork(feedPort),
    wmwConfig(platformPort, bufferMax),
    {
      id: 'up',
      z: 't',
      type: 'thingpark-uplink-in',
      network: NET_ID,
      types: ['DevEUI_uplink'],
      wires: [['out']],
    },
    {
      id: 'out',
      z: 't',
      type: 'thingpark-wmw-out',
      wmw: WMW_ID,
      types: ['DevEUI_uplink'],
      wires: [['stats-res']],
    },
    ...statsEndpoint('t', 'out'),
  ];
}

/**
 * Figure 4: `uplink in` (IoT Flow MQTT) → `thingworx out`, the ThingWorx connection on the AlwaysOn test
 * server (plain ws://, `allowInsecure`), Things named by their DevEUI. Deployed through the admin API,
 * so the application key goes inline as the config node's credentials.
 */
export function thingworxFlow(
  feedPort: number,
  alwaysOnPort: number,
  appKey: string,
  pipes: number,
  compression = true,
): Flow {
  return [
    tab('t', 'bench thingworx'),
    mqttNetwork(feedPort),
    {
      id: TWX_ID,
      type: 'thingpark-thingworx',
      name: 'ThingWorx',
      hostName: `127.0.0.1:${alwaysOnPort}`,
      thingTemplateName: 'ThingParkDeviceTemplate',
      thingNamePrefix: '',
      pipeCount: pipes,
      tls: '',
      allowInsecure: true,
      compression,
      bufferMax: 100000,
      bufferPolicy: 'drop-oldest',
      ...durability(),
      credentials: { applicationKey: appKey },
    },
    {
      id: 'up',
      z: 't',
      type: 'thingpark-uplink-in',
      network: NET_ID,
      types: ['DevEUI_uplink'],
      wires: [['out']],
    },
    {
      id: 'out',
      z: 't',
      type: 'thingpark-thingworx-out',
      thingworx: TWX_ID,
      types: ['DevEUI_uplink'],
      wires: [['stats-res']],
    },
    ...statsEndpoint('t', 'out'),
  ];
}

/**
 * Figure 5: `uplink in` (HTTP tunnel, token verified) → `cumulocity out`, the Cumulocity connection on a
 * mosquitto playing Cumulocity's MQTT endpoint (plain MQTT, `insecure`). Credentials: `c8yCredentials`.
 */
export function cumulocityFlow(brokerPort: number): Flow {
  return [
    tab('t', 'bench cumulocity'),
    httpNetwork(),
    {
      id: C8Y_ID,
      type: 'thingpark-cumulocity',
      name: 'Cumulocity',
      hostName: `127.0.0.1:${brokerPort}`,
      tenantId: C8Y_TENANT,
      tls: '',
      insecure: true,
      gatewayId: `bench-gw-${brokerPort}`,
      gatewayName: 'Bench gateway',
      deviceType: 'c8y_ThingParkGateway',
      requiredInterval: 60,
      childInterval: 1440,
      maxChildren: 1000,
      successOn: 'sent',
      operationTimeout: 60,
      bufferMax: 100000,
      bufferPolicy: 'drop-oldest',
      ...durability(),
    },
    {
      id: 'up',
      z: 't',
      type: 'thingpark-uplink-in',
      network: NET_ID,
      path: UPLINK_PATH,
      types: ['DevEUI_uplink'],
      wires: [['out']],
    },
    {
      id: 'out',
      z: 't',
      type: 'thingpark-cumulocity-out',
      cumulocity: C8Y_ID,
      types: ['DevEUI_uplink'],
      wires: [['stats-res']],
    },
    ...statsEndpoint('t', 'out'),
  ];
}

/** flows_cred.json of the Cumulocity flow: the AS key (tokens verified) and the platform user. */
export function cumulocityCredentials(): Record<string, unknown> {
  return { ...networkCredentials(), [C8Y_ID]: { username: 'edge', password: 'bench-pass' } };
}

/**
 * Figure 6: a flow per platform, as a user would deploy it: network, uplink in → wmw out, thingworx out
 * and cumulocity out, downlink in (all three platforms) → downlink out. WMW and Cumulocity on the local
 * broker, ThingWorx on the AlwaysOn test server. Credentials: `idleCredentials`.
 */
export function idleFlow(brokerPort: number, alwaysOnPort: number): Flow {
  const thingworx = thingworxFlow(brokerPort, alwaysOnPort, '', 1).find((n) => n.id === TWX_ID)!;
  const cumulocity = cumulocityFlow(brokerPort).find((n) => n.id === C8Y_ID)!;
  delete thingworx.credentials;
  const out = (id: string, type: string, key: string, config: string) => ({
    id,
    z: 't',
    type,
    [key]: config,
    types: ['DevEUI_uplink'],
    wires: [[]],
  });
  return [
    tab('t', 'bench idle'),
    httpNetwork(),
    wmwConfig(brokerPort),
    thingworx,
    cumulocity,
    {
      id: 'up',
      z: 't',
      type: 'thingpark-uplink-in',
      network: NET_ID,
      path: UPLINK_PATH,
      wires: [['wmw-out', 'twx-out', 'c8y-out']],
    },
    out('wmw-out', 'thingpark-wmw-out', 'wmw', WMW_ID),
    out('twx-out', 'thingpark-thingworx-out', 'thingworx', TWX_ID),
    out('c8y-out', 'thingpark-cumulocity-out', 'cumulocity', C8Y_ID),
    {
      id: 'dl-in',
      z: 't',
      type: 'thingpark-downlink-in',
      wmw: WMW_ID,
      thingworx: TWX_ID,
      cumulocity: C8Y_ID,
      wires: [['dl-out']],
    },
    { id: 'dl-out', z: 't', type: 'thingpark-downlink-out', network: NET_ID, wires: [[]] },
  ];
}

/** flows_cred.json of the idle flow: the AS key, the ThingWorx application key, the Cumulocity user. */
export function idleCredentials(appKey: string): Record<string, unknown> {
  return { ...cumulocityCredentials(), [TWX_ID]: { applicationKey: appKey } };
}

export const emptyFlow = (): Flow => [tab('t', 'empty')];

/** Settings for the core flow's function node (built-in `crypto` through `libs`). */
export const CORE_SETTINGS = { functionExternalModules: true };
