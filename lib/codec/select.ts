// Pure: which driver of a node's table decodes a device's uplink.
import { isDevEUI } from '../thingpark/mapping/document-types';

/** A row of the table: a model (`pro`, `pro/ver` or a ModelCfg) and/or a DevEUI range, and its driver. */
export interface DriverRule {
  model?: string;
  devEUIFrom?: string;
  devEUITo?: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The models an uplink names: `CustomerData.alr.pro`, `pro/ver`, and `ModelCfg`. */
export function modelsOf(uplink: Record<string, unknown>): string[] {
  const out: string[] = [];
  const alr =
    isRecord(uplink.CustomerData) && isRecord(uplink.CustomerData.alr) ? uplink.CustomerData.alr : undefined;
  if (alr && typeof alr.pro === 'string') {
    out.push(alr.pro);
    if (typeof alr.ver === 'string') out.push(`${alr.pro}/${alr.ver}`);
  }
  if (typeof uplink.ModelCfg === 'string' || typeof uplink.ModelCfg === 'number')
    out.push(String(uplink.ModelCfg));
  return out.map((m) => m.toUpperCase());
}

const hex = (s: string) => BigInt('0x' + s.replace(/[^0-9a-fA-F]/g, '').padStart(1, '0'));

/** Index of the first rule the uplink matches, or -1. A rule with a model and a range needs both. */
export function selectDriver(rules: DriverRule[], uplink: Record<string, unknown>): number {
  const models = modelsOf(uplink);
  const devEUI = isDevEUI(uplink.DevEUI) ? hex(uplink.DevEUI) : undefined;
  return rules.findIndex((r) => {
    const model = r.model?.trim();
    if (!model && !r.devEUIFrom && !r.devEUITo) return false;
    if (model && !models.includes(model.toUpperCase())) return false;
    if (r.devEUIFrom || r.devEUITo) {
      if (devEUI === undefined) return false;
      if (r.devEUIFrom && devEUI < hex(r.devEUIFrom)) return false;
      if (r.devEUITo && devEUI > hex(r.devEUITo)) return false;
    }
    return true;
  });
}
