import type { WmwBody } from '../../lib/wmw/wmw-client';
import { registerOutNode } from '../shared/out-node';
import type { NodeAPI } from '../shared/red';

module.exports = function (RED: NodeAPI) {
  registerOutNode<WmwBody>(RED, {
    type: 'thingpark-wmw-out',
    configProperty: 'wmw',
    defaultTypes: ['DevEUI_uplink'],
    // WMW takes the standard ThingPark document and decodes payloads itself.
    toBody: (doc) => doc.document as WmwBody,
  });
};
