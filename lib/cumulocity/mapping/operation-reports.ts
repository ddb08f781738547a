/** Downlink reports: DevEUI_downlink_Sent / _Rejected as the `505` / `506` that close an operation. Pure. */
import { MappingError } from '../errors';
import { describe, device, numberValue, pack, text } from './fields';
import { operationFailed } from './operations';
import { buildLine, smartRestTopic } from './smartrest';
import type { Body, Context, MapResult, OperationLookup, OperationOutcome } from './types';

/**
 * Over-the-air failure causes per slot (actility/tpx-iot-flow-doc `docs/Message/Downlink_Message`, table
 * of DeliveryFailedCause1/2/3). `00` means no error on that slot.
 */
const COMMON_CAUSES: Readonly<Record<string, string>> = {
  A0: 'Radio stopped',
  A1: 'Downlink radio stopped',
  A2: 'Ping slot not available',
  A3: 'Radio busy',
  A4: 'Listen before talk',
  A5: 'Radio board error',
  B0: 'Too late',
  C0: 'LRC selected RX2',
  D0: 'Duty cycle constraint detected by LRR',
  DA: 'Duty cycle constraint detected by LRC',
  DB: 'Max dwell time constraint detected by the LRC',
  DC: 'No GPS-synchronized LRR detected by the LRC',
  DD: 'No LRR connected detected by the LRC',
  DE: 'DC not allowed by the peering operator',
  DF: 'Wrong NetID',
  E0: 'Max delay for Class C (60 seconds)',
};
const SLOTS: readonly { field: string; slot: string; overrides: Readonly<Record<string, string>> }[] = [
  { field: 'DeliveryFailedCause1', slot: 'RX1', overrides: { B0: 'Too late for RX1' } },
  { field: 'DeliveryFailedCause2', slot: 'RX2', overrides: { B0: 'Too late for RX2' } },
  { field: 'DeliveryFailedCause3', slot: 'ping slot', overrides: { B0: 'Too late for ping slot' } },
];

/** Human reason for a DevEUI_downlink_Sent with DeliveryStatus 0, e.g. `Not sent over the air (RX1: B0 Too late for RX1)`. */
export function deliveryFailureReason(body: Body): string {
  const causes: string[] = [];
  for (const { field, slot, overrides } of SLOTS) {
    const code = text(body[field])?.trim().toUpperCase();
    if (code === undefined || code === '' || code === '00') continue;
    const meaning = overrides[code] ?? COMMON_CAUSES[code];
    causes.push(`${slot}: ${code}${meaning ? ` ${meaning}` : ''}`);
  }
  return causes.length ? `Not sent over the air (${causes.join('; ')})` : 'Not sent over the air';
}

export function mapDownlinkReport(body: Body, ctx: Context): MapResult {
  const { childId } = device(body, ctx);
  const correlationId = text(body.CorrelationID);
  if (correlationId === undefined || correlationId.trim() === '') {
    return {
      documentType: ctx.type,
      childId,
      publishes: [],
      skipped: 'no CorrelationID',
      warnings: ctx.warnings,
    };
  }
  const operationId = lookupOperation(ctx.options.operationFor, correlationId);
  if (operationId === undefined) {
    return {
      documentType: ctx.type,
      childId,
      publishes: [],
      skipped: `no operation known for CorrelationID ${correlationId}`,
      warnings: ctx.warnings,
    };
  }
  let outcome: OperationOutcome;
  if (ctx.type === 'DevEUI_downlink_Rejected') {
    const cause = text(body.DownlinkRejectionCause);
    outcome = {
      operationId,
      correlationId,
      status: 'FAILED',
      reason: cause ? `Rejected by ThingPark: ${cause}` : 'Rejected by ThingPark',
    };
  } else {
    const status = numberValue(body.DeliveryStatus);
    if (status === 1) {
      const fCnt = text(body.FCntDn);
      outcome = {
        operationId,
        correlationId,
        status: 'SUCCESSFUL',
        result: `sent by ThingPark${fCnt !== undefined ? `, FCntDn ${fCnt}` : ''}`,
      };
    } else if (status === 0) {
      outcome = { operationId, correlationId, status: 'FAILED', reason: deliveryFailureReason(body) };
    } else {
      throw new MappingError(
        'invalid-field',
        `DeliveryStatus ${describe(body.DeliveryStatus)} (expected 0 or 1)`,
        ctx.type,
      );
    }
  }
  const line =
    outcome.status === 'SUCCESSFUL'
      ? buildLine(506, [operationId])
      : operationFailed(operationId, outcome.reason ?? 'failed');
  return {
    documentType: ctx.type,
    childId,
    publishes: pack(smartRestTopic(childId), [line], ctx),
    operation: outcome,
    warnings: ctx.warnings,
  };
}

function lookupOperation(lookup: OperationLookup | undefined, correlationId: string): string | undefined {
  if (!lookup) return undefined;
  const candidates = [correlationId, correlationId.toUpperCase(), correlationId.toLowerCase()];
  for (const key of candidates) {
    let found: unknown;
    if (typeof lookup === 'function') found = lookup(key);
    else if (lookup instanceof Map) found = lookup.get(key);
    else found = Object.hasOwn(lookup, key) ? (lookup as Record<string, unknown>)[key] : undefined;
    if (typeof found === 'string' && found !== '') return found;
    if (typeof found === 'number' && Number.isFinite(found)) return String(found);
  }
  return undefined;
}
