import { QueueFullError } from './errors';
import type { PendingPush } from './key-state';
import { QueueScheduling } from './scheduling';
import type { PendingDelete } from './queue-state';

/*
 * Admission and limits: a push is taken in (its seq given, its entry kept in memory when it can go out
 * at once) or refused; at each write the queue is held to `maxEntries` and `maxBytes`, refusing the
 * newest (`reject`) or dropping the oldest (`drop-oldest`).
 */

/** Entries read per drop scan. */
const DROP_SCAN = 512;

export abstract class QueueAdmission<T> extends QueueScheduling<T> {
  /**
   * Takes a push in, or refuses it when it cannot fit (policy `reject`, or larger than `maxBytes`);
   * under `drop-oldest`, when the writes are far behind, the oldest waiting push makes room.
   */
  protected admit(key: string, json: string): Promise<void> {
    const size = Buffer.byteLength(json) + Buffer.byteLength(key);
    if (size > this.maxBytes) {
      this.rejected++;
      return Promise.reject(new QueueFullError('bytes', this.maxBytes));
    }
    if (this.policy === 'reject') {
      const full = this.fullFor(
        this.writingPushes + this.pendingPushes.length + 1,
        this.writingPushBytes + this.pendingPushBytes + size,
      );
      if (full) {
        this.rejected++;
        return Promise.reject(full);
      }
    } else if (this.pendingPushes.length >= this.maxEntries) {
      // Writes are far behind: the oldest waiting push would be dropped anyway.
      const oldest = this.pendingPushes.shift()!;
      this.pendingPushBytes -= oldest.size;
      this.discardPush(oldest);
      this.noteDropped(1);
      oldest.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const p: PendingPush = {
        key,
        json,
        size,
        seq: -1,
        at: Date.now(),
        resolve,
        reject,
        live: undefined,
        writing: false,
        doneWhileWriting: false,
      };
      if (this.isOpen) this.place(p);
      this.pendingPushes.push(p);
      this.pendingPushBytes += size;
      this.scheduleWork();
    });
  }

  /**
   * Gives a push (the queue is open) its seq. While the platform is connected, an entry whose key has
   * nothing waiting on disk joins the key's buffer at once: it can be delivered while it is written,
   * and one delivered before its write starts is never written at all. Otherwise it is read from the
   * store once written.
   */
  protected place(p: PendingPush): void {
    p.seq = this.nextSeq++;
    const ks = this.keyState(p.key);
    if (this.running && this.canKeep(ks)) {
      p.live = this.keep(ks, p, false);
      this.consider(ks);
    } else {
      ks.backlog++;
    }
  }

  /** A push leaves without being written (dropped or refused): its entry, if in memory, goes too. */
  protected discardPush(p: PendingPush): void {
    const le = p.live;
    if (!le) {
      if (p.seq >= 0) this.keyState(p.key).backlog--;
      return;
    }
    p.live = le.push = undefined;
    if (le.state === 'buffered') {
      this.live.delete(le.seq);
      const buf = le.ks.buffer!;
      buf.splice(buf.indexOf(le), 1);
      this.maybeForget(le.ks);
    } else {
      le.discarded = true;
    }
  }

  /**
   * Deletes the oldest entries not in flight until `needCount` entries and `needBytes` bytes are freed
   * (or none is left), adding the deletes to the batch being prepared.
   */
  protected async dropOldest(
    needCount: number,
    needBytes: number,
    deletes: PendingDelete[],
  ): Promise<{ count: number; bytes: number }> {
    let count = 0;
    let bytes = 0;
    let cursor = this.dropCursor;
    let minSkipped = Infinity;
    const enough = (): boolean => count >= needCount && bytes >= needBytes;
    scan: while (!enough()) {
      const rows = await this.store.readOldest(cursor, DROP_SCAN);
      for (const row of rows) {
        if (enough()) break scan;
        cursor = row.seq + 1;
        if (this.deleting.has(row.seq)) continue;
        const le = this.live.get(row.seq);
        if (le && le.state !== 'buffered') {
          minSkipped = Math.min(minSkipped, row.seq);
          continue;
        }
        const ks = this.keyState(row.key);
        if (le) {
          this.live.delete(row.seq);
          const buf = ks.buffer!;
          buf.splice(buf.indexOf(le), 1);
        } else if (ks.unfetched > 0) {
          ks.unfetched--;
        }
        deletes.push({ seq: row.seq, ks, size: row.size, sent: false });
        this.deleting.set(row.seq, true);
        count++;
        bytes += row.size;
      }
      if (rows.length < DROP_SCAN) break;
    }
    this.dropCursor = Math.min(minSkipped, cursor);
    this.noteDropped(count);
    return { count, bytes };
  }

  /**
   * The pushes of the write being prepared that fit the bounds once `deletes` are done: refuses the
   * newest (`reject`), or drops the oldest entries, then the oldest of these pushes (`drop-oldest`),
   * adding the drops to `deletes`.
   */
  protected async withinLimits(pushes: PendingPush[], deletes: PendingDelete[]): Promise<PendingPush[]> {
    let count = this.count - deletes.length;
    let bytes = this.bytes;
    for (const d of deletes) bytes -= d.size;
    for (const p of pushes) {
      count++;
      bytes += p.size;
    }
    if (count > this.maxEntries || bytes > this.maxBytes) {
      if (this.policy === 'reject') {
        // push() checks against the counters; this catches what it could not know (pushes made before
        // the store was open, or a store reopened over a lower limit): refuse the newest.
        const accepted: PendingPush[] = [];
        count -= pushes.length;
        for (const p of pushes) bytes -= p.size;
        for (const p of pushes) {
          if (count + 1 > this.maxEntries || bytes + p.size > this.maxBytes) {
            this.rejected++;
            this.discardPush(p);
            p.reject(
              count + 1 > this.maxEntries
                ? new QueueFullError('entries', this.maxEntries)
                : new QueueFullError('bytes', this.maxBytes),
            );
          } else {
            accepted.push(p);
            count++;
            bytes += p.size;
          }
        }
        pushes = accepted;
      } else {
        const freed = await this.dropOldest(count - this.maxEntries, bytes - this.maxBytes, deletes);
        count -= freed.count;
        bytes -= freed.bytes;
        let first = 0;
        while ((count > this.maxEntries || bytes > this.maxBytes) && first < pushes.length) {
          const p = pushes[first++];
          count--;
          bytes -= p.size;
          this.discardPush(p);
          this.noteDropped(1);
          p.resolve();
        }
        if (first > 0) pushes = pushes.slice(first);
      }
    }
    return pushes;
  }
}
