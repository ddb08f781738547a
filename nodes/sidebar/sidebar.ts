import type { NodeAPI } from '../shared/red';
import { registerMonitorEndpoints } from './monitor-endpoints';

/**
 * The "ThingPark" sidebar tab, a Node-RED plugin: the editor part is sidebar.html (which loads
 * resources/sidebar.js and sidebar.css), the runtime part the admin endpoints it reads.
 */
module.exports = function (RED: NodeAPI) {
  registerMonitorEndpoints(RED);
  const plugins = (RED as { plugins?: { registerPlugin(id: string, def: object): void } }).plugins;
  plugins?.registerPlugin('thingpark-sidebar', { type: 'thingpark-sidebar' });
};
