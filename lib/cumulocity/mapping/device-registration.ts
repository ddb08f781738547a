/**
 * Gateway and child-device registration with Cumulocity's static SmartREST templates, and the allocation
 * of children to gateway identities.
 *
 * Templates (c8y-docs `content/smartrest/mqtt-static-templates.md`): `100,name,type` device creation,
 * `101,uniqueChildId,childName,childType` child creation, `110,serialNumber,model,revision` hardware,
 * `111,IMEI,ICCID,IMSI,…` mobile, `114,op1,op2,…` supported operations, `117,minutes` required
 * availability interval. Data for a child goes to `s/us/<childId>` (implementation.md, "Device
 * hierarchies").
 *
 * Child id = the DevEUI in LOWER case. The open LoRa framework (`Cumulocity-IoT/cumulocity-lora`,
 * `LNSDeviceService.java`: `devEui.toLowerCase()`, external id type `c8y_Serial`) identifies LoRa devices
 * the same way, so one tenant never gets two managed objects for one device, whichever integration saw
 * it first. External ids are case-sensitive, so one fixed case is required; ThingPark sends DevEUIs in
 * upper case, hence the conversion. The hardware serial number (`110`) keeps the DevEUI as ThingPark
 * shows it (upper case), since that is what people search for.
 *
 * More than 1000 children ("soft limit: 1000 children per managed object", reference/cumulocity.md): the
 * children are spread over several gateway identities `<id>`, `<id>-2`, `<id>-3`…, each with at most
 * `maxChildren` (default 1000). Each identity is its own MQTT client id / device, so the caller keeps one
 * MQTT connection per identity in use and sends a child's messages on its gateway's connection.
 */
import { isDevEUI } from '../../thingpark/mapping/document-types';
import { RegistrationError } from '../errors';
import { buildLine, smartRestTopic, type Publish } from './smartrest';

export const DEFAULT_MAX_CHILDREN = 1000;
/** Operations every child declares with `114`: shell-style commands and our structured downlink. */
export const DEFAULT_SUPPORTED_OPERATIONS: readonly string[] = ['c8y_Command', 'c8y_LoRaDownlink'];
export const DEFAULT_GATEWAY_TYPE = 'c8y_ThingParkGateway';
export const DEFAULT_GATEWAY_INTERVAL_MINUTES = 60;
export const DEFAULT_CHILD_INTERVAL_MINUTES = 1440;
export const LORA_CHILD_TYPE = 'c8y_ThingParkLoRaDevice';
export const CELLULAR_CHILD_TYPE = 'c8y_ThingParkCellularDevice';

const CHILD_ID_RE = /^[0-9a-f]{16}$/;

/** The Cumulocity child id (and `c8y_Serial` external id) of a device: its DevEUI in lower case. */
export function childIdFor(devEUI: string): string {
  if (!isDevEUI(devEUI)) {
    throw new RegistrationError('invalid-id', `not a DevEUI (16 hex digits): ${JSON.stringify(devEUI)}`);
  }
  return devEUI.toLowerCase();
}

/** The DevEUI (upper case, as ThingPark writes it) behind a child id, or undefined if it is not one of ours. */
export function devEUIFromChildId(childId: string): string | undefined {
  return typeof childId === 'string' && CHILD_ID_RE.test(childId) ? childId.toUpperCase() : undefined;
}

/**
 * The MQTT client id / `c8y_Serial` of gateway identity number `index` (0-based): `<baseId>` for 0,
 * `<baseId>-2`, `<baseId>-3`… after. A client id must not contain `:` (implementation.md, "MQTT ClientId").
 */
export function gatewayIdentity(baseId: string, index: number): string {
  assertGatewayId(baseId);
  if (!Number.isInteger(index) || index < 0) {
    throw new RegistrationError('invalid-option', `gateway index ${index}`);
  }
  return index === 0 ? baseId : `${baseId}-${index + 1}`;
}

/** Display name of gateway identity number `index`: `<name>` for 0, then `<name> (2)`, `<name> (3)`… */
export function gatewayDisplayName(name: string, index: number): string {
  if (!Number.isInteger(index) || index < 0) {
    throw new RegistrationError('invalid-option', `gateway index ${index}`);
  }
  return index === 0 ? name : `${name} (${index + 1})`;
}

