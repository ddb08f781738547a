import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

export interface BrokerOptions {
  /** user → password; when set, anonymous access is refused. */
  users?: Record<string, string>;
  tls?: { certFile: string; keyFile: string; caFile?: string };
  /** Extra mosquitto.conf lines (ACLs, limits). */
  extra?: string[];
  /** Keep sessions and their queued messages across a restart (persistent clients). */
  persistence?: boolean;
}

export const hasMosquitto =
  spawnSync('sh', ['-c', 'command -v mosquitto'], { encoding: 'utf8' }).status === 0;

/** Ports `freePort` gave in this process. */
const handedOut = new Set<number>();

/**
 * A loopback port nothing listens on, never one given before in this process: a port taken for
 * port 0 and closed may be handed out again before its user binds it (a Node-RED and its inspector
 * were once given the same port).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
      server.on('error', reject);
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/**
 * A loopback port where nothing listens, and where nothing will while the tests run: a privileged
 * port (never handed out for port 0, never a connection's source port), checked to refuse. A port
 * taken from `freePort` and closed can be handed to the next server that asks for port 0.
 */
export async function refusedPort(): Promise<number> {
  for (const port of [1, 9, 13, 17, 19]) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });
    if (refused) return port;
  }
  throw new Error('every port tried on 127.0.0.1 is listened on');
}

/** A real mosquitto on a random loopback port, with its own config, password and TLS files. */
export class Mosquitto {
  port = 0;
  private proc?: ChildProcess;
  // mosquitto started as root drops to the `mosquitto` user: its files must be readable by others.
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mosquitto-'));
  log = '';

  constructor(private readonly options: BrokerOptions = {}) {}

  get url(): string {
    return `${this.options.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    if (!hasMosquitto) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
    if (!this.port) this.port = await freePort();
    fs.chmodSync(this.dir, this.options.persistence ? 0o777 : 0o755);
    const conf = [`listener ${this.port} 127.0.0.1`, 'log_dest stderr', 'log_type error', 'log_type warning'];
    if (this.options.persistence) {
      conf.push(
        'persistence true',
        `persistence_location ${this.dir}/`,
        'max_queued_messages 0',
        'autosave_interval 1',
      );
    } else {
      conf.push('persistence false');
    }
    const { users, tls, extra } = this.options;
    if (users) {
      const pwfile = path.join(this.dir, 'passwd');
      fs.writeFileSync(pwfile, '');
      for (const [user, password] of Object.entries(users)) {
        const r = spawnSync('mosquitto_passwd', ['-b', pwfile, user, password], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
      }
      fs.chmodSync(pwfile, 0o644);
      conf.push('allow_anonymous false', `password_file ${pwfile}`);
    } else {
      conf.push('allow_anonymous true');
    }
    if (tls) {
      conf.push(`certfile ${tls.certFile}`, `keyfile ${tls.keyFile}`);
      if (tls.caFile) conf.push(`cafile ${tls.caFile}`);
    }
    conf.push(...(extra ?? []));
    const confFile = path.join(this.dir, 'mosquitto.conf');
    fs.writeFileSync(confFile, conf.join('\n') + '\n');
    this.proc = spawn('mosquitto', ['-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    try {
      await waitForPort(this.port, 5000);
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${this.log.trim()}`);
    }
    return this;
  }

  /**
   * Changes (or adds) a user's password and makes the running broker reload it (SIGHUP): clients connected with the
   * old password are disconnected, as a platform does when it revokes credentials.
   */
  setPassword(user: string, password: string): void {
    const pwfile = path.join(this.dir, 'passwd');
    const r = spawnSync('mosquitto_passwd', ['-b', pwfile, user, password], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
    fs.chmodSync(pwfile, 0o644);
    this.proc?.kill('SIGHUP');
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    this.proc = undefined;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
      setTimeout(() => proc.kill('SIGKILL'), 2000).unref();
    });
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`broker did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
