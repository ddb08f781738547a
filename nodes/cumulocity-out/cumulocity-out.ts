// First: on a Node.js older than the package's floor, fail here with one line naming it.
import '../../lib/node-version/require-supported';
import { prepareDocument, type CumulocityBody } from '../../lib/cumulocity';
import { registerOutNode } from '../shared/out-node';
import type { NodeAPI } from '../shared/red';

module.exports = function (RED: NodeAPI) {
  registerOutNode<CumulocityBody>(RED, {
    type: 'thingpark-cumulocity-out',
    configProperty: 'cumulocity',
    defaultTypes: [
      'DevEUI_uplink',
      'DevEUI_location',
      'DevEUI_notification',
      'DevEUI_alarm',
      'BS_alarm',
      'DevEUI_downlink_Sent',
      'DevEUI_downlink_Rejected',
    ],
    // Mapped once here so bad documents are refused (Catch) instead of queued; mapped again on delivery,
    // when the operations their CorrelationIDs close are known.
    toBody: (doc) => prepareDocument(doc.document as Record<string, unknown>),
  });
};
