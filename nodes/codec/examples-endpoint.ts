import type { Request, Response } from 'express';
import {
  Codec,
  DEFAULT_TIMEOUT_MS,
  loadCodec,
  readExamples,
  runExamples,
  type CodecExample,
} from '../../lib/codec';
import { errorMessage, type NodeAPI } from '../shared/red';

export const EXAMPLES_PATH = '/thingpark/codec/examples';
/** Example runs at once; more are answered 429. */
const MAX_RUNNING = 2;
let running = 0;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown) => (typeof v === 'string' ? v : '');

/**
 * "Run the examples" of the edit dialog: `POST /thingpark/codec/examples` with the dialog's codec
 * (`config`) and, for inline code, pasted `examples`; answers `{ok, results: [{description, pass,
 * difference?}]}` or `{ok: false, error}`. The codec runs in its sandbox, closed after the run.
 */
export function registerExamplesEndpoint(RED: NodeAPI): void {
  const admin = (RED as { httpAdmin?: NodeAPI['httpAdmin'] }).httpAdmin;
  if (!admin) return;
  admin.post(
    EXAMPLES_PATH,
    RED.auth.needsPermission('thingpark-codec.write'),
    (req: Request, res: Response) => {
      const body: unknown = req.body;
      if (!isRecord(body) || !isRecord(body.config))
        return void res.status(400).json({ ok: false, error: 'invalid' });
      if (running >= MAX_RUNNING) return void res.status(429).json({ ok: false, error: 'busy' });
      const config = body.config;
      running++;
      let codec: Codec | undefined;
      void (async () => {
        try {
          const source =
            str(config.source) === 'file' || str(config.source) === 'module'
              ? (config.source as 'file' | 'module')
              : 'inline';
          const userDir = (RED.settings as { userDir?: string }).userDir;
          const loaded = loadCodec(source, {
            code: str(config.code),
            path: str(config.path),
            module: str(config.module),
            userDir,
          });
          const format = ['iotflow', 'ts013'].includes(str(config.format))
            ? (config.format as 'iotflow' | 'ts013')
            : 'auto';
          const timeoutMs = Number(config.timeout) > 0 ? Number(config.timeout) : DEFAULT_TIMEOUT_MS;
          codec = new Codec(loaded.code, {
            format,
            timeoutMs,
            contract: loaded.contract,
            iotflow: loaded.iotflow,
          });
          await codec.functions();
          const pasted = Array.isArray(body.examples) ? (body.examples as CodecExample[]) : undefined;
          const examples = pasted ?? (loaded.dir ? readExamples(loaded.dir) : []);
          const results = await runExamples(
            codec,
            examples.filter((e) => isRecord(e) && isRecord(e.input)),
          );
          res.json({ ok: results.every((r) => r.pass), results });
        } catch (err) {
          res.json({ ok: false, error: errorMessage(err) });
        } finally {
          running--;
          await codec?.close();
        }
      })();
    },
  );
}
