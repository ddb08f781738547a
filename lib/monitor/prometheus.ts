import type { ConnectionSnapshot, NetworkSnapshot } from './snapshot';

export interface MetricSample {
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: MetricSample[];
}

/** Label values escaped as the Prometheus text format (0.0.4) wants: backslash, quote, newline. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** The text exposition format: one HELP and TYPE per family, then its samples. */
export function renderPrometheus(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    lines.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
        .join(',');
      lines.push(`${f.name}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

const CONNECTION_METRICS: Array<[string, MetricFamily['type'], string, (c: ConnectionSnapshot) => number]> = [
  [
    'thingpark_connection_up',
    'gauge',
    '1 when the connection to the platform is up.',
    (c) => +(c.state === 'connected'),
  ],
  ['thingpark_connection_reconnects_total', 'counter', 'Reconnections since start.', (c) => c.reconnects],
  ['thingpark_queue_entries', 'gauge', 'Messages waiting for the platform.', (c) => c.queued],
  ['thingpark_queue_bytes', 'gauge', 'Bytes waiting for the platform.', (c) => c.bytes],
  ['thingpark_delivered_total', 'counter', 'Messages the platform acknowledged.', (c) => c.delivered],
  ['thingpark_dropped_total', 'counter', 'Messages dropped because the buffer was full.', (c) => c.dropped],
  ['thingpark_rejected_total', 'counter', 'Messages refused because the buffer was full.', (c) => c.rejected],
  ['thingpark_retries_total', 'counter', 'Deliveries tried again.', (c) => c.retries],
  [
    'thingpark_dead_letters',
    'gauge',
    'Messages the platform refused for good, kept aside.',
    (c) => c.deadLetters,
  ],
];

/** The counters of the sidebar as Prometheus families, one sample per connection / network. */
export function monitorFamilies(
  connections: readonly ConnectionSnapshot[],
  networks: readonly NetworkSnapshot[],
  devicesSeen: number,
): MetricFamily[] {
  const families: MetricFamily[] = CONNECTION_METRICS.map(([name, type, help, value]) => ({
    name,
    type,
    help,
    samples: connections.map((c) => ({
      labels: { id: c.id, name: c.name, type: c.type, platform: c.platform },
      value: value(c),
    })),
  }));
  const networkLabels = (n: NetworkSnapshot) => ({ id: n.id, name: n.name, mode: n.mode });
  families.push(
    {
      name: 'thingpark_network_up',
      type: 'gauge',
      help: '1 when the network receives uplinks (HTTP mode, or MQTT mode connected).',
      samples: networks.map((n) => ({
        labels: networkLabels(n),
        value: +(n.state === 'connected' || n.state === 'listening'),
      })),
    },
    {
      name: 'thingpark_uplinks_total',
      type: 'counter',
      help: 'ThingPark documents received.',
      samples: networks.map((n) => ({ labels: networkLabels(n), value: n.uplinks })),
    },
    {
      name: 'thingpark_devices_seen',
      type: 'gauge',
      help: 'Devices in the last-seen table (at most 1000).',
      samples: [{ labels: {}, value: devicesSeen }],
    },
  );
  return families;
}
