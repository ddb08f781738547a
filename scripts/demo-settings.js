'use strict';
// Node-RED settings for `npm start`: loopback only, no telemetry prompt, a fixed demo credential secret.
module.exports = {
  uiHost: '127.0.0.1',
  uiPort: Number(process.env.PORT) || 1880,
  flowFile: 'flows.json',
  credentialSecret: 'thingpark-demo-only',
  telemetry: { enabled: false },
  diagnostics: { enabled: false },
  logging: { console: { level: 'info', metrics: false, audit: false } },
  editorTheme: { tours: false, projects: { enabled: false } },
};
