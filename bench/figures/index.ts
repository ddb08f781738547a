import type { Figure } from '../lib/figure';
import { codec } from './codec';
import { cumulocity } from './cumulocity';
import { httpIngest } from './http-ingest';
import { idle } from './idle';
import { mqttIngest } from './mqtt-ingest';
import { outage } from './outage';
import { thingworx } from './thingworx';

/** Every figure, in the order they run and print. A new figure is a module here plus one line. */
export const figures: Figure[] = [httpIngest, mqttIngest, outage, thingworx, cumulocity, idle, codec];
