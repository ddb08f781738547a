import * as fs from 'fs';
import * as path from 'path';

/**
 * A small JSON state file written atomically (temporary file, fsync, rename), so a crash leaves either
 * the previous or the new content, never half of one. Writes are coalesced: `save()` while a write is
 * running schedules one more write of the latest snapshot, and every caller's promise settles once a
 * write that started after its call is on disk.
 */
export class JsonFile {
  private writing?: Promise<void>;
  private dirty = false;
  private waiters: { resolve: () => void; reject: (err: Error) => void }[] = [];

  /** `file` undefined: memory only (save resolves at once). */
  constructor(
    readonly file: string | undefined,
    private readonly snapshot: () => unknown,
  ) {}

  /**
   * Reads the file: undefined when it does not exist. A file that is not JSON is moved aside to
   * `<file>.corrupt-<time>` and reported through `onCorrupt`, then treated as absent.
   */
  readSync(onCorrupt?: (message: string) => void): unknown {
    if (!this.file) return undefined;
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      const aside = `${this.file}.corrupt-${Date.now()}`;
      try {
        fs.renameSync(this.file, aside);
      } catch {
        // Keeping it in place is fine: the next save replaces it.
      }
      onCorrupt?.(`${path.basename(this.file)} was not valid JSON; moved to ${path.basename(aside)}`);
      return undefined;
    }
  }

  /** Writes the current snapshot (coalesced with other saves). */
  save(): Promise<void> {
    if (!this.file) return Promise.resolve();
    this.dirty = true;
    const settled = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.writing) this.writing = this.loop();
    return settled;
  }

  /** Resolves when no write is running or scheduled. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing.catch(() => undefined);
  }

  private async loop(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        const waiters = this.waiters;
        this.waiters = [];
        try {
          await writeAtomic(this.file!, JSON.stringify(this.snapshot()));
          for (const w of waiters) w.resolve();
        } catch (err) {
          for (const w of waiters) w.reject(err as Error);
        }
      }
    } finally {
      this.writing = undefined;
    }
  }
}

async function writeAtomic(file: string, text: string): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const handle = await fs.promises.open(tmp, 'w');
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.promises.rename(tmp, file);
}
