/*
 * `npm run soak`: a real Node-RED (uplink in → wmw out) under a steady signed load for SOAK_MINUTES
 * (default 30) while the platform side fails again and again: the broker killed with SIGKILL and
 * restarted, connections reset, the gateway's credentials revoked then restored. Prints the counts
 * and Node-RED's memory as it goes, then a summary table; exits 1 if an uplink was lost, reordered
 * or sent again beyond the in-flight window.
 *
 *   SOAK_MINUTES   run length (default 30)
 *   SOAK_RATE      uplinks per second (default 50)
 *   SOAK_DEVICES   devices (default 500)
 *   SOAK_FAULT_S   seconds between faults (default: a sixth of the run, at most 60)
 *   FAULT_SEED     replays a run's fault choices
 */
import { hasMosquitto } from '../../testkit/broker';
import { assertNothingLost, mb, type Memory } from './checks';
import { faultSeed, noteRefusals, seededRandom } from './rig';
import { FaultStage } from './stage';
import { devEUIs, sleep } from './traffic';

const minutes = Number(process.env.SOAK_MINUTES ?? 30);
const rate = Number(process.env.SOAK_RATE ?? 50);
const devices = devEUIs(Number(process.env.SOAK_DEVICES ?? 500));
const runMs = minutes * 60000;
const faultEveryMs = Number(process.env.SOAK_FAULT_S ?? Math.min(60, (minutes * 60) / 6)) * 1000;
const sampleEveryMs = Math.min(60000, Math.max(5000, faultEveryMs / 2));

type FaultKind = 'broker killed' | 'connections reset' | 'auth revoked';
const FAULT_KINDS: FaultKind[] = ['broker killed', 'connections reset', 'auth revoked'];

/** The columns printed while the soak runs: name and width. */
const COLUMNS: Array<[string, number]> = [
  ['time', 6],
  ['sent', 8],
  ['accepted', 8],
  ['delivered', 9],
  ['dups', 5],
  ['pending', 7],
  ['refused', 7],
  ['RSS', 9],
  ['RSS(GC)', 9],
  ['heap(GC)', 9],
];

const rowLine = (cells: Array<string | number>) =>
  cells.map((c, i) => String(c).padStart(COLUMNS[i][1])).join('  ');

