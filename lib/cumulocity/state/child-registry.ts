/**
 * The durable list of child devices a gateway has registered, and which gateway identity each belongs
 * to (see device-registration.ts for the allocation rule). Persisted as JSON:
 * `{"version":1,"gatewayId":"…","children":{"<childId>":<gateway index>},"cellular":["<childId>"]}`.
 *
 * A child is written to the file only once its registration was acknowledged by the broker, so a crash
 * in between re-registers it (harmless: `101` of an existing child only links it again) rather than
 * never registering it. A file written for another gateway id is ignored: those children must be
 * registered again under the new gateway.
 */
import { JsonFile } from './json-file';
import {
  allocateChildInPlace,
  childrenOf,
  DEFAULT_MAX_CHILDREN,
  gatewayIndexOf,
  restoreAllocation,
  type Allocation,
  type MutableAllocationState,
} from '../mapping/device-registration';

export interface ChildRegistryOptions {
  /** JSON file; undefined keeps the registry in memory only. */
  file?: string;
  gatewayId: string;
  maxChildren?: number;
}

interface RegistryFile {
  version: 1;
  gatewayId: string;
  children: Record<string, number>;
  cellular: string[];
}

export class ChildRegistry {
  /** Every child with an identity, registered or being registered; ours, changed in place. */
  private allocation: MutableAllocationState = { assignments: {}, counts: [] };
  private readonly registered = new Set<string>();
  private readonly cellular = new Set<string>();
  private readonly store: JsonFile;

  constructor(private readonly options: ChildRegistryOptions) {
    this.store = new JsonFile(options.file, () => this.snapshot());
  }

  /** Loads the file. Returns a warning text when part of it had to be ignored. */
  load(): string | undefined {
    const warnings: string[] = [];
    const raw = this.store.readSync((m) => warnings.push(m)) as Partial<RegistryFile> | undefined;
    if (raw === undefined) return warnings[0];
    if (!raw || typeof raw !== 'object' || raw.version !== 1) {
      return 'the child registry has an unknown format; children will be registered again';
    }
    if (raw.gatewayId !== this.options.gatewayId) {
      return `the child registry belongs to gateway ${JSON.stringify(raw.gatewayId)}; children will be registered again under ${JSON.stringify(this.options.gatewayId)}`;
    }
    try {
      this.allocation = restoreAllocation({ assignments: raw.children });
    } catch (err) {
      return `the child registry is invalid (${(err as Error).message}); children will be registered again`;
    }
    for (const childId of Object.keys(this.allocation.assignments)) this.registered.add(childId);
    if (Array.isArray(raw.cellular)) {
      for (const id of raw.cellular)
        if (typeof id === 'string' && this.registered.has(id)) this.cellular.add(id);
    }
    return warnings[0];
  }

  isRegistered(childId: string): boolean {
    return this.registered.has(childId);
  }

  isCellular(childId: string): boolean {
    return this.cellular.has(childId);
  }

  /** The identity a child belongs to (registered or being registered), or undefined. */
  gatewayOf(childId: string): number | undefined {
    return gatewayIndexOf(this.allocation, childId);
  }

  /** Gives a child its identity (kept if it has one already). */
  allocate(childId: string): Allocation {
    return allocateChildInPlace(this.allocation, childId, {
      maxChildren: this.options.maxChildren ?? DEFAULT_MAX_CHILDREN,
    });
  }

  /** Records an acknowledged registration and resolves once it is on disk. */
  markRegistered(childId: string, cellular: boolean): Promise<void> {
    this.registered.add(childId);
    if (cellular) this.cellular.add(childId);
    else this.cellular.delete(childId);
    return this.store.save();
  }

  /** Registered children of one identity, sorted. */
  childrenOf(gatewayIndex: number): string[] {
    return childrenOf(this.allocation, gatewayIndex).filter((id) => this.registered.has(id));
  }

  /** Identities holding at least one registered child (0 always included), ascending. */
  gatewayIndices(): number[] {
    const indices = new Set<number>([0]);
    for (const childId of this.registered) indices.add(this.allocation.assignments[childId]);
    return [...indices].sort((a, b) => a - b);
  }

  /** Children per identity, registered or being registered. */
  get counts(): readonly number[] {
    return this.allocation.counts;
  }

  get size(): number {
    return this.registered.size;
  }

  /** Resolves once every save so far is on disk. */
  flush(): Promise<void> {
    return this.store.flush();
  }

  private snapshot(): RegistryFile {
    const children: Record<string, number> = {};
    for (const childId of [...this.registered].sort())
      children[childId] = this.allocation.assignments[childId];
    return {
      version: 1,
      gatewayId: this.options.gatewayId,
      children,
      cellular: [...this.cellular].sort(),
    };
  }
}
