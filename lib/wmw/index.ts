/**
 * WMW, without Node-RED: `mapping/` turns ThingPark documents into what WMW takes (the document
 * itself) and WMW's downlink messages into downlink requests, pure; `transport/` is the MQTT side
 * (regions, broker URL, topics `uplink_<id>` / `downlink_<id>`, the connection check);
 * `wmw-client.ts` is the one PlatformClient, wiring the two to the delivery queue. WMW keeps no
 * state on disk beyond the queue.
 */
export { wmwBody, type WmwBody } from './mapping/uplink';
export { wmwDownlink, type WmwMessageRef } from './mapping/downlink';
export {
  checkWmwConnection,
  downlinkTopic,
  uplinkTopic,
  wmwBrokerUrl,
  wmwTarget,
  WMW_PORT,
  WMW_REGIONS,
  WMW_TIMEOUT_MS,
  type WmwOptions,
} from './transport/wmw-mqtt';
export { WmwClient } from './wmw-client';