function table(rows: Array<Record<string, string | number>>): string {
  const keys = Object.keys(rows[0]);
  const width = keys.map((k) => Math.max(k.length, ...rows.map((r) => String(r[k]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(width[i])).join('  ');
  return [
    line(keys),
    line(width.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(keys.map((k) => String(r[k])))),
  ].join('\n');
}

const clock = (ms: number) =>
  `${Math.floor(ms / 60000)}:${String(Math.floor((ms % 60000) / 1000)).padStart(2, '0')}`;

async function main(): Promise<number> {
  if (!hasMosquitto) {
    console.error('soak: mosquitto is not installed (apt-get install mosquitto)');
    return 2;
  }
  const random = seededRandom(faultSeed('soak'));
  console.log(
    `soak: ${minutes} min, ${rate} uplinks/s over ${devices.length} devices, a fault every ${faultEveryMs / 1000} s`,
  );
  const stage = await new FaultStage({ platform: 'wmw', auth: true }).start();
  const { ledger } = stage;
  const faultLog: Array<Record<string, string>> = [];
  let faultsSinceRow: string[] = [];
  const start = Date.now();
  const elapsed = () => Date.now() - start;

  console.log(`\n${rowLine(COLUMNS.map(([name]) => name))}  faults since the last row`);
  const sample = async (): Promise<Memory> => {
    const rssNow = stage.rss();
    const memory = await stage.memory();
    const s = ledger.summary();
    const cells = [
      clock(elapsed()),
      s.sent,
      s.accepted,
      s.delivered,
      s.duplicates,
      s.accepted - s.delivered - s.refused,
      s.refused,
      mb(rssNow),
      mb(memory.rss),
      mb(memory.heapUsed),
    ];
    console.log(`${rowLine(cells)}  ${faultsSinceRow.join(', ')}`);
    faultsSinceRow = [];
    return memory;
  };

  const load = stage.load({ devices, rate });
  const sending = load.run();
  await sleep(Math.min(10000, runMs / 10));
  const baseline = await sample();

  let stopping = false;
  const faulting = (async () => {
    let next = 0;
    while (!stopping) {
      const wait = faultEveryMs * (0.75 + random() * 0.5);
      const until = Date.now() + wait;
      while (!stopping && Date.now() < until) await sleep(200);
      if (stopping || elapsed() > runMs - 15000) break;
      const kind = FAULT_KINDS[next++ % FAULT_KINDS.length];
      const at = clock(elapsed());
      let detail: string;
      if (kind === 'broker killed') {
        const downMs = Math.round(500 + random() * 2500);
        await stage.killBroker(downMs);
        detail = `down ${downMs} ms`;
      } else if (kind === 'connections reset') {
        let n = 0;
        const times = 1 + Math.floor(random() * 3);
        for (let i = 0; i < times; i++) {
          n += stage.resetConnections();
          await sleep(300 + random() * 1500);
        }
        detail = `${n} reset in ${times} burst(s)`;
      } else {
        const offMs = Math.round(3000 + random() * 4000);
        stage.revokeAuth();
        await sleep(300);
        stage.relay.reset();
        await sleep(offMs);
        stage.restoreAuth();
        detail = `refused for ${offMs} ms`;
      }
      faultsSinceRow.push(kind);
      faultLog.push({ at, fault: kind, detail });
    }
  })();

  while (elapsed() < runMs) {
    await sleep(Math.min(sampleEveryMs, Math.max(0, runMs - elapsed())));
    if (elapsed() < runMs) await sample();
  }
  stopping = true;
  load.stop();
  await Promise.all([sending, faulting]);
  const settled = await ledger.settled(60000);
  noteRefusals(stage.red, ledger);
  const end = await sample();
  const alive = await stage.answers();
  const faults = stage.faults.brokerKills + stage.faults.resets + stage.faults.authRevoked;
  await stage.dispose();

  const s = ledger.summary();
  let verdict = 'PASS';
  const problems: string[] = [];
  try {
    assertNothingLost(ledger, Math.max(1, faults), 'soak');
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (!settled) problems.push('not everything was delivered within 60 s of the end');
  if (!alive) problems.push('Node-RED stopped answering');
  if (s.failedPosts > 0) problems.push(`${s.failedPosts} uplinks were not accepted`);
  if (problems.length) verdict = 'FAIL';

  console.log('\nfaults:');
  console.log(faultLog.length ? table(faultLog) : '(none)');
  console.log('\nsummary:');
  console.log(
    table([
      { metric: 'duration', value: clock(elapsed()) },
      { metric: 'uplinks sent', value: s.sent },
      { metric: 'accepted (HTTP 200)', value: s.accepted },
      { metric: 'not accepted', value: s.failedPosts },
      { metric: 'refused (Catch)', value: s.refused },
      { metric: 'delivered', value: s.delivered },
      { metric: 'duplicates', value: s.duplicates },
      { metric: 'out of order', value: s.outOfOrder },
      { metric: 'lost', value: s.lost },
      { metric: 'broker kills', value: stage.faults.brokerKills },
      { metric: 'connection resets', value: stage.faults.resets },
      { metric: 'auth revocations', value: stage.faults.authRevoked },
      { metric: 'heap after GC, start', value: mb(baseline.heapUsed) },
      { metric: 'heap after GC, end', value: mb(end.heapUsed) },
      { metric: 'RSS after GC, start', value: mb(baseline.rss) },
      { metric: 'RSS after GC, end', value: mb(end.rss) },
      { metric: 'verdict', value: verdict },
    ]),
  );
  for (const p of problems) console.log(`\n${p}`);
  return problems.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
