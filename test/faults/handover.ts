import * as mqtt from 'mqtt';
import { sampleUplink } from '../../testkit/simulator/sample-documents';
import { postTunnelDocument, type TunnelTarget } from '../../testkit/simulator/uplink-poster';
import type { Ledger } from './ledger';
import { sleep } from './traffic';

/**
 * ThingPark's SEQUENTIAL strategy: each document goes to the first destination; on an error, a
 * timeout or a non-2xx answer, to the next one, and so on round the list until one answers 200.
 * A device's next uplink waits for its last to be taken, as a device's frames come seconds apart.
 */
export async function sendSequential(
  ledger: Ledger,
  destinations: TunnelTarget[],
  options: { devices: string[]; total: number; rate: number; timeoutMs?: number },
): Promise<{ failovers: number }> {
  const { devices, total, rate, timeoutMs = 5000 } = options;
  let failovers = 0;
  const start = Date.now();
  const perDevice = new Map<string, Promise<void>>();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    if (due > Date.now()) await sleep(due - Date.now());
    const dev = devices[i % devices.length];
    const before = perDevice.get(dev) ?? Promise.resolve();
    perDevice.set(
      dev,
      before.then(async () => {
        const fCnt = ledger.allocate(dev);
        const body = sampleUplink(dev, fCnt);
        for (let attempt = 0; attempt < 50; attempt++) {
          const target = destinations[attempt % destinations.length];
          const ok = await Promise.race([
            postTunnelDocument(target, 'DevEUI_uplink', body).then(
              (res) => res.status === 200,
              () => false,
            ),
            sleep(timeoutMs).then(() => false),
          ]);
          if (ok) return ledger.noteAccepted(dev, fCnt);
          ledger.failedPosts++;
          failovers++;
          if (attempt % destinations.length === destinations.length - 1) await sleep(200);
        }
      }),
    );
  }
  await Promise.all(perDevice.values());
  return { failovers };
}

/**
 * The IoT Flow side: a publisher handing documents to the broker at QoS 1. A document is handed
 * over once the broker acknowledged it (from then on, losing it is ours).
 */
export async function publishToIotFlow(
  ledger: Ledger,
  url: string,
  options: { devices: string[]; total: number; rate: number },
): Promise<void> {
  const { devices, total, rate } = options;
  const client = await mqtt.connectAsync(url, {
    clientId: 'iot-flow-publisher',
    clean: true,
    reconnectPeriod: 0,
  });
  const start = Date.now();
  const pending: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    if (due > Date.now()) await sleep(due - Date.now());
    const dev = devices[i % devices.length];
    const fCnt = ledger.allocate(dev);
    const doc = JSON.stringify({ DevEUI_uplink: sampleUplink(dev, fCnt) });
    pending.push(
      client
        .publishAsync(`mqtt/things/${dev}/uplink`, doc, { qos: 1 })
        .then(() => ledger.noteAccepted(dev, fCnt)),
    );
  }
  await Promise.all(pending);
  await client.endAsync();
}
