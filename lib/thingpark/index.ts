export * from './document-types';
export * from './parse';
export * from './normalise';
export * from './token';
export * from './downlink';
export * from './lrc-client';
export * from './topics';
