import { SlotMap } from '../collections';

export const MAX_DEVICES = 1000;
export const UPLINKS_KEPT = 20;

export interface UplinkSample {
  /** ms since the epoch, as received. */
  t: number;
  rssi: number | null;
  snr: number | null;
}

export interface DeviceSighting {
  devEUI: string;
  /** The document's own time (ISO), or the time of reception. */
  time: string;
  type: string;
  connectivity: string;
  /** LrrRSSI / LrrSNR of the document as given: anything but a finite number counts as none. */
  rssi: unknown;
  snr: unknown;
}

export interface DeviceView extends Omit<DeviceSighting, 'rssi' | 'snr'> {
  rssi: number | null;
  snr: number | null;
  network: string;
  /** ms since the epoch, as received. */
  seenAt: number;
  /** The last uplinks with radio figures, oldest first (at most UPLINKS_KEPT). */
  uplinks: UplinkSample[];
}

/** The most text kept of a field, so a hostile document cannot make an entry big. */
const MAX_TEXT = 64;

interface Entry {
  view: Omit<DeviceView, 'uplinks'>;
  /** Ring of [t, rssi, snr] triples; NaN stands for "not given". */
  ring: Float64Array;
  next: number;
  size: number;
  /** Neighbours in the order of sightings (older, newer). */
  older: Entry | null;
  newer: Entry | null;
}

/**
 * The devices seen most recently, newest last: at most `maxDevices`, each with its last `uplinksKept`
 * radio figures in a fixed array. Ceiling with the default bounds: about 1.2 MiB with short texts (see
 * test/monitor/monitor.test.ts), about 1.6 MB with every text at its bound (bench idle figure).
 */
export class LastSeenDevices {
  // Each uplink moves its device to the newest end. A Map kept in that order (delete, then set) rehashed
  // its table every thousand uplinks and kept what it held from dying young (lib/collections/slot-map.ts):
  // a SlotMap finds the entry, a list through the entries keeps the order.
  private readonly devices = new SlotMap<string, Entry>();
  private oldest: Entry | null = null;
  private newest: Entry | null = null;

  constructor(
    readonly maxDevices = MAX_DEVICES,
    readonly uplinksKept = UPLINKS_KEPT,
  ) {}

  get size(): number {
    return this.devices.size;
  }

  record(network: string, seen: DeviceSighting, now = Date.now()): void {
    const devEUI = seen.devEUI.slice(0, MAX_TEXT).toUpperCase();
    let entry = this.devices.get(devEUI);
    if (entry) this.unlink(entry);
    else {
      if (this.devices.size >= this.maxDevices && this.oldest) {
        this.devices.delete(this.oldest.view.devEUI);
        this.unlink(this.oldest);
      }
      const view = {
        devEUI,
        network: '',
        time: '',
        type: '',
        connectivity: '',
        rssi: null,
        snr: null,
        seenAt: 0,
      };
      entry = {
        view,
        ring: new Float64Array(this.uplinksKept * 3),
        next: 0,
        size: 0,
        older: null,
        newer: null,
      };
      this.devices.set(devEUI, entry);
    }
    // Changed in place: a new object per uplink would outlive the young generation (a device's next
    // uplink may come much later) and cost the old generation's collections; `list` hands out copies.
    const view = entry.view;
    view.network = network.slice(0, MAX_TEXT);
    view.time = String(seen.time).slice(0, MAX_TEXT);
    view.type = String(seen.type).slice(0, MAX_TEXT);
    view.connectivity = String(seen.connectivity).slice(0, MAX_TEXT);
    view.rssi = finite(seen.rssi);
    view.snr = finite(seen.snr);
    view.seenAt = now;
    if (seen.type === 'DevEUI_uplink') {
      const at = entry.next * 3;
      entry.ring[at] = now;
      entry.ring[at + 1] = finite(seen.rssi) ?? NaN;
      entry.ring[at + 2] = finite(seen.snr) ?? NaN;
      entry.next = (entry.next + 1) % this.uplinksKept;
      entry.size = Math.min(entry.size + 1, this.uplinksKept);
    }
    this.append(entry);
  }

  /** Devices whose DevEUI contains `filter` (any case), newest first, at most `limit`. */
  list(filter = '', limit = this.maxDevices): { total: number; devices: DeviceView[] } {
    const wanted = filter.trim().toUpperCase();
    const out: DeviceView[] = [];
    for (let e = this.newest; e && out.length < limit; e = e.older) {
      if (wanted && !e.view.devEUI.includes(wanted)) continue;
      out.push({ ...e.view, uplinks: uplinksOf(e, this.uplinksKept) });
    }
    return { total: this.devices.size, devices: out };
  }

  clear(): void {
    this.devices.clear();
    this.oldest = this.newest = null;
  }

  private unlink(e: Entry): void {
    if (e.older) e.older.newer = e.newer;
    else this.oldest = e.newer;
    if (e.newer) e.newer.older = e.older;
    else this.newest = e.older;
    e.older = e.newer = null;
  }

  private append(e: Entry): void {
    e.older = this.newest;
    if (this.newest) this.newest.newer = e;
    else this.oldest = e;
    this.newest = e;
  }
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function uplinksOf(e: Entry, kept: number): UplinkSample[] {
  const out: UplinkSample[] = [];
  for (let k = e.size; k > 0; k--) {
    const at = ((e.next - k + kept) % kept) * 3;
    const [t, rssi, snr] = [e.ring[at], e.ring[at + 1], e.ring[at + 2]];
    out.push({ t, rssi: Number.isNaN(rssi) ? null : rssi, snr: Number.isNaN(snr) ? null : snr });
  }
  return out;
}
