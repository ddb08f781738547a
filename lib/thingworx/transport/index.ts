/**
 * The AlwaysOn connection (no Node-RED inside): one socket and its session (`AlwaysOnClient`), a pool of
 * `pipeCount` sockets with each Thing on one pipe (`PipePool`), and the error classification
 * (`AlwaysOnClientError`, `isRetryable`).
 */
export * from './errors';
export * from './options';
export * from './requests';
export * from './session';
export * from './pipes';
