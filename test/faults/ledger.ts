/**
 * Counts every uplink of a fault run: sent, accepted by Node-RED (HTTP 200), refused with an error a
 * Catch node saw, and delivered to the platform (first time, again, or out of order for its device).
 */
export class Ledger {
  sent = 0;
  /** POSTs that did not get a 200 (Node-RED down or refusing): ThingPark would know they failed. */
  failedPosts = 0;
  private readonly accepted = new Map<string, Set<number>>();
  /** When each accepted uplink's 200 arrived, by `DevEUI:FCntUp`. */
  private readonly answeredAt = new Map<string, number>();
  private readonly refused = new Map<string, Set<number>>();
  private readonly delivered = new Map<string, Set<number>>();
  private readonly highest = new Map<string, number>();
  private readonly nextFCnt = new Map<string, number>();
  private readonly duplicatesOf = new Map<string, number>();
  /** Every delivery of each device, in arrival order (FCntUp). */
  private readonly arrivals = new Map<string, number[]>();
  /** The first device whose uplinks arrived out of order. */
  firstDisorder?: string;
  deliveries = 0;
  duplicates = 0;
  outOfOrder = 0;
  private waiters: Array<() => void> = [];
  /**
   * When the connection that carried the platform broker's last PUBACK of each uplink was opened, by
   * `DevEUI:FCntUp`.
   */
  private readonly brokerAckedOn = new Map<string, number>();
  /** When the platform broker was killed (SIGKILL). */
  private readonly brokerKilledAt: number[] = [];

  /** The FCntUp of a device's next uplink: 0, 1, 2… across every load of the run. */
  allocate(dev: string): number {
    const fCnt = this.nextFCnt.get(dev) ?? 0;
    this.nextFCnt.set(dev, fCnt + 1);
    this.sent++;
    return fCnt;
  }

  noteAccepted(dev: string, fCnt: number): void {
    setOf(this.accepted, dev).add(fCnt);
    this.answeredAt.set(`${dev}:${fCnt}`, Date.now());
  }

  /** When the 200 for `DevEUI:FCntUp` arrived (ms since the epoch). */
  acceptedAt(uplink: string): number | undefined {
    return this.answeredAt.get(uplink);
  }

  noteRefused(dev: string, fCnt: number): void {
    setOf(this.refused, dev).add(fCnt);
  }

  /**
   * The platform broker acknowledged an uplink (its PUBACK seen on the way to Node-RED), on a
   * connection opened at `openedAt`.
   */
  noteBrokerAcked(dev: string, fCnt: number, openedAt: number): void {
    this.brokerAckedOn.set(`${dev}:${fCnt}`, openedAt);
  }

  /** The platform broker is being killed (SIGKILL): what it acknowledged and had not passed on is gone. */
  noteBrokerKilled(): void {
    this.brokerKilledAt.push(Date.now());
  }

  /**
   * Accepted uplinks a broker acknowledged and then lost when it was killed, never passed on to the
   * subscriber: the broker's loss, not Node-RED's (Node-RED's part ends with the PUBACK). Mosquitto
   * keeps no state across a SIGKILL.
   */
  lostToBrokerKills(): string[] {
    return this.notDelivered().filter((uplink) => this.lostToBrokerKill(uplink));
  }

  /** Of these uplinks, those a platform broker acknowledged at some time (a PUBACK reached Node-RED). */
  brokerAcked(uplinks: string[]): string[] {
    return uplinks.filter((u) => this.brokerAckedOn.has(u));
  }

  /**
   * The connection that carried the PUBACK was to a broker killed later (opened before a kill): the
   * broker took the uplink and died before its subscriber read it (a slow subscriber leaves it in the
   * broker's queue, which a SIGKILL loses). Node-RED's part ended with the PUBACK, however long before.
   */
  private lostToBrokerKill(uplink: string): boolean {
    const openedAt = this.brokerAckedOn.get(uplink);
    return openedAt !== undefined && this.brokerKilledAt.some((killed) => killed >= openedAt);
  }

