/**
 * The deployment's storage locations for recordings (wrangler.jsonc `RECORDING_STORAGE`): each an R2 binding, the
 * binding of its own archive bucket and a label. A session names its location (`sessions.storage`, the session
 * object's record) and every read and write of its media goes through `storageBuckets`; the manifest stays with
 * its media. Each location archives into its own bucket, so media chosen for a jurisdiction never leaves it.
 */
import { z } from 'zod';
import { DEFAULT_STORAGE, StorageName, type StorageLocation } from '../protocol/recording-rules.ts';

const Declared = z
  .array(z.strictObject({ binding: StorageName, archive: StorageName, label: z.string().min(1).max(100) }))
  .min(1);

/** A session's two buckets: where its media is written, and where retention archives it. */
export interface StorageBuckets {
  name: string;
  recordings: R2Bucket;
  archive: R2Bucket;
}

/** A storage name that is not (or no longer) declared, or whose bindings are missing: a configuration fault. */
export class UnknownStorage extends Error {
  constructor(readonly storage: string) {
    super(`storage location ${storage} is not declared in this deployment (wrangler.jsonc RECORDING_STORAGE)`);
    this.name = 'UnknownStorage';
  }
}

function r2Binding(env: Env, name: string): R2Bucket | null {
  const value: unknown = (env as unknown as Record<string, unknown>)[name];
  const bucket = value as Partial<R2Bucket> | undefined;
  return typeof bucket?.head === 'function' && typeof bucket.createMultipartUpload === 'function'
    ? (value as R2Bucket)
    : null;
}

function declared(env: Env): z.infer<typeof Declared> {
  // Without the var (an older wrangler.jsonc) there is one location, the default bucket and its archive.
  const raw: unknown = env.RECORDING_STORAGE ?? [{ binding: DEFAULT_STORAGE, archive: 'ARCHIVE', label: 'Default' }];
  return Declared.parse(typeof raw === 'string' ? JSON.parse(raw) : raw);
}

/** The locations a rule may choose, in the order declared (the first is the default). */
export function storageLocations(env: Env): StorageLocation[] {
  return declared(env)
    .filter((entry) => r2Binding(env, entry.binding) && r2Binding(env, entry.archive))
    .map((entry) => ({ name: entry.binding, label: entry.label, archive: entry.archive }));
}

/** Whether `name` is a location of this deployment. */
export function isStorage(env: Env, name: string): boolean {
  return storageLocations(env).some((location) => location.name === name);
}

/** The buckets of the session's storage location (`RECORDINGS` for sessions from before locations existed). */
export function storageBuckets(env: Env, name: string | null | undefined): StorageBuckets {
  const storage = name ?? DEFAULT_STORAGE;
  const entry = declared(env).find((candidate) => candidate.binding === storage);
  const recordings = entry && r2Binding(env, entry.binding);
  const archive = entry && r2Binding(env, entry.archive);
  if (!recordings || !archive) throw new UnknownStorage(storage);
  return { name: storage, recordings, archive };
}