export function assertGatewayId(id: string): void {
  if (typeof id !== 'string' || id === '' || /[:/+#,"\s]/.test(id) || id.includes('\0')) {
    throw new RegistrationError(
      'invalid-id',
      `gateway id must be non-empty without ':', '/', '+', '#', ',', '"' or whitespace: ${JSON.stringify(id)}`,
    );
  }
}

function interval(minutes: number | undefined, fallback: number): number {
  const value = minutes ?? fallback;
  if (!Number.isInteger(value) || value < -1) {
    throw new RegistrationError('invalid-option', `required interval must be an integer (minutes): ${value}`);
  }
  return value;
}

export interface GatewayStartupOptions {
  /** Device name shown in Cumulocity. */
  name: string;
  /** Device type (default `c8y_ThingParkGateway`). */
  type?: string;
  /** `117` required availability interval in minutes (default 60). */
  requiredIntervalMinutes?: number;
  /** `122,name,version,url,maintainer`: the software acting as agent (c8y_Agent). */
  agent?: { name: string; version: string; url?: string; maintainer?: string };
  /** `110,serial,model,revision` of the gateway itself. */
  hardware?: { serial: string; model?: string; revision?: string };
}

/**
 * What a gateway identity sends on `s/us` right after connecting, in one publish: `100,<name>,<type>`,
 * `117,<minutes>`, `122` (agent) and `110` (hardware) when given, then `500`: the platform answers it
 * with every operation still PENDING, so one created while we were away is not missed (thin-edge sends
 * 500 on every connect too; operations already handed over are recognised by their id). For identity
 * number 2 and up, name it with gatewayDisplayName.
 */
export function gatewayStartup(options: GatewayStartupOptions): Publish[] {
  const lines = [
    buildLine(100, [options.name, options.type ?? DEFAULT_GATEWAY_TYPE]),
    buildLine(117, [interval(options.requiredIntervalMinutes, DEFAULT_GATEWAY_INTERVAL_MINUTES)]),
  ];
  const { agent, hardware } = options;
  if (agent) {
    lines.push(
      buildLine(122, [agent.name, agent.version, agent.url, agent.maintainer], { trimTrailingEmpty: true }),
    );
  }
  if (hardware) {
    lines.push(
      buildLine(110, [hardware.serial, hardware.model, hardware.revision], { trimTrailingEmpty: true }),
    );
  }
  lines.push(PENDING_OPERATIONS);
  return [{ topic: smartRestTopic(), payload: lines.join('\n') }];
}

/** `500`: asks for the operations still PENDING (answered on `devicecontrol/notifications` and `s/ds`). */
export const PENDING_OPERATIONS = '500';
/** `125`: heartbeat, keeps a device that sends no data of its own available. */
export const HEARTBEAT = '125';
/** `105`: asks for the device's children (answered `106,<child>,…` on `s/ds`). */
export const CHILD_LIST_REQUEST = '105';
/**
 * The MQTT last will (c8y-docs, mqtt-bundle/implementation.md, "MQTT last will": its example, and "the
 * execution of the last will updates the device availability"): an event on the gateway when its
 * connection is lost without a DISCONNECT.
 */
export const LAST_WILL = { topic: 's/us', payload: '400,c8y_ConnectionEvent,"Device connection was lost."' };

export interface ChildDevice {
  devEUI: string;
  connectivity?: 'LORAWAN' | 'CELLULAR';
  /** Default `LoRa <DEVEUI>` or `Cellular <DEVEUI>`. */
  name?: string;
  /** Default `c8y_ThingParkLoRaDevice` / `c8y_ThingParkCellularDevice`. */
  type?: string;
  model?: string;
  revision?: string;
  imei?: string;
  iccid?: string;
  imsi?: string;
  /** `117` in minutes (default 1440). */
  requiredIntervalMinutes?: number;
  /** `114` list (default c8y_Command, c8y_LoRaDownlink). */
  supportedOperations?: readonly string[];
}

/** `114,<op>,<op>…`: the child's supported operations. */
export function supportedOperationsLine(
  operations: readonly string[] = DEFAULT_SUPPORTED_OPERATIONS,
): string {
  for (const op of operations) {
    if (typeof op !== 'string' || !/^[A-Za-z0-9_]+$/.test(op)) {
      throw new RegistrationError('invalid-option', `operation name ${JSON.stringify(op)}`);
    }
  }
  return buildLine(114, operations);
}

/**
 * Registers one child: `101,<childId>,<name>,<type>` on the gateway's `s/us`, then on `s/us/<childId>`
 * one publish with `110,<DEVEUI>,<model>,<revision>`, `111,<imei>,<iccid>,<imsi>` (only when an IMEI is
 * known: cellular), `114,…` and `117,<minutes>`. The `110` is sent for cellular devices too (ThingPark
 * gives them an EUI); `111` fills `c8y_Mobile` on top of it rather than replacing it.
 */
export function childRegistration(child: ChildDevice): Publish[] {
  const childId = childIdFor(child.devEUI);
  const devEUI = child.devEUI.toUpperCase();
  const cellular = child.connectivity === 'CELLULAR' || (child.connectivity === undefined && !!child.imei);
  const name = child.name ?? `${cellular ? 'Cellular' : 'LoRa'} ${devEUI}`;
  const type = child.type ?? (cellular ? CELLULAR_CHILD_TYPE : LORA_CHILD_TYPE);
  const childLines: string[] = [
    buildLine(110, [devEUI, child.model, child.revision], { trimTrailingEmpty: true }),
  ];
  if (child.imei) {
    childLines.push(buildLine(111, [child.imei, child.iccid, child.imsi], { trimTrailingEmpty: true }));
  }
  childLines.push(supportedOperationsLine(child.supportedOperations));
  childLines.push(buildLine(117, [interval(child.requiredIntervalMinutes, DEFAULT_CHILD_INTERVAL_MINUTES)]));
  return [
    { topic: smartRestTopic(), payload: buildLine(101, [childId, name, type]) },
    { topic: smartRestTopic(childId), payload: childLines.join('\n') },
  ];
}

/**
 * "Re-send 114 at every start": one `114` publish per known child, on `s/us/<childId>` (a topic names
 * one device, so children cannot share a publish).
 */
export function supportedOperationsRefresh(
  childIds: Iterable<string>,
  operations: readonly string[] = DEFAULT_SUPPORTED_OPERATIONS,
): Publish[] {
  const line = supportedOperationsLine(operations);
  const publishes: Publish[] = [];
  for (const childId of childIds) publishes.push({ topic: smartRestTopic(childId), payload: line });
  return publishes;
}

/** What a ThingPark document tells about a device for its registration (name, connectivity, SIM ids). */
export function childDeviceFromDocument(body: Readonly<Record<string, unknown>>): ChildDevice {
  const devEUI = body.DevEUI;
  if (typeof devEUI !== 'string') throw new RegistrationError('invalid-id', 'document without a DevEUI');
  childIdFor(devEUI);
  const text = (v: unknown): string | undefined =>
    typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
  const imei = text(body.IMEI);
  const imsi = text(body.IMSI);
  const iccid = text(body.ICCID);
  const loraRadio = ['LrrRSSI', 'LrrSNR', 'SpFact', 'Lrrid', 'Lrrs', 'DevAddr'].some((k) => k in body);
  const customer = body.CustomerData;
  const customerName =
    customer && typeof customer === 'object' ? text((customer as Record<string, unknown>).name) : undefined;
  const device: ChildDevice = {
    devEUI,
    connectivity: !loraRadio && (imei || imsi || iccid) ? 'CELLULAR' : 'LORAWAN',
  };
  if (customerName) device.name = customerName;
  if (imei) device.imei = imei;
  if (iccid) device.iccid = iccid;
  if (imsi) device.imsi = imsi;
  return device;
}

/* ------------------------------------------------------------------------------------------------ */
/* Allocation of children to gateway identities                                                      */
/* ------------------------------------------------------------------------------------------------ */

/**
 * Which gateway identity (0-based index) each child belongs to. JSON-serialisable: persist it as is and
 * load it back with restoreAllocation. Treated as immutable: functions return a new state.
 */
export interface AllocationState {
  readonly assignments: Readonly<Record<string, number>>;
  /** Number of children per gateway index (derived from assignments, kept for speed). */
  readonly counts: readonly number[];
}

export interface AllocationOptions {
  /** Max children per gateway identity (default 1000). */
  maxChildren?: number;
}

export interface Allocation {
  state: AllocationState;
  childId: string;
  gatewayIndex: number;
  /** The child was not known: register it (101…) on its gateway. */
  isNewChild: boolean;
  /** The gateway identity had no child before: connect it and send its startup lines first. */
  isNewGateway: boolean;
}

export function emptyAllocation(): AllocationState {
  return { assignments: {}, counts: [] };
}

function maxChildrenOf(options: AllocationOptions): number {
  const max = options.maxChildren ?? DEFAULT_MAX_CHILDREN;
  if (!Number.isInteger(max) || max < 1) throw new RegistrationError('invalid-option', `maxChildren ${max}`);
  return max;
}

function assertChildId(childId: string): void {
  if (typeof childId !== 'string' || !CHILD_ID_RE.test(childId)) {
    throw new RegistrationError(
      'invalid-id',
      `not a child id (lower-case DevEUI): ${JSON.stringify(childId)}`,
    );
  }
}

function placeChild(counts: number[], max: number): number {
  const index = counts.findIndex((count) => count < max);
  return index >= 0 ? index : counts.length;
}

/** An allocation owned by one holder, which lets allocateChildInPlace change it. */
export interface MutableAllocationState {
  assignments: Record<string, number>;
  counts: number[];
}

/** Gives a child not in `state` its identity, changing `state`. */
function place(state: MutableAllocationState, childId: string, max: number): Omit<Allocation, 'state'> {
  const { assignments, counts } = state;
  const gatewayIndex = placeChild(counts, max);
  const isNewGateway = gatewayIndex >= counts.length || counts[gatewayIndex] === 0;
  while (counts.length <= gatewayIndex) counts.push(0);
  counts[gatewayIndex]++;
  assignments[childId] = gatewayIndex;
  return { childId, gatewayIndex, isNewChild: true, isNewGateway };
}

/**
 * Assigns a child to a gateway identity, deterministically from the order children are first seen: a new
 * child goes to the lowest-index identity with fewer than `maxChildren` children (so `<id>` fills up
 * first, then `<id>-2`…). A known child keeps its identity, even if `maxChildren` changed since.
 * Returns the same state object when nothing changed.
 */
export function allocateChild(
  state: AllocationState,
  childId: string,
  options: AllocationOptions = {},
): Allocation {
  return allocateChildren(state, [childId], options).allocations[0];
}

/** allocateChild for many children at once, copying the state once (use it for large first imports). */
export function allocateChildren(
  state: AllocationState,
  childIds: readonly string[],
  options: AllocationOptions = {},
): { state: AllocationState; allocations: Allocation[] } {
  const max = maxChildrenOf(options);
  let copy: MutableAllocationState | undefined;
  const pending: Omit<Allocation, 'state'>[] = [];
  for (const childId of childIds) {
    assertChildId(childId);
    const current = copy?.assignments ?? state.assignments;
    if (Object.hasOwn(current, childId)) {
      pending.push({ childId, gatewayIndex: current[childId], isNewChild: false, isNewGateway: false });
      continue;
    }
    copy ??= { assignments: { ...state.assignments }, counts: [...state.counts] };
    pending.push(place(copy, childId, max));
  }
  const next: AllocationState = copy ?? state;
  return { state: next, allocations: pending.map((a) => ({ ...a, state: next })) };
}

/**
 * allocateChild for the holder of a state (the child registry): the same rule, but `state` is changed in
 * place instead of copied, so a new child costs O(identities), not O(children).
 */
export function allocateChildInPlace(
  state: MutableAllocationState,
  childId: string,
  options: AllocationOptions = {},
): Allocation {
  const max = maxChildrenOf(options);
  assertChildId(childId);
  const allocation = Object.hasOwn(state.assignments, childId)
    ? { childId, gatewayIndex: state.assignments[childId], isNewChild: false, isNewGateway: false }
    : place(state, childId, max);
  return { ...allocation, state };
}

/** Frees a child's slot (device deleted). The slot is reused by the next new child. */
export function releaseChild(state: AllocationState, childId: string): AllocationState {
  if (!Object.hasOwn(state.assignments, childId)) return state;
  const assignments = { ...state.assignments };
  const index = assignments[childId];
  delete assignments[childId];
  const counts = [...state.counts];
  counts[index]--;
  return { assignments, counts };
}

/** The gateway index of a known child, or undefined. */
export function gatewayIndexOf(state: AllocationState, childId: string): number | undefined {
  return Object.hasOwn(state.assignments, childId) ? state.assignments[childId] : undefined;
}

/** The children of one gateway identity, sorted (e.g. for the 114 refresh on that identity's connection). */
export function childrenOf(state: AllocationState, gatewayIndex: number): string[] {
  return Object.keys(state.assignments)
    .filter((childId) => state.assignments[childId] === gatewayIndex)
    .sort();
}

/** Validates persisted state (untrusted JSON) and rebuilds the counts from the assignments (new objects). */
export function restoreAllocation(value: unknown): MutableAllocationState {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new RegistrationError('invalid-state', 'allocation state must be an object');
  }
  const raw = (value as { assignments?: unknown }).assignments;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new RegistrationError('invalid-state', 'allocation state has no assignments object');
  }
  const assignments: Record<string, number> = {};
  const counts: number[] = [];
  for (const [childId, index] of Object.entries(raw as Record<string, unknown>)) {
    if (!CHILD_ID_RE.test(childId)) throw new RegistrationError('invalid-state', `child id ${childId}`);
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 1_000_000) {
      throw new RegistrationError('invalid-state', `gateway index of ${childId}: ${String(index)}`);
    }
    assignments[childId] = index;
    while (counts.length <= index) counts.push(0);
    counts[index]++;
  }
  return { assignments, counts };
}
