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
