import { subscriptionsFrom, type Subscriptions } from '../mapping/subscriptions';
import { AlwaysOnClientError } from '../transport/errors';
import type { AlwaysOnRequester } from '../transport/requests';

/**
 * Each bound Thing's subscription settings, read from the platform (`GetPropertySubscriptions`) before the first
 * push after a BIND and again when the platform says they changed (`NotifyPropertyUpdate`). Things with the same
 * settings share one map. A platform that does not answer the service (refused for good): the Thing's values are
 * pushed as they are, and it is not asked again until told of a change.
 */
export class PropertySubscriptions {
  private readonly known = new Map<string, Subscriptions | null>();
  private readonly inFlight = new Map<string, Promise<Subscriptions | undefined>>();
  private readonly shared = new Map<string, Subscriptions>();

  constructor(private readonly requester: AlwaysOnRequester) {}

  /** The Thing's subscriptions (read now when not known); undefined: push every value as it is. */
  async get(thing: string): Promise<Subscriptions | undefined> {
    const k = this.known.get(thing);
    if (k !== undefined) return k ?? undefined;
    let p = this.inFlight.get(thing);
    if (!p) {
      p = this.read(thing).finally(() => this.inFlight.delete(thing));
      this.inFlight.set(thing, p);
    }
    return p;
  }

  /** Forget what is known of the Thing (a new BIND, a NotifyPropertyUpdate): read again before its next push. */
  invalidate(thing: string): void {
    this.known.delete(thing);
  }

  clear(): void {
    this.known.clear();
  }

  private async read(thing: string): Promise<Subscriptions | undefined> {
    try {
      const r = await this.requester.request({
        entityName: thing,
        characteristicName: 'GetPropertySubscriptions',
      });
      const subs = subscriptionsFrom(r.content);
      const key = JSON.stringify([...subs]);
      let same = this.shared.get(key);
      if (!same) this.shared.set(key, (same = subs));
      this.known.set(thing, same);
      return same;
    } catch (e) {
      if (e instanceof AlwaysOnClientError && e.retryable) throw e;
      this.known.set(thing, null);
      return undefined;
    }
  }
}
