/**
 * ThingPark itself, without Node-RED: `mapping/` reads its documents (JSON, untyped JSON, XML) into
 * typed JSON, checks and signs tunnel tokens, and builds downlink requests for the LRC and IoT Flow,
 * all pure; `transport/` sends downlinks to the LRC (never twice) and checks that it answers.
 */
export * from './mapping/document-types';
export * from './mapping/parse';
export * from './mapping/normalise';
export * from './mapping/token';
export * from './mapping/tunnel-request';
export * from './mapping/downlink';
export * from './mapping/topics';
export * from './transport/lrc-downlink';
export * from './transport/lrc-check';
