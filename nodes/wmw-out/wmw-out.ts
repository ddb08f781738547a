// First: on a Node.js older than the package's floor, fail here with one line naming it.
import '../../lib/node-version/require-supported';
import { wmwBody, type WmwBody } from '../../lib/wmw';
import { registerOutNode } from '../shared/out-node';
import type { NodeAPI } from '../shared/red';

module.exports = function (RED: NodeAPI) {
  registerOutNode<WmwBody>(RED, {
    type: 'thingpark-wmw-out',
    configProperty: 'wmw',
    defaultTypes: ['DevEUI_uplink'],
    toBody: wmwBody,
  });
};
