/**
 * Monitoring: what the ThingPark sidebar and /thingpark/metrics show, kept in fixed memory. Per-minute
 * histories of the last hour, the last-seen devices with their radio figures, the snapshots the admin
 * endpoints answer with (never a credential), and the Prometheus text format. Knows nothing of Node-RED.
 */
export { HISTORY_MINUTES, MinuteHistory, type MinutePoint } from './minute-history';
export {
  LastSeenDevices,
  MAX_DEVICES,
  UPLINKS_KEPT,
  type DeviceSighting,
  type DeviceView,
  type UplinkSample,
} from './last-seen';
export { scrub, type ConnectionSnapshot, type NetworkSnapshot } from './snapshot';
export {
  escapeLabel,
  monitorFamilies,
  renderPrometheus,
  type MetricFamily,
  type MetricSample,
} from './prometheus';
