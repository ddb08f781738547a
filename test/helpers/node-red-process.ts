import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { freePort } from '../../testkit/broker';
import { repoRoot } from '../../testkit/paths';

const FLOWS_STARTED = '[test] flows started';

/**
 * A real Node-RED in its own process (from the dev dependencies) with this package installed in a
 * user directory of its own: for tests that kill and restart it.
 */
export class NodeRedProcess {
  readonly userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-proc-'));
  port = 0;
  output = '';
  private proc?: ChildProcess;

  constructor(
    flows: unknown[],
    credentials?: Record<string, unknown>,
    private readonly extraSettings: Record<string, unknown> = {},
  ) {
    const link = path.join(this.userDir, 'node_modules', '@thingpark-edge', 'node-red-connectors');
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(repoRoot, link, 'dir');
    fs.writeFileSync(path.join(this.userDir, 'flows.json'), JSON.stringify(flows));
    if (credentials)
      fs.writeFileSync(path.join(this.userDir, 'flows_cred.json'), JSON.stringify(credentials));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    const settings = path.join(this.userDir, 'settings.js');
    // Node-RED answers its admin API before the flows have started (the nodes' HTTP routes are not
    // there yet), so a second logger marks the moment the flows are running, whatever the console level.
    fs.writeFileSync(
      settings,
      `const settings = ${JSON.stringify({
        uiHost: '127.0.0.1',
        uiPort: this.port,
        flowFile: 'flows.json',
        credentialSecret: false,
        telemetry: { enabled: false },
        diagnostics: { enabled: false },
        logging: { console: { level: 'warn' } },
        editorTheme: { tours: false, palette: { catalogues: [] } },
        ...this.extraSettings,
      })};
settings.logging = Object.assign({}, settings.logging, {
  testFlowsStarted: {
    level: 'info',
    metrics: false,
    audit: false,
    handler: () => (entry) => {
      if (/^(Started flows|Waiting for missing types)/.test(String(entry.msg)))
        process.stdout.write('${FLOWS_STARTED}\\n');
    },
  },
});
module.exports = settings;`,
    );
    const startedBefore = this.output.split(FLOWS_STARTED).length;
    this.proc = spawn(
      process.execPath,
      [
        require.resolve(`${process.env.THINGPARK_NODE_RED || 'node-red'}/red.js`),
        '-u',
        this.userDir,
        '-s',
        settings,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.proc.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    const end = Date.now() + 30000;
    for (;;) {
      try {
        if (this.output.split(FLOWS_STARTED).length > startedBefore && (await fetch(`${this.url}/flows`)).ok)
          return;
      } catch {
        // not listening yet
      }
      if (Date.now() > end || this.proc.exitCode !== null)
        throw new Error(`Node-RED did not start:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Ends the process the hard way (power cut, OOM killer). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await exited;
  }

  async dispose(): Promise<void> {
    await this.kill('SIGTERM');
    fs.rmSync(this.userDir, { recursive: true, force: true });
  }
}
