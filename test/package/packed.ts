import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoRoot } from '../../testkit/paths';

/** What `npm pack` made of the built tree: the tarball, unpacked as a registry install would see it. */
export interface Packed {
  tarball: string;
  /** The tarball's `package/` folder, unpacked. */
  dir: string;
  /** Paths inside the package, as npm listed them. */
  files: string[];
  manifest: PackageManifest;
}

export interface PackageManifest {
  name: string;
  version: string;
  license?: string;
  keywords?: string[];
  repository?: { type?: string; url?: string } | string;
  bugs?: { url?: string } | string;
  homepage?: string;
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  scripts?: Record<string, string>;
  'node-red'?: { version?: string; nodes?: Record<string, string> };
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, with its output kept (and no shell). */
export function run(
  cmd: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** npm's command line: the npm running this `npm test` when there is one, else `npm` on the PATH. */
export function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  const cli = process.env.npm_execpath;
  return cli && /\.[cm]?js$/.test(cli)
    ? run(process.execPath, [cli, ...args], { cwd, env })
    : run('npm', args, { cwd, env });
}

/** `npm pack --json` in `cwd`; returns the tarball's path and npm's list of its files. */
export async function npmPack(
  cwd: string,
  destination: string,
  extra: string[] = [],
): Promise<{ tarball: string; files: string[] }> {
  const r = await npm(['pack', '--json', '--pack-destination', destination, ...extra], cwd);
  if (r.status !== 0) throw new Error(`npm pack failed (${r.status}):\n${r.stderr}`);
  // Lifecycle scripts (prepack) write to stdout before npm's JSON.
  const json = r.stdout.slice(r.stdout.search(/^\[/m));
  const [info] = JSON.parse(json) as [{ filename: string; files: { path: string }[] }];
  return { tarball: path.join(destination, info.filename), files: info.files.map((f) => f.path) };
}

let packed: Promise<Packed> | undefined;

/**
 * The package as `npm pack` makes it from the tree the test run built (once per process). Scripts are
 * not run: prepack would rebuild dist/ under the running tests (test/package/prepack.test.ts packs a
 * fresh copy of the sources with them).
 */
export function packedPackage(): Promise<Packed> {
  packed ??= (async () => {
    const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'thingpark-pack-'));
    process.once('exit', () => fs.rmSync(dest, { recursive: true, force: true }));
    const { tarball, files } = await npmPack(repoRoot, dest, ['--ignore-scripts']);
    const untar = await run('tar', ['-xzf', tarball, '-C', dest], { cwd: dest });
    if (untar.status !== 0) throw new Error(`tar: ${untar.stderr}`);
    const dir = path.join(dest, 'package');
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageManifest;
    return { tarball, dir, files, manifest };
  })();
  return packed;
}
