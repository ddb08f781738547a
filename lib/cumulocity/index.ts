/**
 * Cumulocity: a gateway over Core MQTT with one child device per ThingPark device. This folder owns the
 * SmartREST/JSON mapping of ThingPark documents and operations (mapping/, pure), the gateway identities'
 * MQTT connections (transport/), the operation lifecycle (operation-desk.ts), the child registry and
 * operation store on disk (state/) and the one PlatformClient that wires them to the delivery queue
 * (cumulocity-client.ts). Nodes, tests elsewhere and the bench import it only through this file.
 */
export * from './errors';
export * from './options';
export * from './mapping/smartrest';
export * from './mapping/device-registration';
export * from './mapping/mapper';
export * from './mapping/operations';
export * from './mapping/prepare-document';
export * from './mapping/operation-status';
export { PAIRING_WINDOW_MS } from './operation-desk';
export {
  checkCumulocityConnection,
  CUMULOCITY_PORT,
  cumulocityBrokerUrl,
  cumulocityMqttUser,
} from './transport/endpoint';
export { ERROR_TOPICS, NOTIFICATIONS_TOPIC, SMARTREST_DOWN_TOPIC } from './transport/gateway-connections';
export { CumulocityClient } from './cumulocity-client';
