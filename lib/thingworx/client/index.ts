/**
 * ThingWorx AlwaysOn client (no Node-RED inside): one connection (`AlwaysOnClient`), a pool of `pipeCount`
 * connections with each Thing on one pipe (`PipePool`), provisioning over AlwaysOn (`ThingProvisioner`), and the
 * error classification (`AlwaysOnClientError`, `isRetryable`).
 */
export * from './errors';
export * from './hash';
export * from './client';
export * from './pipes';
export * from './provisioning';
