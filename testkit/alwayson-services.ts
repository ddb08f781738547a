import { EventEmitter } from 'events';
import {
  BaseType,
  DEFAULT_MAX_MESSAGE_SIZE,
  encodeInfoTable,
  type FieldDefinition,
  Characteristic,
  EntityType,
  MessageCode,
  unwrapVariant,
  type InfoTable,
  type RequestMessage,
  type TypedValue,
} from '../lib/thingworx';

/** System templates a created template may derive from. */
const SYSTEM_TEMPLATES = new Set(['RemoteThing', 'GenericThing', 'RemoteThingWithFileTransfer']);

const TYPE_NAMES = new Map<number, string>(Object.entries(BaseType).map(([k, v]) => [v, k]));

function globToRegExp(mask: string): RegExp {
  const esc = mask.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${esc}$`, 'i');
}

export interface StoredValue {
  value: TypedValue;
  time: number;
  quality: string;
}

export interface ServerThing {
  name: string;
  template: string;
  enabled: boolean;
  restarts: number;
  /** Latest value per property. */
  properties: Map<string, StoredValue>;
  /** Number of UpdateSubscribedPropertyValues rows stored. */
  updates: number;
}

export interface ServerTemplate {
  name: string;
  base: string;
  /** Property name → base type name (`JSON`, `STRING`, …). */
  properties: Map<string, string>;
  /** Remote binding aspects per property (`cacheTime` 0, read from the edge at each read, unless set). */
  aspects: Map<string, PropertyAspects>;
}

export interface PropertyAspects {
  /** -1: the value pushed is the value (never read from the edge); 0: read from the edge at each read. */
  cacheTime: number;
  /** When the edge pushes it: ALWAYS, VALUE, NEVER, DEADBAND (default ALWAYS here; ThingWorx's own default VALUE). */
  pushType?: string;
  pushThreshold?: number;
  /** The name the edge pushes it under (the remote binding's remotePropertyName; default the property's name). */
  edgeName?: string;
}

export interface EntityStoreOptions {
  /** Allow CreateThingTemplate / AddPropertyDefinition / CreateThing (default true; false → 0x83). */
  allowCreate?: boolean;
  /** QueryImplementingThingsOptimized `maxItems` when absent (default 500). */
  defaultMaxItems?: number;
  /** Largest page QueryImplementingThingsOptimized returns, whatever `maxItems` says (default unlimited). */
  maxItemsCap?: number;
  /** Largest answer carried (default 1 MiB, the Connection Server's default). */
  maxMessageSize?: number;
}

/**
 * The platform's entities as the AlwaysOn test server keeps them (templates, Things, property values), and the
 * services the connector calls on them, answered as ThingWorx answers them.
 */
export class AlwaysOnEntityStore extends EventEmitter {
  readonly templates = new Map<string, ServerTemplate>();
  readonly things = new Map<string, ServerThing>();
  /** Permission to create templates and Things (0x83 otherwise). Can be changed at any time. */
  allowCreate: boolean;

  constructor(private readonly storeOptions: EntityStoreOptions) {
    super();
    this.allowCreate = storeOptions.allowCreate ?? true;
  }

  addTemplate(
    name: string,
    properties: Record<string, string> = {},
    base = 'RemoteThing',
    aspects: Record<string, PropertyAspects> = {},
  ): ServerTemplate {
    const t: ServerTemplate = {
      name,
      base,
      properties: new Map(Object.entries(properties)),
      aspects: new Map(Object.entries(aspects)),
    };
    this.templates.set(name, t);
    return t;
  }

  /** Our usual template: `uplinkData`, `downlink` and `downlinkData`, all JSON with cacheTime -1 (as the XML). */
  addConnectorTemplate(name: string): ServerTemplate {
    return this.addTemplate(
      name,
      { uplinkData: 'JSON', downlink: 'JSON', downlinkData: 'JSON' },
      'RemoteThing',
      {
        uplinkData: { cacheTime: -1, pushType: 'ALWAYS' },
        downlink: { cacheTime: -1, pushType: 'NEVER' },
        downlinkData: { cacheTime: -1, pushType: 'NEVER' },
      },
    );
  }

  /** Change a property's subscription settings, as a user does in Composer (tell the edge: NotifyPropertyUpdate). */
  setPropertySubscription(
    template: string,
    property: string,
    settings: Omit<PropertyAspects, 'cacheTime'>,
  ): void {
    const tpl = this.templates.get(template);
    if (!tpl?.properties.has(property)) throw new Error(`no property ${property} on ${template}`);
    tpl.aspects.set(property, { ...(tpl.aspects.get(property) ?? { cacheTime: 0 }), ...settings });
  }

  /** Remote properties of a template (its chain), with their aspects. */
  remoteProperties(template: string): Map<string, { type: string; aspects: PropertyAspects }> {
    const out = new Map<string, { type: string; aspects: PropertyAspects }>();
    for (let t: string | undefined = template, depth = 0; t && depth < 32; depth++) {
      const tpl = this.templates.get(t);
      if (!tpl) break;
      for (const [name, type] of tpl.properties) {
        if (!out.has(name)) out.set(name, { type, aspects: tpl.aspects.get(name) ?? { cacheTime: 0 } });
      }
      t = tpl.base;
    }
    return out;
  }

  /** The remote binding aspects of a property of a template (inherited ones included). */
  propertyAspects(template: string, property: string): PropertyAspects | undefined {
    for (let t: string | undefined = template, depth = 0; t && depth < 32; depth++) {
      const tpl = this.templates.get(t);
      if (tpl?.properties.has(property)) return tpl.aspects.get(property) ?? { cacheTime: 0 };
      t = tpl?.base;
    }
    return undefined;
  }

  addThing(name: string, template: string, enabled = true): ServerThing {
    if (!this.templates.has(template)) throw new Error(`no template ${template}`);
    const t: ServerThing = { name, template, enabled, restarts: 0, properties: new Map(), updates: 0 };
    this.things.set(name, t);
    return t;
  }

  addThings(names: Iterable<string>, template: string): void {
    for (const n of names) this.addThing(n, template);
  }

  value(thing: string, property: string): StoredValue | undefined {
    return this.things.get(thing)?.properties.get(property);
  }

  protected execute(msg: RequestMessage): { code: number; reason?: string; content?: InfoTable } {
    const b = msg.body;
    const ok = (content?: InfoTable): { code: number; content?: InfoTable } => ({
      code: MessageCode.SUCCESS,
      content,
    });
    const err = (code: number, reason: string): { code: number; reason: string } => ({ code, reason });
    if (msg.code !== MessageCode.POST || b.characteristic !== Characteristic.SERVICES) {
      return err(MessageCode.METHOD_NOT_ALLOWED, 'only service calls (POST …/Services/…) are supported here');
    }
    const svc = b.characteristicName;
    const p = (name: string): TypedValue | undefined => {
      const row = b.params?.rows[0];
      if (!row || !Object.prototype.hasOwnProperty.call(row, name)) return undefined;
      const v = unwrapVariant(row[name]);
      return v.baseType === BaseType.NOTHING ? undefined : v;
    };
    const str = (name: string): string | undefined => {
      const v = p(name);
      return v && typeof v.value === 'string' ? v.value : undefined;
    };
    const num = (name: string): number | undefined => {
      const v = p(name);
      return v && typeof v.value === 'number' ? v.value : undefined;
    };

    if (b.entityType === EntityType.THING) {
      const thing = this.things.get(b.entityName);
      if (!thing) return err(MessageCode.NOT_FOUND, `Thing ${b.entityName} does not exist`);
      switch (svc) {
        case 'UpdateSubscribedPropertyValues':
          return this.updateValues(thing, p('values'));
        case 'EnableThing':
          thing.enabled = true;
          return ok();
        case 'DisableThing':
          thing.enabled = false;
          return ok();
        case 'RestartThing':
          thing.restarts++;
          return ok();
        case 'GetPropertySubscriptions':
          return ok(this.propertySubscriptions(thing));
        default:
          return err(MessageCode.METHOD_NOT_ALLOWED, `service ${svc} not found on Thing ${thing.name}`);
      }
    }

    if (b.entityType === EntityType.THINGTEMPLATES) {
      const tpl = this.templates.get(b.entityName);
      if (!tpl) return err(MessageCode.NOT_FOUND, `ThingTemplate ${b.entityName} does not exist`);
      switch (svc) {
        case 'QueryImplementingThingsOptimized':
          return this.queryImplementingThings(tpl, num('maxItems'), num('offset'), p('basicPropertyNames'));
        case 'GetInstancePropertyDefinitions':
          return ok({
            dataShape: [
              { name: 'name', baseType: BaseType.STRING },
              { name: 'description', baseType: BaseType.STRING },
              { name: 'baseType', baseType: BaseType.BASETYPENAME },
            ],
            rows: [...this.remoteProperties(tpl.name)].map(([name, { type }]) => ({
              name: { baseType: BaseType.STRING, value: name } as TypedValue,
              description: { baseType: BaseType.STRING, value: '' } as TypedValue,
              baseType: { baseType: BaseType.BASETYPENAME, value: type } as TypedValue,
            })),
          });
        case 'AddPropertyDefinition': {
          if (!this.allowCreate) return err(MessageCode.FORBIDDEN, 'not permitted to edit ThingTemplates');
          const name = str('name');
          const type = str('type');
          if (!name || !type) return err(MessageCode.BAD_REQUEST, 'name and type are required');
          if (tpl.properties.has(name))
            return err(MessageCode.BAD_REQUEST, `property ${name} already exists`);
          tpl.properties.set(name, type.toUpperCase());
          let cacheTime = 0;
          try {
            const aspects = JSON.parse(str('remoteBindingAspects') ?? '{}') as { cacheTime?: unknown };
            if (typeof aspects.cacheTime === 'number') cacheTime = aspects.cacheTime;
          } catch {
            return err(MessageCode.BAD_REQUEST, 'remoteBindingAspects is not JSON');
          }
          tpl.aspects.set(name, {
            cacheTime,
            pushType: (str('pushType') ?? 'VALUE').toUpperCase(),
            pushThreshold: num('pushThreshold') ?? 0,
            edgeName: str('remotePropertyName') || name,
          });
          return ok();
        }
        default:
          return err(MessageCode.METHOD_NOT_ALLOWED, `service ${svc} not found on ThingTemplate ${tpl.name}`);
      }
    }

    if (b.entityType === EntityType.RESOURCE) {
      if (b.entityName !== 'EntityServices')
        return err(MessageCode.NOT_FOUND, `Resource ${b.entityName} does not exist`);
      switch (svc) {
        case 'GetEntityList': {
          const type = str('type');
          const mask = globToRegExp(str('nameMask') ?? '*');
          const max = num('maxItems') ?? 500;
          let names: string[];
          if (type === 'ThingTemplate') names = [...this.templates.keys()];
          else if (type === 'Thing') names = [...this.things.keys()];
          else return err(MessageCode.BAD_REQUEST, `unsupported entity type ${type}`);
          const rows = names
            .filter((n) => mask.test(n))
            .slice(0, max)
            .map((n) => ({
              name: { baseType: BaseType.STRING, value: n } as TypedValue,
              description: { baseType: BaseType.STRING, value: '' } as TypedValue,
            }));
          return ok({
            dataShape: [
              { name: 'name', baseType: BaseType.STRING },
              { name: 'description', baseType: BaseType.STRING },
            ],
            rows,
          });
        }
        case 'CreateThingTemplate': {
          if (!this.allowCreate) return err(MessageCode.FORBIDDEN, 'not permitted to create ThingTemplates');
          const name = str('name');
          const base = str('thingTemplateName') ?? 'GenericThing';
          if (!name) return err(MessageCode.BAD_REQUEST, 'name is required');
          if (this.templates.has(name))
            return err(MessageCode.BAD_REQUEST, `ThingTemplate ${name} already exists`);
          if (!SYSTEM_TEMPLATES.has(base) && !this.templates.has(base)) {
            return err(MessageCode.NOT_FOUND, `base ThingTemplate ${base} does not exist`);
          }
          this.addTemplate(name, {}, base);
          return ok();
        }
        case 'CreateThing': {
          if (!this.allowCreate) return err(MessageCode.FORBIDDEN, 'not permitted to create Things');
          const name = str('name');
          const template = str('thingTemplateName');
          if (!name || !template)
            return err(MessageCode.BAD_REQUEST, 'name and thingTemplateName are required');
          if (this.things.has(name)) return err(MessageCode.BAD_REQUEST, `Thing ${name} already exists`);
          if (!this.templates.has(template))
            return err(MessageCode.NOT_FOUND, `ThingTemplate ${template} does not exist`);
          this.addThing(name, template, false); // created disabled: EnableThing + RestartThing follow
          return ok();
        }
        default:
          return err(MessageCode.METHOD_NOT_ALLOWED, `service ${svc} not found on EntityServices`);
      }
    }
    return err(MessageCode.NOT_FOUND, `entity type ${b.entityType} not supported`);
  }

  /**
   * Things implementing a template, a page of `maxItems` from `offset`. Each row has the entity columns ThingWorx
   * returns (name, description, thingTemplate, tags, homeMashup, avatar, isConnected, lastConnection) unless
   * `basicPropertyNames` (INFOTABLE, one column `item`) names the columns wanted. An answer over the message limit
   * (1 MiB) is refused with 0x8D, as the Connection Server does not carry it.
   */
  private queryImplementingThings(
    tpl: ServerTemplate,
    maxItems: number | undefined,
    offsetParam: number | undefined,
    basic: TypedValue | undefined,
  ): { code: number; reason?: string; content?: InfoTable } {
    let max = maxItems ?? this.storeOptions.defaultMaxItems ?? 500;
    if (this.storeOptions.maxItemsCap !== undefined) max = Math.min(max, this.storeOptions.maxItemsCap);
    const offset = Math.max(0, Math.floor(offsetParam ?? 0));
    const all: FieldDefinition[] = [
      { name: 'name', baseType: BaseType.STRING },
      { name: 'description', baseType: BaseType.STRING },
      { name: 'thingTemplate', baseType: BaseType.THINGTEMPLATENAME },
      { name: 'tags', baseType: BaseType.TAGS },
      { name: 'homeMashup', baseType: BaseType.MASHUPNAME },
      { name: 'avatar', baseType: BaseType.IMAGELINK },
      { name: 'isConnected', baseType: BaseType.BOOLEAN },
      { name: 'lastConnection', baseType: BaseType.DATETIME },
    ];
    let shape = all;
    if (basic && basic.baseType === BaseType.INFOTABLE) {
      const wanted = new Set(basic.value.rows.map((r) => r.item?.value).filter((v) => typeof v === 'string'));
      shape = all.filter((f) => wanted.has(f.name));
    }
    const rows: InfoTable['rows'] = [];
    let i = 0;
    for (const t of this.things.values()) {
      if (!this.implementsTemplate(t.template, tpl.name)) continue;
      if (i++ < offset) continue;
      if (rows.length >= max) break;
      const full: Record<string, TypedValue> = {
        name: { baseType: BaseType.STRING, value: t.name },
        description: {
          baseType: BaseType.STRING,
          value: `ThingPark device ${t.name}, created by the connector`,
        },
        thingTemplate: { baseType: BaseType.THINGTEMPLATENAME, value: t.template },
        tags: { baseType: BaseType.TAGS, value: 'Applications:ThingPark;Devices:LoRaWAN' },
        homeMashup: { baseType: BaseType.MASHUPNAME, value: 'ThingParkDeviceMashup' },
        avatar: { baseType: BaseType.IMAGELINK, value: `/Thingworx/Things/${t.name}/Avatar` },
        isConnected: { baseType: BaseType.BOOLEAN, value: this.isConnected(t.name) },
        lastConnection: { baseType: BaseType.DATETIME, value: 0 },
      };
      const row: Record<string, TypedValue> = {};
      for (const f of shape) row[f.name] = full[f.name];
      rows.push(row);
    }
    const content: InfoTable = { dataShape: shape, rows };
    const size = encodeInfoTable(content).length;
    if (size > (this.storeOptions.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE) - 100) {
      return {
        code: MessageCode.ENTITY_TOO_LARGE,
        reason: `answer of ${size} bytes is over the message limit`,
      };
    }
    return { code: MessageCode.SUCCESS, content };
  }

  /** GetPropertySubscriptions: one row per remote property (name, edgeName, pushType, pushThreshold). */
  private propertySubscriptions(thing: ServerThing): InfoTable {
    const rows = [...this.remoteProperties(thing.template)].map(([name, { aspects }]) => ({
      name: { baseType: BaseType.STRING, value: name } as TypedValue,
      edgeName: { baseType: BaseType.STRING, value: aspects.edgeName ?? name } as TypedValue,
      pushType: { baseType: BaseType.STRING, value: aspects.pushType ?? 'ALWAYS' } as TypedValue,
      pushThreshold: { baseType: BaseType.NUMBER, value: aspects.pushThreshold ?? 0 } as TypedValue,
    }));
    return {
      dataShape: [
        { name: 'name', baseType: BaseType.STRING },
        { name: 'edgeName', baseType: BaseType.STRING },
        { name: 'pushType', baseType: BaseType.STRING },
        { name: 'pushThreshold', baseType: BaseType.NUMBER },
      ],
      rows,
    };
  }

  /** Whether a Thing is bound (the server says; the store alone does not know). */
  protected isConnected(_thing: string): boolean {
    return false;
  }

  private implementsTemplate(template: string, wanted: string): boolean {
    for (let t: string | undefined = template, depth = 0; t && depth < 32; depth++) {
      if (t === wanted) return true;
      t = this.templates.get(t)?.base;
    }
    return false;
  }

  private updateValues(
    thing: ServerThing,
    values: TypedValue | undefined,
  ): { code: number; reason?: string } {
    if (!thing.enabled) return { code: MessageCode.FORBIDDEN, reason: `Thing ${thing.name} is not enabled` };
    if (!values || values.baseType !== BaseType.INFOTABLE) {
      return { code: MessageCode.BAD_REQUEST, reason: 'parameter values (INFOTABLE) is required' };
    }
    const table = values.value;
    const shape = new Map(table.dataShape.map((f) => [f.name, f.baseType]));
    const expected: Array<[string, number]> = [
      ['name', BaseType.STRING],
      ['value', BaseType.VARIANT],
      ['time', BaseType.DATETIME],
      ['quality', BaseType.STRING],
    ];
    for (const [n, t] of expected) {
      if (shape.get(n) !== t)
        return { code: MessageCode.BAD_REQUEST, reason: `values is not a NamedVTQ table (${n})` };
    }
    const updates: Array<[string, StoredValue]> = [];
    for (const row of table.rows) {
      const edgeName = row.name?.value;
      const time = row.time?.value;
      const quality = row.quality?.value;
      if (
        typeof edgeName !== 'string' ||
        typeof time !== 'number' ||
        typeof quality !== 'string' ||
        !row.value
      ) {
        return { code: MessageCode.BAD_REQUEST, reason: 'incomplete NamedVTQ row' };
      }
      // Rows name the property as the edge knows it (its edgeName).
      const remote = [...this.remoteProperties(thing.template)].find(
        ([n, p]) => (p.aspects.edgeName ?? n) === edgeName,
      );
      if (!remote)
        return { code: MessageCode.BAD_REQUEST, reason: `property ${edgeName} not found on ${thing.name}` };
      const [name, { type }] = remote;
      const value = unwrapVariant(row.value);
      if (TYPE_NAMES.get(value.baseType) !== type) {
        return {
          code: MessageCode.BAD_REQUEST,
          reason: `property ${name} is ${type}, got ${TYPE_NAMES.get(value.baseType)}`,
        };
      }
      if (type === 'JSON') {
        try {
          JSON.parse(value.value as string);
        } catch {
          return { code: MessageCode.BAD_REQUEST, reason: `property ${name}: invalid JSON` };
        }
      }
      updates.push([name, { value, time, quality }]);
    }
    for (const [name, v] of updates) thing.properties.set(name, v);
    thing.updates += updates.length;
    return { code: MessageCode.SUCCESS };
  }
}
