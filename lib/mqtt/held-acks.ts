/**
 * PUBACKs held until what a message carried is safe, and released in the order the messages
 * arrived, as MQTT 3.1.1 (4.6) asks of a receiver. A message that cannot be made safe is never
 * acknowledged: the connection is then restarted, so that the broker (persistent session) sends
 * again everything not acknowledged.
 */
export type Release = (ok: boolean) => void;

/** One message's PUBACK, from its arrival until it is written. */
export interface Held {
  /** What each consumer calls to delay the PUBACK; it returns the release. */
  hold: () => Release;
  holds: number;
  failed: boolean;
  /** Writes the PUBACK; set once the message was handed to every handler. */
  write?: () => void;
}

export class HeldAcks {
  /** Arrival order; a slot is cleared once its PUBACK is written, so what it held can be collected young. */
  private readonly order: (Held | undefined)[] = [];
  private head = 0;
  private discarded = false;

  constructor(private readonly onFailed: () => void) {}

  get size(): number {
    return this.order.length - this.head;
  }

  /** A QoS 1 message arrived: its place in the order, and `hold` for the consumers. */
  arrived(): Held {
    const held: Held = { hold: () => this.hold(held), holds: 0, failed: false };
    this.order.push(held);
    return held;
  }

  private hold(held: Held): Release {
    held.holds++;
    let settled = false;
    return (ok: boolean) => {
      if (settled || this.discarded) return;
      settled = true;
      if (!ok) {
        held.failed = true;
        this.onFailed();
        return;
      }
      held.holds--;
      this.flush();
    };
  }

  /** Every handler has had the message: its PUBACK is written by `write` once nothing holds it or an earlier one. */
  ready(held: Held, write: () => void): void {
    held.write = write;
    this.flush();
  }

  /** The connection closed: nothing held is acknowledged (the broker sends it again). */
  discard(): void {
    this.discarded = true;
    this.order.length = 0;
    this.head = 0;
  }

  private flush(): void {
    while (this.head < this.order.length) {
      const held = this.order[this.head]!;
      if (held.failed || held.holds > 0 || !held.write) break;
      this.order[this.head++] = undefined;
      held.write();
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }
}
