/**
 * ThingWorx: everything the package needs to deliver ThingPark documents to ThingWorx Things and take downlinks
 * from them, over AlwaysOn. The folder owns
 * - `alwayson/`: the AlwaysOn codec (header, base types, InfoTables, message bodies, multipart), pure;
 * - `transport/`: the AlwaysOn sockets (session, reconnect, binds, requests both ways, the pipe pool);
 * - `mapping/`: ThingPark documents to Thing properties and property writes to downlink requests, pure;
 * - `provisioning/`: our ThingTemplate and Things on the platform (create, list);
 * - `subscriptions/`: each Thing's subscription settings as the platform sets them (edge names, push types);
 * - `thingworx-client.ts`: the PlatformClient that wires them to the delivery queue.
 * Everything outside this folder imports it through this file.
 */
export * from './alwayson';
export * from './transport';
export * from './mapping/thing-mapping';
export * from './mapping/subscriptions';
export * from './provisioning/provisioner';
export { checkAlwaysOnConnection, classifyAlwaysOnError } from './transport/check';
export * from './options';
export { ThingWorxClient } from './thingworx-client';
