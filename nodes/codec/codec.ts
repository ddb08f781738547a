// First: on a Node.js older than the package's floor, fail here with one line naming it.
import '../../lib/node-version/require-supported';
import {
  Codec,
  DEFAULT_TIMEOUT_MS,
  loadCodec,
  selectDriver,
  type CodecFormat,
  type CodecSource,
  type DriverRule,
} from '../../lib/codec';
import { registerExamplesEndpoint } from './examples-endpoint';
import { errorMessage, type Node, type NodeAPI, type NodeDef } from '../shared/red';

interface CodecDef extends NodeDef {
  action: 'decode' | 'encode';
  source: CodecSource;
  code: string;
  path: string;
  module: string;
  format: CodecFormat;
  timeout: number | string;
  /** Optional table: per device model or DevEUI range, its own driver (decode only). */
  drivers?: Array<
    DriverRule & { source?: CodecSource; code?: string; path?: string; module?: string; format?: CodecFormat }
  >;
}

type Msg = Record<string, unknown> & { payload?: unknown; thingpark?: Record<string, unknown> };
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

module.exports = function (RED: NodeAPI) {
  function ThingParkCodecNode(this: Node, config: CodecDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const timeoutMs = Number(config.timeout) > 0 ? Number(config.timeout) : DEFAULT_TIMEOUT_MS;
    const counts = { ok: 0, failed: 0, passed: 0 };
    const userDir = (RED.settings as { userDir?: string }).userDir;
    const table = config.action !== 'encode' && Array.isArray(config.drivers) ? config.drivers : [];
    // A table row's driver is loaded on its first device, then kept.
    const tableCodecs = new Map<number, Codec>();
    const tableCodec = (i: number): Codec => {
      let c = tableCodecs.get(i);
      if (!c) {
        const row = table[i];
        const loaded = loadCodec(row.source || 'inline', { ...row, userDir });
        c = new Codec(loaded.code, {
          format: row.format || 'auto',
          timeoutMs,
          contract: loaded.contract,
          iotflow: loaded.iotflow,
        });
        tableCodecs.set(i, c);
      }
      return c;
    };
    let codec: Codec | undefined;
    try {
      const loaded = loadCodec(config.source || 'inline', { ...config, userDir });
      codec = new Codec(loaded.code, {
        format: config.format || 'auto',
        timeoutMs,
        contract: loaded.contract,
        iotflow: loaded.iotflow,
      });
      codec.functions().then(
        () => node.status({ fill: 'green', shape: 'dot', text: RED._('thingpark-codec.status.ready') }),
        (err: unknown) => {
          node.status({ fill: 'red', shape: 'ring', text: RED._('thingpark-codec.status.not-loaded') });
          node.error(errorMessage(err), {});
        },
      );
    } catch (err) {
      node.status({ fill: 'red', shape: 'ring', text: RED._('thingpark-codec.status.not-loaded') });
      node.error(RED._('thingpark-codec.errors.load', { error: errorMessage(err) }), {});
    }

    const mainCodec = codec;
    const showCounts = () =>
      node.status({
        fill: counts.failed ? 'yellow' : 'green',
        shape: 'dot',
        text: RED._('thingpark-codec.status.counts', counts),
      });

    node.on('input', (msg: Msg, send: (m: Msg) => void, done: (err?: Error) => void) => {
      let use = codec;
      if (table.length) {
        const up =
          isRecord(msg.payload) && isRecord(msg.payload.DevEUI_uplink) ? msg.payload.DevEUI_uplink : {};
        const row = selectDriver(table, up);
        if (row < 0) {
          counts.passed++;
          showCounts();
          send(msg);
          done();
          return;
        }
        try {
          use = tableCodec(row);
        } catch (err) {
          counts.failed++;
          showCounts();
          done(new Error(RED._('thingpark-codec.errors.load', { error: errorMessage(err) })));
          return;
        }
      }
      if (!use) {
        done(new Error(RED._('thingpark-codec.errors.not-loaded')));
        return;
      }
      const work = config.action === 'encode' ? encode(use, msg) : decode(use, msg);
      work.then(
        (out) => {
          if (out) {
            counts.ok++;
            send(out);
          }
          showCounts();
          done();
        },
        (err: unknown) => {
          counts.failed++;
          showCounts();
          done(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });

    node.on('close', (_removed: boolean, closed: () => void) => {
      const all = [...tableCodecs.values(), ...(mainCodec ? [mainCodec] : [])];
      void Promise.all(all.map((c) => c.close())).then(() => closed());
    });
  }

  async function decode(codec: Codec, msg: Msg): Promise<Msg | undefined> {
    const doc = isRecord(msg.payload) ? msg.payload : undefined;
    const uplink = doc && isRecord(doc.DevEUI_uplink) ? doc.DevEUI_uplink : undefined;
    if (!uplink || typeof uplink.payload_hex !== 'string') {
      throw new Error(RED._('thingpark-codec.errors.no-uplink'));
    }
    const fPort = typeof uplink.FPort === 'number' ? uplink.FPort : Number(uplink.FPort) || undefined;
    const time = typeof uplink.Time === 'string' ? uplink.Time : undefined;
    const decoded = await codec.decodeUplink(uplink.payload_hex, fPort, time);
    const payload = {
      ...doc,
      DevEUI_uplink: { ...uplink, payload: decoded.payload, points: decoded.points },
    };
    const thingpark = {
      ...(msg.thingpark ?? {}),
      codec: { warnings: decoded.warnings, errors: decoded.errors },
    };
    return { ...msg, payload, thingpark };
  }

  async function encode(codec: Codec, msg: Msg): Promise<Msg | undefined> {
    const p = isRecord(msg.payload) ? msg.payload : {};
    const down = isRecord(p.DevEUI_downlink) ? p.DevEUI_downlink : undefined;
    const value = down ? down.payload : (p.data ?? p.message);
    const devEUI = down ? down.DevEUI : p.DevEUI;
    if (value === undefined || typeof devEUI !== 'string')
      throw new Error(RED._('thingpark-codec.errors.no-downlink'));
    const fPortIn = Number(down ? down.FPort : p.fPort) || undefined;
    const encoded = await codec.encodeDownlink(value, fPortIn);
    if (encoded.fPort === undefined) throw new Error(RED._('thingpark-codec.errors.no-fport'));
    const rest = { ...(down ?? {}) };
    delete rest.payload;
    const DevEUI_downlink = {
      ...rest,
      DevEUI: devEUI,
      FPort: encoded.fPort,
      payload_hex: encoded.payload_hex,
    };
    const thingpark = {
      ...(msg.thingpark ?? {}),
      codec: { warnings: encoded.warnings, errors: encoded.errors },
    };
    return { ...msg, payload: { DevEUI_downlink }, thingpark };
  }

  RED.nodes.registerType('thingpark-codec', ThingParkCodecNode as never);
  registerExamplesEndpoint(RED);
};
