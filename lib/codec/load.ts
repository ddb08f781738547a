import * as fs from 'fs';
import * as path from 'path';
import type { PointContract } from './format';

export type CodecSource = 'inline' | 'file' | 'module';

export interface LoadedCodec {
  code: string;
  /** `driver.points` of an IoT Flow package.json (empty for other codecs). */
  contract: Record<string, PointContract>;
  /** True when the package declares an IoT Flow `driver` block. */
  iotflow: boolean;
  /** Folder of the driver package, where `examples/` lives (undefined for inline code). */
  dir?: string;
}

/**
 * Reads a codec's code on the host (the sandbox itself has no file system). A module is one
 * self-contained file (drivers are published bundled, `main`); relative requires are not followed.
 */
export function loadCodec(
  source: CodecSource,
  spec: { code?: string; path?: string; module?: string; userDir?: string },
): LoadedCodec {
  if (source === 'inline') return { code: spec.code ?? '', contract: {}, iotflow: false };
  if (source === 'file') {
    const file = path.resolve(spec.userDir ?? '.', spec.path ?? '');
    return { ...packageInfo(path.dirname(file)), code: fs.readFileSync(file, 'utf8') };
  }
  const name = spec.module ?? '';
  if (!/^(@[a-z0-9._~-]+\/)?[a-z0-9._~-]+$/i.test(name)) throw new Error(`not a package name: ${name}`);
  const dir = path.join(spec.userDir ?? '.', 'node_modules', name);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { main?: string };
  const main = path.resolve(dir, pkg.main ?? 'index.js');
  if (!main.startsWith(dir + path.sep)) throw new Error(`${name}: main is outside the package`);
  return { ...packageInfo(dir), code: fs.readFileSync(main, 'utf8'), dir };
}

function packageInfo(dir: string): Omit<LoadedCodec, 'code'> {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
      driver?: { points?: Record<string, PointContract> };
    };
    return { contract: pkg.driver?.points ?? {}, iotflow: !!pkg.driver, dir };
  } catch {
    return { contract: {}, iotflow: false, dir };
  }
}
