import * as v8 from 'v8';
import * as vm from 'vm';
import {
  HISTORY_MINUTES,
  LastSeenDevices,
  MAX_DEVICES,
  MinuteHistory,
  UPLINKS_KEPT,
} from '../../lib/monitor';

/** Connections (and networks) whose per-minute history is filled for the measure: a large gateway. */
export const CEILING_CONNECTIONS = 20;

/**
 * What the sidebar's history holds at its ceiling, measured in this process as heap + array buffers
 * after a full GC: the last-seen devices full (MAX_DEVICES devices, each with UPLINKS_KEPT uplinks and
 * every text field at its longest), and an hour of per-minute history for CEILING_CONNECTIONS connections.
 * Kept alive until measured; bytes.
 */
export function monitorCeilingBytes(): number {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const used = () => {
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const long = (prefix: string, n: number) => `${prefix}-${n}-`.padEnd(64, 'x');
  const before = used();
  const devices = new LastSeenDevices();
  const t0 = Date.now();
  // Twice the devices it keeps, each seen UPLINKS_KEPT + 5 times: the oldest are forgotten, rings wrap.
  for (let round = 0; round < UPLINKS_KEPT + 5; round++)
    for (let i = 0; i < MAX_DEVICES * 2; i++)
      devices.record(
        long('network', round),
        {
          devEUI: i.toString(16).padStart(16, '0'),
          time: long('2026-12-03T08:00:00.000Z', round),
          type: 'DevEUI_uplink',
          connectivity: long('LORAWAN', round),
          rssi: -80 - (i % 40),
          snr: 7.5,
        },
        t0 + round * 1000 + i,
      );
  const histories: MinuteHistory[] = [];
  for (let c = 0; c < CEILING_CONNECTIONS; c++) {
    const h = new MinuteHistory();
    for (let m = 0; m < HISTORY_MINUTES * 2; m++) h.sample(t0 + m * 60000, m, m * 100);
    histories.push(h);
  }
  const bytes = used() - before;
  if (devices.size !== MAX_DEVICES || histories.length !== CEILING_CONNECTIONS)
    throw new Error('monitor ceiling: the history was not filled');
  return bytes;
}
