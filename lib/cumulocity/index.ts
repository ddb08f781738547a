export * from './errors';
export * from './smartrest';
export * from './device-registration';
export * from './mapper';
export * from './operations';
