// First: on a Node.js older than the package's floor, fail here with one line naming it.
import '../../lib/node-version/require-supported';
import type { PlatformDownlink } from '../../lib/connection/platform-client';
import { downlinkMessage } from '../shared/downlink-route';
import type { PlatformConfigNode } from '../shared/out-node';
import type { Node, NodeAPI, NodeDef } from '../shared/red';

interface DownlinkInDef extends NodeDef {
  thingworx?: string;
  cumulocity?: string;
  wmw?: string;
}

const PLATFORMS = ['thingworx', 'cumulocity', 'wmw'] as const;

module.exports = function (RED: NodeAPI) {
  function ThingParkDownlinkInNode(this: Node, config: DownlinkInDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const sources: PlatformConfigNode<unknown>[] = [];
    for (const platform of PLATFORMS) {
      const id = config[platform];
      if (!id) continue;
      const source = RED.nodes.getNode(id) as PlatformConfigNode<unknown> | null;
      if (!source?.connection) continue;
      sources.push(source);
      source.connection.addDownlinkListener(node, (downlink: PlatformDownlink) =>
        node.send(downlinkMessage(platform, id, downlink) as never),
      );
    }
    if (sources.length === 0) {
      node.status({ fill: 'red', shape: 'ring', text: RED._('thingpark-common.errors.no-connection') });
      node.error(RED._('thingpark-common.errors.no-connection'), {});
      return;
    }
    node.on('close', (_removed: boolean, done: () => void) => {
      Promise.all(sources.map((s) => s.connection.removeDownlinkListener(node))).then(
        () => done(),
        () => done(),
      );
    });
  }
  RED.nodes.registerType('thingpark-downlink-in', ThingParkDownlinkInNode as never);
};
