/**
 * The status lines of one operation change, in one publish on its device's topic. Pure.
 *
 * The documented lifecycle is PENDING → EXECUTING → SUCCESSFUL/FAILED (c8y-docs, device integration,
 * "operation lifecycle"): an operation that never went EXECUTING (refused, rejected by ThingPark, timed
 * out before ThingPark took it) is set EXECUTING in the same publish before its FAILED. By id
 * (`504`/`505`/`506`) when the operation has one and the tenant knows those templates (Cumulocity 10.18
 * and later); otherwise by type on the oldest operation of that type (`501`/`502`/`503`), which is what
 * `s/ds` operations (no id) always use.
 */
import {
  oldestOperationExecuting,
  oldestOperationFailed,
  oldestOperationSuccessful,
  operationExecuting,
  operationFailed,
  operationSuccessful,
} from './operations';
import { smartRestTopic, type Publish } from './smartrest';

export type OperationStatus = 'EXECUTING' | 'SUCCESSFUL' | 'FAILED';

export interface StatusChange {
  /** Absent for `s/ds` operations. */
  operationId?: string;
  /** The device the operation names: a child id, or something else (then the gateway's topic). */
  externalId: string;
  /** The operation's fragment, for 501-503 (`c8y_Command`, `c8y_LoRaDownlink`). */
  fragment: string;
  /** The operation was never set EXECUTING. */
  pending: boolean;
  statuses: OperationStatus[];
  reason?: string;
  /** Result text of a successful `c8y_Command` (the Shell tab shows it). */
  result?: string;
}

const CHILD_ID_RE = /^[0-9a-f]{16}$/;

export function statusPublishes(change: StatusChange, byIdTemplates = true): Publish[] {
  const id = byIdTemplates ? change.operationId : undefined;
  const { fragment } = change;
  const results = change.result !== undefined ? [change.result] : [];
  const statuses =
    change.pending && change.statuses[0] !== 'EXECUTING'
      ? (['EXECUTING', ...change.statuses] as OperationStatus[])
      : change.statuses;
  const lines = statuses.map((status) => {
    if (status === 'EXECUTING')
      return id !== undefined ? operationExecuting(id) : oldestOperationExecuting(fragment);
    if (status === 'SUCCESSFUL')
      return id !== undefined
        ? operationSuccessful(id, ...results)
        : oldestOperationSuccessful(fragment, ...results);
    const reason = change.reason ?? 'failed';
    return id !== undefined ? operationFailed(id, reason) : oldestOperationFailed(reason, fragment);
  });
  const topic = CHILD_ID_RE.test(change.externalId) ? smartRestTopic(change.externalId) : smartRestTopic();
  return [{ topic, payload: lines.join('\n') }];
}
