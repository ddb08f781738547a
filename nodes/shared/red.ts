import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow, NodeStatus } from 'node-red';

export type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow, NodeStatus };

export type SendFn = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
export type DoneFn = (err?: Error) => void;

/**
 * `${NAME}` placeholders are filled from the node's environment (flow/global env, then process.env);
 * without a node, from process.env.
 */
export function resolveEnv(RED: NodeAPI, node: Node | undefined, value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = String(value);
  const util = RED.util as unknown as { getSetting?: (node: Node | undefined, name: string) => unknown };
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (match, name: string) => {
    const found = util.getSetting ? util.getSetting(node, name) : process.env[name];
    return found === undefined || found === null ? match : String(found);
  });
}

/** The core `tls-config` node's way of filling TLS options, when one is selected. */
export interface TlsConfigNode extends Node {
  addTLSOptions(options: Record<string, unknown>): void;
}

export function tlsOptionsFrom(RED: NodeAPI, tlsId: string | undefined): Record<string, unknown> | undefined {
  if (!tlsId) return undefined;
  const tlsNode = RED.nodes.getNode(tlsId) as TlsConfigNode | null;
  if (!tlsNode || typeof tlsNode.addTLSOptions !== 'function') return undefined;
  const options: Record<string, unknown> = {};
  tlsNode.addTLSOptions(options);
  return options;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