  /** An uplink reached the platform subscriber. */
  noteDelivered(dev: string, fCnt: number): void {
    this.deliveries++;
    let list = this.arrivals.get(dev);
    if (!list) this.arrivals.set(dev, (list = []));
    list.push(fCnt);
    const seen = setOf(this.delivered, dev);
    if (seen.has(fCnt)) {
      this.duplicates++;
      this.duplicatesOf.set(dev, (this.duplicatesOf.get(dev) ?? 0) + 1);
    } else {
      // A new uplink below one already delivered overtook an older one of its device.
      if (fCnt < (this.highest.get(dev) ?? -1)) {
        this.outOfOrder++;
        this.firstDisorder ??= dev;
      }
      seen.add(fCnt);
      this.highest.set(dev, Math.max(fCnt, this.highest.get(dev) ?? -1));
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  get acceptedCount(): number {
    return count(this.accepted);
  }

  get refusedCount(): number {
    return count(this.refused);
  }

  get deliveredCount(): number {
    return count(this.delivered);
  }

  /**
   * Accepted uplinks neither delivered nor reported refused, as `DevEUI:FCntUp`, except those a killed
   * broker had acknowledged (`lostToBrokerKills`).
   */
  lost(): string[] {
    return this.notDelivered().filter((uplink) => !this.lostToBrokerKill(uplink));
  }

  private notDelivered(): string[] {
    const out: string[] = [];
    for (const [dev, fCnts] of this.accepted) {
      for (const f of fCnts) {
        if (!this.delivered.get(dev)?.has(f) && !this.refused.get(dev)?.has(f)) out.push(`${dev}:${f}`);
      }
    }
    return out;
  }

  /** Uplinks answered 200 that never reached the platform, whatever else was said of them. */
  acceptedNotDelivered(): string[] {
    const out: string[] = [];
    for (const [dev, fCnts] of this.accepted)
      for (const f of fCnts) if (!this.delivered.get(dev)?.has(f)) out.push(`${dev}:${f}`);
    return out;
  }

  /** Uplinks both reported refused and delivered: a refusal must mean it was not queued. */
  refusedYetDelivered(): number {
    let n = 0;
    for (const [dev, fCnts] of this.refused) for (const f of fCnts) if (this.delivered.get(dev)?.has(f)) n++;
    return n;
  }

  /** Deliveries of uplinks never accepted (Node-RED answered an error, or nobody sent them). */
  unexpected(): number {
    let n = 0;
    for (const [dev, fCnts] of this.delivered)
      for (const f of fCnts) if (!this.accepted.get(dev)?.has(f)) n++;
    return n;
  }

  /** What reached the platform for `dev`, in order of arrival. */
  arrivalsOf(dev: string): number[] {
    return this.arrivals.get(dev) ?? [];
  }

  maxDuplicatesPerDevice(): number {
    return Math.max(0, ...this.duplicatesOf.values());
  }

  /** Resolves once every accepted uplink not refused was delivered, or after `ms`; true if all were. */
  async settled(ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (this.lost().length > 0 && Date.now() < end) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.lost().length === 0;
  }

  summary(): Record<string, number> {
    return {
      sent: this.sent,
      accepted: this.acceptedCount,
      refused: this.refusedCount,
      failedPosts: this.failedPosts,
      delivered: this.deliveredCount,
      duplicates: this.duplicates,
      outOfOrder: this.outOfOrder,
      lost: this.lost().length,
      ...(this.brokerKilledAt.length > 0 ? { lostToBrokerKills: this.lostToBrokerKills().length } : {}),
    };
  }
}

function setOf(map: Map<string, Set<number>>, key: string): Set<number> {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  return set;
}

function count(map: Map<string, Set<number>>): number {
  let n = 0;
  for (const s of map.values()) n += s.size;
  return n;
}
