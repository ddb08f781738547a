// First: on a Node.js older than the package's floor, fail here with one line naming it.
import '../../lib/node-version/require-supported';
import { DocumentError } from '../../lib/thingpark/mapping/document-types';
import type { ThingWorxBody } from '../../lib/thingworx';
import { registerOutNode } from '../shared/out-node';
import type { NodeAPI } from '../shared/red';
import type { ThingWorxConfigNode } from '../thingworx/thingworx';

module.exports = function (RED: NodeAPI) {
  registerOutNode<ThingWorxBody>(RED, {
    type: 'thingpark-thingworx-out',
    configProperty: 'thingworx',
    defaultTypes: [
      'DevEUI_uplink',
      'DevEUI_location',
      'DevEUI_notification',
      'DevEUI_downlink_Sent',
      'DevEUI_downlink_Rejected',
      'DevEUI_alarm',
    ],
    // Each device is a Thing: the whole document goes into its uplinkData property.
    toBody: (doc, config) => {
      const devEUI = doc.info.devEUI;
      if (!devEUI) throw new DocumentError(`${doc.info.type} names no device, so no Thing`, 'missing-field');
      const platform = RED.nodes.getNode(String(config.thingworx)) as ThingWorxConfigNode;
      return {
        devEUI,
        thing: platform.thingName(devEUI),
        time: doc.info.time,
        document: doc.document as Record<string, unknown>,
      };
    },
  });
};
