import type { Node, NodeStatus } from './red';

/**
 * The users of a config node (the core MQTT node's register/deregister pattern): the first user
 * starts the connection, the last one leaving stops it, and every status reaches every user.
 * `nodes` is what the config node exposes as `node.users`: Node-RED then hands an error the config
 * node reports (`node.error(err, {})`) to the Catch nodes of every user's flow.
 */
export class UserRegistry {
  readonly nodes: Record<string, Node> = {};
  private readonly users = new Map<string, (status: NodeStatus) => void>();
  private status: NodeStatus = {};

  constructor(
    private readonly onFirst: () => void,
    private readonly onLast: () => Promise<void> | void,
  ) {}

  /** `onStatus` lets a user add its own figures to the connection status; the default shows it as is. */
  register(user: Node, onStatus: (status: NodeStatus) => void = (s) => user.status(s)): void {
    const first = this.users.size === 0;
    this.users.set(user.id, onStatus);
    this.nodes[user.id] = user;
    onStatus(this.status);
    if (first) this.onFirst();
  }

  async deregister(user: Node): Promise<void> {
    if (!this.users.delete(user.id)) return;
    delete this.nodes[user.id];
    if (this.users.size === 0) await this.onLast();
  }

  setStatus(status: NodeStatus): void {
    this.status = status;
    for (const onStatus of this.users.values()) onStatus(status);
  }

  /**
   * Reports an error once per flow that uses this connection (to its first user there), so each
   * flow's Catch nodes see it once, however many of its nodes share the connection.
   */
  reportError(text: string, msg: Record<string, unknown> = {}, only?: ReadonlySet<string>): void {
    const flows = new Set<string>();
    for (const user of Object.values(this.nodes)) {
      if (only && !only.has(user.id)) continue;
      const flow = (user as Node & { z?: string }).z ?? '';
      if (flows.has(flow)) continue;
      flows.add(flow);
      user.error(text, { ...msg });
    }
  }

  get size(): number {
    return this.users.size;
  }
}
