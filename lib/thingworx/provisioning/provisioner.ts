import { BaseType, EntityType, MessageCode } from '../alwayson/constants';
import { singleRowTable, Typed } from '../alwayson/helpers';
import type { InfoTable, TypedValue } from '../alwayson/values';
import type { AlwaysOnRequester } from '../transport/requests';
import { AlwaysOnClientError, ProvisioningError } from '../transport/errors';

export interface ProvisioningOptions {
  /** Our ThingTemplate: only Things implementing it are listed (and so bound). */
  templateName: string;
  /** Base of a template we create (default `RemoteThing`). */
  baseTemplate?: string;
  /** Create the template when it is missing (default false: a missing template is an error). */
  allowCreateTemplate?: boolean;
  /** Remote JSON property receiving uplinks (default `uplinkData`). */
  uplinkProperty?: string;
  /** Remote JSON property the platform writes downlinks to (default `downlink`). */
  downlinkProperty?: string;
  /** Things asked for per QueryImplementingThingsOptimized page (default 5000). */
  pageSize?: number;
  /** Per-request timeout (default: the client's). */
  timeoutMs?: number;
}

/** Where the provisioning services live. */
export const ENTITY_SERVICES = 'EntityServices';

/** One column of a result table as strings (rows without a string value there are skipped). */
export function columnStrings(table: InfoTable | undefined, column: string): string[] {
  const out: string[] = [];
  if (!table) return out;
  for (const row of table.rows) {
    let v: TypedValue | undefined = Object.prototype.hasOwnProperty.call(row, column)
      ? row[column]
      : undefined;
    while (v && v.baseType === BaseType.VARIANT) v = v.value;
    if (v && typeof v.value === 'string') out.push(v.value);
  }
  return out;
}

/**
 * Provisioning over AlwaysOn (the same services as over REST):
 * - `Resources/EntityServices/Services/GetEntityList {type: 'ThingTemplate', nameMask, maxItems}` to see whether
 *   our template exists;
 * - `CreateThingTemplate {name, thingTemplateName: RemoteThing, description}` then
 *   `ThingTemplates/<tpl>/Services/AddPropertyDefinition` for the remote JSON properties `uplinkData` and
 *   `downlink` when it is missing and that is allowed;
 * - `ThingTemplates/<tpl>/Services/QueryImplementingThingsOptimized {maxItems, offset}`, paged, to list our Things;
 * - `CreateThing {name, thingTemplateName}`, then `Things/<n>/Services/EnableThing` and `RestartThing`.
 *
 * Every failure is a `ProvisioningError` naming the step, with the platform's code and `retryable`.
 */
export class ThingProvisioner {
  private readonly baseTemplate: string;
  private readonly pageSize: number;

  constructor(
    private readonly requester: AlwaysOnRequester,
    readonly options: ProvisioningOptions,
  ) {
    if (!options.templateName) throw new TypeError('templateName is required');
    this.baseTemplate = options.baseTemplate ?? 'RemoteThing';
    this.pageSize = options.pageSize ?? 5000;
    if (!Number.isInteger(this.pageSize) || this.pageSize < 1) throw new RangeError('pageSize must be >= 1');
  }

  get templateName(): string {
    return this.options.templateName;
  }

  /** Whether our template exists (GetEntityList with the template name as mask). */
  async templateExists(): Promise<boolean> {
    const content = await this.call(
      'GetEntityList',
      EntityType.RESOURCE,
      ENTITY_SERVICES,
      'GetEntityList',
      singleRowTable({
        type: Typed.string('ThingTemplate'),
        nameMask: Typed.string(this.templateName),
        maxItems: Typed.number(100),
      }),
    );
    return columnStrings(content, 'name').includes(this.templateName);
  }

  /**
   * Make sure our template exists: `present` when it does, `created` after creating it (only when
   * `allowCreateTemplate`). Missing and not allowed: `ProvisioningError` (step `template-missing`, code 0x84).
   */
  async ensureTemplate(): Promise<'present' | 'created'> {
    if (await this.templateExists()) return 'present';
    if (!this.options.allowCreateTemplate) {
      throw new ProvisioningError(
        'template-missing',
        `ThingTemplate ${this.templateName} does not exist and creating it is not allowed`,
        undefined,
        { retryable: false, code: MessageCode.NOT_FOUND },
      );
    }
    await this.call(
      'CreateThingTemplate',
      EntityType.RESOURCE,
      ENTITY_SERVICES,
      'CreateThingTemplate',
      singleRowTable({
        name: Typed.string(this.templateName),
        thingTemplateName: Typed.string(this.baseTemplate),
        description: Typed.string('ThingPark devices (created by the ThingPark Node-RED connector)'),
      }),
    );
    const uplink = this.options.uplinkProperty ?? 'uplinkData';
    const downlink = this.options.downlinkProperty ?? 'downlink';
    await this.addRemoteJsonProperty(uplink, 'Last uplink document from ThingPark', 'ALWAYS');
    await this.addRemoteJsonProperty(downlink, 'Write a downlink request here', 'NEVER');
    return 'created';
  }

