import { EntityType, MessageCode } from '../alwayson/constants';
import { singleRowTable, Typed } from '../alwayson/helpers';
import {
  DOWNLINK_PROPERTIES,
  propertyTypesFrom,
  STATUS_PROPERTY,
  UPLINK_PROPERTY,
  type PropertyTypes,
} from '../mapping/thing-mapping';
import { AlwaysOnClientError, ProvisioningError } from '../transport/errors';
import type { AlwaysOnRequester } from '../transport/requests';
import type { ThingProvisioner } from './provisioner';

/**
 * Our ThingTemplate on the platform: made sure of (created from RemoteThing when missing and allowed, with
 * `downlinkStatus` added), and its property definitions read.
 */
export class TemplateSetup {
  /** Whether we created the template (then we know its properties even if the platform will not list them). */
  private templateCreated = false;

  constructor(
    private readonly requester: AlwaysOnRequester,
    private readonly provisioner: ThingProvisioner,
    readonly templateName: string,
    private readonly warn: (text: string) => void,
  ) {}

  /** The template exists (created if need be); a missing template the key may not create says what to do. */
  async ensure(): Promise<void> {
    const template = await this.provisioner.ensureTemplate().catch((e: unknown) => {
      throw this.templateError(e);
    });
    if (template === 'created') {
      this.templateCreated = true;
      await this.addStatusProperty();
    }
  }

  /** The template's properties; refused when it has no `uplinkData`. */
  async properties(): Promise<PropertyTypes | undefined> {
    const properties = await this.readProperties();
    if (properties && !properties.has(UPLINK_PROPERTY)) {
      throw new ProvisioningError(
        'template-properties',
        `ThingTemplate ${this.templateName} has no ${UPLINK_PROPERTY} property: import resources/thingworx/ThingParkDeviceTemplate.xml or add a remote JSON property ${UPLINK_PROPERTY}`,
        undefined,
        { retryable: false },
      );
    }
    return properties;
  }

  /** A missing template the key may not create: say what to do. Other failures keep their own message. */
  private templateError(e: unknown): unknown {
    if (!(e instanceof ProvisioningError)) return e;
    const creating = /^(CreateThingTemplate|AddPropertyDefinition)/.test(e.step);
    if (e.step === 'template-missing' || (creating && e.code === MessageCode.FORBIDDEN)) {
      return new ProvisioningError(
        e.step,
        `ThingTemplate ${this.templateName} is missing and could not be created (${e.message}): import resources/thingworx/ThingParkDeviceTemplate.xml, or let the application key's user create ThingTemplates`,
        e,
        { retryable: false, code: e.code },
      );
    }
    return e;
  }

  /** Our template was just created with uplinkData and downlink: add downlinkStatus too. */
  private async addStatusProperty(): Promise<void> {
    try {
      await this.requester.request({
        entityType: EntityType.THINGTEMPLATES,
        entityName: this.templateName,
        characteristicName: 'AddPropertyDefinition',
        params: singleRowTable({
          name: Typed.string(STATUS_PROPERTY),
          description: Typed.string('How the last downlink written to downlink went'),
          type: Typed.string('JSON'),
          remote: Typed.boolean(true),
          remotePropertyName: Typed.string(STATUS_PROPERTY),
          pushType: Typed.string('ALWAYS'),
          dataChangeType: Typed.string('ALWAYS'),
          readOnly: Typed.boolean(false),
          // The pushed value is the value: ThingWorx never reads it from the edge.
          remoteBindingAspects: Typed.json({ cacheTime: -1 }),
        }),
      });
    } catch (e) {
      this.warn(`could not add ${STATUS_PROPERTY} to ThingTemplate ${this.templateName}: ${errorMessage(e)}`);
    }
  }

  /**
   * The template's property definitions (GetInstancePropertyDefinitions, inherited and shape properties included).
   * A platform that does not answer it: the properties we created, if we did, else unknown (only uplinkData is
   * written), with a warning.
   */
  private async readProperties(): Promise<PropertyTypes | undefined> {
    try {
      const r = await this.requester.request({
        entityType: EntityType.THINGTEMPLATES,
        entityName: this.templateName,
        characteristicName: 'GetInstancePropertyDefinitions',
      });
      return propertyTypesFrom(r.content);
    } catch (e) {
      if (e instanceof AlwaysOnClientError && e.retryable) throw e;
      this.warn(
        `could not read the properties of ThingTemplate ${this.templateName} (${errorMessage(e)}): only ${UPLINK_PROPERTY} is written`,
      );
      if (!this.templateCreated) return undefined;
      return new Map([
        [UPLINK_PROPERTY, 'JSON'],
        [DOWNLINK_PROPERTIES[0], 'JSON'],
        [STATUS_PROPERTY, 'JSON'],
      ]);
    }
  }
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
