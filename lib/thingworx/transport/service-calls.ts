import { EventEmitter } from 'events';
import { Typed, updateSubscribedPropertyValuesParams, type VtqEntry } from '../alwayson/helpers';
import type { InfoTable } from '../alwayson/values';
import type { AlwaysOnRequester, ClientRequest, ClientResponse } from './requests';

/** The service calls of the edge, on top of `request`. */
export abstract class ServiceCalls extends EventEmitter implements AlwaysOnRequester {
  abstract request(req: ClientRequest): Promise<ClientResponse>;

  /** Told of every push the platform acknowledged. */
  protected afterPush(_thing: string, _entries: readonly VtqEntry[]): void {}

  /** POST `Things/<thing>/Services/<service>` (or another entity type); resolves with the result table. */
  async callService(
    thing: string,
    service: string,
    params?: InfoTable,
    opts: { entityType?: number; timeoutMs?: number } = {},
  ): Promise<InfoTable | undefined> {
    const r = await this.request({
      entityType: opts.entityType,
      entityName: thing,
      characteristicName: service,
      params,
      timeoutMs: opts.timeoutMs,
    });
    return r.content;
  }

  /** UpdateSubscribedPropertyValues on a Thing with NamedVTQ rows. */
  async updateProperties(
    thing: string,
    entries: readonly VtqEntry[],
    opts: { timeoutMs?: number } = {},
  ): Promise<void> {
    await this.callService(
      thing,
      'UpdateSubscribedPropertyValues',
      updateSubscribedPropertyValuesParams(entries),
      opts,
    );
    this.afterPush(thing, entries);
  }

  /**
   * Push one uplink: the JSON `data` into the Thing's `uplinkData` property (quality GOOD, `time` default now).
   * Resolves on 0x40.
   */
  pushUplink(
    thing: string,
    data: unknown,
    time: number | Date = Date.now(),
    opts: { timeoutMs?: number; property?: string } = {},
  ): Promise<void> {
    return this.updateProperties(
      thing,
      [{ name: opts.property ?? 'uplinkData', value: Typed.json(data), time, quality: 'GOOD' }],
      opts,
    );
  }
}