  private async addRemoteJsonProperty(name: string, description: string, pushType: string): Promise<void> {
    await this.call(
      `AddPropertyDefinition ${name}`,
      EntityType.THINGTEMPLATES,
      this.templateName,
      'AddPropertyDefinition',
      singleRowTable({
        name: Typed.string(name),
        description: Typed.string(description),
        type: Typed.string('JSON'),
        remote: Typed.boolean(true),
        remotePropertyName: Typed.string(name),
        pushType: Typed.string(pushType),
        dataChangeType: Typed.string('ALWAYS'),
        readOnly: Typed.boolean(false),
        // As the shipped template: the pushed value is the value, ThingWorx never reads it from the edge.
        remoteBindingAspects: Typed.json({ cacheTime: -1 }),
      }),
    );
  }

  /**
   * Names of the Things implementing our template, paged with `maxItems` + `offset`, asking for the `name` column
   * only (`basicPropertyNames`) so a page stays well under the 1 MiB message limit. A page refused as too large
   * (0x8D) or not answered in time is asked again at half the size. Stops at an empty page or a page that brings no
   * new name (a platform that ignores `offset`), so it never loops.
   */
  async listThings(): Promise<string[]> {
    const names: string[] = [];
    const seen = new Set<string>();
    let offset = 0;
    let pageSize = this.pageSize;
    const nameOnly: InfoTable = {
      dataShape: [{ name: 'item', baseType: BaseType.STRING }],
      rows: [{ item: Typed.string('name') }],
    };
    for (;;) {
      let content: InfoTable | undefined;
      try {
        content = await this.call(
          'QueryImplementingThingsOptimized',
          EntityType.THINGTEMPLATES,
          this.templateName,
          'QueryImplementingThingsOptimized',
          singleRowTable({
            maxItems: Typed.number(pageSize),
            offset: Typed.number(offset),
            basicPropertyNames: Typed.infotable(nameOnly),
          }),
        );
      } catch (e) {
        const tooBig =
          e instanceof ProvisioningError && (e.code === MessageCode.ENTITY_TOO_LARGE || e.kind === 'timeout');
        if (!tooBig || pageSize <= 1) throw e;
        pageSize = Math.floor(pageSize / 2);
        continue;
      }
      const page = columnStrings(content, 'name');
      let fresh = 0;
      for (const n of page) {
        if (seen.has(n)) continue;
        seen.add(n);
        names.push(n);
        fresh++;
      }
      if (page.length === 0 || fresh === 0) return names;
      offset += page.length;
    }
  }

  /** CreateThing from our template, then EnableThing and RestartThing. */
  async createThing(name: string, description = ''): Promise<void> {
    if (typeof name !== 'string' || name === '') throw new TypeError('Thing name must be a non-empty string');
    await this.call(
      'CreateThing',
      EntityType.RESOURCE,
      ENTITY_SERVICES,
      'CreateThing',
      singleRowTable({
        name: Typed.string(name),
        thingTemplateName: Typed.string(this.templateName),
        description: Typed.string(description),
      }),
    );
    await this.call('EnableThing', EntityType.THING, name, 'EnableThing');
    await this.call('RestartThing', EntityType.THING, name, 'RestartThing');
  }

  private async call(
    step: string,
    entityType: number,
    entityName: string,
    service: string,
    params?: InfoTable,
  ): Promise<InfoTable | undefined> {
    try {
      const r = await this.requester.request({
        entityType,
        entityName,
        characteristicName: service,
        params,
        timeoutMs: this.options.timeoutMs,
      });
      return r.content;
    } catch (e) {
      if (e instanceof AlwaysOnClientError) {
        throw new ProvisioningError(step, `${step} failed: ${e.message}`, e);
      }
      throw e;
    }
  }
}
