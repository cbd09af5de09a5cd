/**
 * A session's evidence (docs/evidence.md): the hash chain, extended as pieces arrive, and the signed manifest
 * written once the session is sealed. The manifest is built only from this object's own records (piece index,
 * chain, the recording's digest taken at sealing), never from what R2 holds later, so it can be written again
 * if storing it failed without attesting to bytes changed since.
 */
import {
  canonicalJson,
  chainGenesis,
  chainHead,
  chainLink,
  importSigningKey,
  MANIFEST_VERSION,
  type Manifest,
  manifestKey,
  type SigningKey,
  signManifest,
} from '../protocol/evidence.ts';
import { hex } from '../protocol/hex.ts';
import { recordingKey } from '../protocol/ingest.ts';
import { isSealed, phaseOf } from '../protocol/lifecycle.ts';
import type { RecordingFormat } from '../protocol/session.ts';
import { missingRanges } from './live-cursor.ts';
import type { SessionRecord } from './session-record.ts';
import type { ChainProgress, SessionStore } from './session-store.ts';

export type PublishOutcome =
  | { kind: 'published'; body: string }
  | { kind: 'not_sealed' }
  | { kind: 'failed'; message: string };

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export class SessionEvidence {
  /** Chain and manifest work runs one step at a time: hashing awaits, and two pieces may land together. */
  #queue: Promise<unknown> = Promise.resolve();
  #key: Promise<SigningKey> | null = null;
  /** The chain as last saved by this instance (only it writes the chain): read from storage once, not per piece. */
  #progress: ChainProgress | null = null;

  constructor(
    private readonly store: SessionStore,
    /** The session's storage location's bucket: the manifest stays with its media. */
    private readonly bucket: () => R2Bucket,
    private readonly signingSecret: () => string | undefined,
    /** The session's activity events: count and digest (server/activity/digest.ts). */
    private readonly activity: (sessionId: string, createdAt: number) => Promise<{ events: number; sha256: string }>,
  ) {}

  /**
   * Links every stored piece that now continues the contiguous prefix 0..n. `stored` is the piece just indexed:
   * when it continues the prefix it is linked as the caller holds it, without reading it back; pieces that came
   * earlier, past a hole, are read from the index. The chain is saved only when it moved.
   */
  extendChain(sessionId: string, stored?: { seq: number; sha256: string }): Promise<void> {
    return this.#serial(async () => {
      const saved = this.#progress ?? this.store.chainProgress();
      let progress = saved ?? { head: await chainGenesis(sessionId), through: -1 };
      const after = (seq: number) => (stored?.seq === seq + 1 ? stored : this.store.piece(seq + 1));
      for (let next = after(progress.through); next; next = this.store.piece(progress.through + 1)) {
        progress = { head: await chainLink(progress.head, next.sha256, next.seq), through: next.seq };
      }
      if (progress !== saved) this.store.saveChainProgress(progress);
      this.#progress = progress;
    });
  }

  /**
   * Records the digest of the sealed recording as R2 stores it. The muxer patches the file's header last, so the
   * bytes are hashed after the upload completed, read back in one stream.
   */
  async recordingSealed(sessionId: string, format: RecordingFormat, mediaDurationMs: number): Promise<void> {
    const key = recordingKey(sessionId, format);
    const object = await this.bucket().get(key);
    if (!object) throw new Error('the sealed recording is not in storage');
    const digest = new crypto.DigestStream('SHA-256');
    await object.body.pipeTo(digest);
    this.store.saveSealedFile({ key, size: object.size, sha256: hex(await digest.digest), mediaDurationMs });
  }

  /** Builds, signs and stores `manifest.json`. Never throws: a failure is logged and returned. */
  publish(record: SessionRecord): Promise<PublishOutcome> {
    return this.#serial(async (): Promise<PublishOutcome> => {
      if (!isSealed(phaseOf(record))) return { kind: 'not_sealed' };
      try {
        const key = await this.#signingKey();
        const signed = await signManifest(await this.#manifest(record, key.keyId), key);
        const body = canonicalJson(signed);
        await this.bucket().put(manifestKey(record.sessionId), body, {
          httpMetadata: { contentType: 'application/json' },
        });
        return { kind: 'published', body };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        console.error('evidence manifest failed', record.sessionId, message);
        return { kind: 'failed', message };
      }
    });
  }

  async #manifest(record: SessionRecord, keyId: string): Promise<Manifest> {
    const pieces = this.store.allPieces();
    const progress = this.store.chainProgress();
    const lastSeq = Math.max(pieces.at(-1)?.seq ?? -1, record.declaredLastSeq ?? -1);
    let recording: Manifest['recording'] = null;
    if (record.recordingStatus === 'ready') {
      recording = this.store.sealedFile();
      if (!recording) throw new Error('the recording was sealed without its digest (sealed before evidence existed)');
    }
    return {
      version: MANIFEST_VERSION,
      sessionId: record.sessionId,
      user: record.user,
      target: record.target,
      protocol: record.protocol,
      policy: record.policy,
      createdAt: iso(record.createdAt) as string,
      startedAt: iso(record.startedAt),
      endedAt: iso(record.endedAt),
      endReason: record.endReason,
      recordingStatus: record.recordingStatus,
      pieces: pieces.map(({ seq, size, sha256, startMs, endMs, keyframe }) => ({
        seq,
        size,
        sha256,
        startMs,
        endMs,
        keyframe,
      })),
      missing: missingRanges(
        pieces.map((p) => p.seq),
        lastSeq,
      ),
      lastSeq: lastSeq < 0 ? null : lastSeq,
      // Pieces past the contiguous prefix (after a hole) are linked now, skipping the hole.
      chainHead: await chainHead(
        record.sessionId,
        pieces.filter((p) => p.seq > (progress?.through ?? -1)),
        progress,
      ),
      recording,
      recordingError: record.recordingStatus === 'failed' ? record.recordingError : null,
      activity: await this.activity(record.sessionId, record.createdAt),
      signedAt: new Date().toISOString(),
      keyId,
    };
  }

  #signingKey(): Promise<SigningKey> {
    if (!this.#key) {
      const secret = this.signingSecret();
      this.#key = secret
        ? importSigningKey(secret)
        : Promise.reject(new Error('WITNESS_SIGNING_KEY is not set: manifests cannot be signed'));
      this.#key.catch(() => {
        this.#key = null; // a fixed secret is picked up on the next try
      });
    }
    return this.#key;
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
