/**
 * `witness verify`: checks a session's evidence offline (docs/evidence.md). The signature with a key the
 * caller trusts, the manifest's own consistency, the recording's SHA-256, with the stored pieces each piece's
 * SHA-256 and the hash chain recomputed from them, and with the activity its events against the signed digest.
 * Every check runs; any failure fails the whole; what was not given is named, unchecked, in a warning.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  activityDigest,
  chainHead,
  fromBase64,
  keyIdOf,
  Manifest,
  manifestSignatureValid,
} from '../../../protocol/evidence.ts';
import { recordingKey } from '../../../protocol/ingest.ts';
import { showEscapes } from '../../shared/terminal-text.ts';
import { readPublicKey } from './keys.ts';
import { checkRecordingContents } from './recording-contents.ts';

export interface VerifyOptions {
  manifest: string;
  recording?: string | undefined;
  pieces?: string | undefined;
  /** A key file or base64 key; without it, only `trustEmbeddedKey` lets the signature be checked. */
  publicKey?: string | undefined;
  trustEmbeddedKey?: boolean | undefined;
  /** The session the evidence must belong to. */
  session?: string | undefined;
  /** The session's activity as `witness fetch-evidence` saves it: one event a line, as the activity API lists them. */
  activity?: string | undefined;
}

/** Why a check failed; tests and scripts act on it. */
export type FailureCode =
  | 'manifest_unreadable'
  | 'no_trusted_key'
  | 'key_unreadable'
  | 'key_mismatch'
  | 'signature_invalid'
  | 'manifest_invalid'
  | 'wrong_session'
  | 'chain_mismatch'
  | 'recording_not_given'
  | 'recording_unexpected'
  | 'recording_mismatch'
  | 'recording_contents_mismatch'
  | 'pieces_unreadable'
  | 'piece_missing'
  | 'piece_reordered'
  | 'piece_mismatch'
  | 'piece_unlisted'
  | 'pieces_chain_mismatch'
  | 'activity_unreadable'
  | 'activity_mismatch';

export interface Check {
  name: 'manifest' | 'key' | 'signature' | 'session' | 'recording' | 'contents' | 'pieces' | 'activity';
  ok: boolean;
  detail: string;
  code?: FailureCode;
}

export interface VerifyReport {
  ok: boolean;
  checks: Check[];
  warnings: string[];
  manifest: Manifest | null;
}

interface FileDigest {
  size: number;
  sha256: string;
}

async function digestFile(file: string): Promise<FileDigest> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).byteLength;
  }
  return { size, sha256: hash.digest('hex') };
}

function short(hex: string): string {
  return `${hex.slice(0, 16)}…`;
}

/** Inclusive ranges of seq in 0..lastSeq absent from the (ascending) list. */
function missingRanges(seqs: readonly number[], lastSeq: number | null): Array<{ from: number; to: number }> {
  const ranges: Array<{ from: number; to: number }> = [];
  let expected = 0;
  for (const seq of seqs) {
    if (seq > expected) ranges.push({ from: expected, to: seq - 1 });
    expected = seq + 1;
  }
  if (lastSeq !== null && expected <= lastSeq) ranges.push({ from: expected, to: lastSeq });
  return ranges;
}

/** What in a well-formed manifest contradicts itself; null when nothing does. */
async function inconsistency(manifest: Manifest): Promise<Check | null> {
  const invalid = (detail: string): Check => ({ name: 'manifest', ok: false, code: 'manifest_invalid', detail });
  const seqs = manifest.pieces.map((p) => p.seq);
  for (let i = 1; i < seqs.length; i++) {
    if ((seqs[i] as number) <= (seqs[i - 1] as number)) return invalid(`pieces are out of seq order at ${seqs[i]}`);
  }
  const highest = seqs.at(-1) ?? null;
  if (highest !== null && (manifest.lastSeq === null || manifest.lastSeq < highest)) {
    return invalid(`lastSeq ${manifest.lastSeq} is below the highest listed piece ${highest}`);
  }
  if (JSON.stringify(missingRanges(seqs, manifest.lastSeq)) !== JSON.stringify(manifest.missing)) {
    return invalid('the missing list does not match the pieces listed');
  }
  if ((manifest.recordingStatus === 'ready') !== (manifest.recording !== null)) {
    return invalid(`recordingStatus ${manifest.recordingStatus} contradicts the recording entry`);
  }
  const keys = [recordingKey(manifest.sessionId, 'webm'), recordingKey(manifest.sessionId, 'asciicast')];
  if (manifest.recording && !keys.includes(manifest.recording.key)) {
    return invalid(`the recording key ${manifest.recording.key} belongs to another session`);
  }
  if ((await chainHead(manifest.sessionId, manifest.pieces)) !== manifest.chainHead) {
    const detail = 'the chain head does not follow from the session id and the piece hashes listed';
    return { name: 'manifest', ok: false, code: 'chain_mismatch', detail };
  }
  return null;
}

/** Piece files in `dir`: `NNNNNNNNNN.webm` (as stored and fetched) or `<seq>.webm`; `.cast` for a terminal log. */
function pieceFiles(dir: string): { files: Map<number, string>; duplicate: number | null } {
  const files = new Map<number, string>();
  let duplicate: number | null = null;
  for (const name of readdirSync(dir)) {
    const match = name.match(/^(\d{1,10})\.(?:webm|cast)$/);
    if (!match) continue;
    const seq = Number(match[1]);
    if (files.has(seq)) duplicate = seq;
    files.set(seq, path.join(dir, name));
  }
  return { files, duplicate };
}

async function checkPieces(manifest: Manifest, dir: string): Promise<Check[]> {
  let listing: ReturnType<typeof pieceFiles>;
  try {
    listing = pieceFiles(dir);
  } catch (error) {
    return [{ name: 'pieces', ok: false, code: 'pieces_unreadable', detail: (error as Error).message }];
  }
  if (listing.duplicate !== null) {
    const detail = `two files in ${dir} claim piece ${listing.duplicate}`;
    return [{ name: 'pieces', ok: false, code: 'pieces_unreadable', detail }];
  }
  const checks: Check[] = [];
  const bySha = new Map(manifest.pieces.map((p) => [p.sha256, p.seq]));
  const found: Array<{ seq: number; sha256: string }> = [];
  for (const piece of manifest.pieces) {
    const file = listing.files.get(piece.seq);
    if (!file) {
      checks.push({
        name: 'pieces',
        ok: false,
        code: 'piece_missing',
        detail: `piece ${piece.seq} is listed in the manifest but not in ${dir} (dropped?)`,
      });
      continue;
    }
    const actual = await digestFile(file);
    found.push({ seq: piece.seq, sha256: actual.sha256 });
    if (actual.sha256 === piece.sha256 && actual.size === piece.size) continue;
    const other = bySha.get(actual.sha256);
    checks.push(
      other !== undefined
        ? {
            name: 'pieces',
            ok: false,
            code: 'piece_reordered',
            detail: `${path.basename(file)} holds the bytes of piece ${other}, not piece ${piece.seq} (reordered or swapped)`,
          }
        : {
            name: 'pieces',
            ok: false,
            code: 'piece_mismatch',
            detail:
              `${path.basename(file)} differs from piece ${piece.seq}: ${actual.size} bytes, sha256 ${short(actual.sha256)}` +
              ` (manifest: ${piece.size} bytes, ${short(piece.sha256)})`,
          },
    );
  }
  const listed = new Set(manifest.pieces.map((p) => p.seq));
  for (const [seq, file] of listing.files) {
    if (!listed.has(seq)) {
      checks.push({
        name: 'pieces',
        ok: false,
        code: 'piece_unlisted',
        detail: `${path.basename(file)} is not a piece of this manifest (seq ${seq} is not listed)`,
      });
    }
  }
  // The chain from the files themselves: what was stored, in the order the files name.
  const head = await chainHead(manifest.sessionId, found);
  if (head !== manifest.chainHead) {
    checks.push({
      name: 'pieces',
      ok: false,
      code: 'pieces_chain_mismatch',
      detail: `the chain recomputed from the files ends in ${short(head)}, the manifest says ${short(manifest.chainHead)}`,
    });
  }
  if (checks.length === 0) {
    checks.push({
      name: 'pieces',
      ok: true,
      detail: `${found.length} pieces match their SHA-256; chain head ${short(head)} recomputed from the files`,
    });
  }
  return checks;
}

export async function verifyEvidence(options: VerifyOptions): Promise<VerifyReport> {
  const checks: Check[] = [];
  const warnings: string[] = [];
  const report = (manifest: Manifest | null = null): VerifyReport => ({
    ok: checks.length > 0 && checks.every((c) => c.ok),
    checks,
    warnings,
    manifest,
  });

  let envelope: { manifest: unknown; signature: string; publicKey: string };
  try {
    const parsed = JSON.parse(readFileSync(options.manifest, 'utf8')) as Record<string, unknown>;
    if (
      typeof parsed !== 'object' ||
      parsed === null ||
      typeof parsed.manifest !== 'object' ||
      typeof parsed.signature !== 'string' ||
      typeof parsed.publicKey !== 'string'
    ) {
      throw new Error('not a signed manifest ({manifest, signature, publicKey})');
    }
    envelope = parsed as typeof envelope;
  } catch (error) {
    checks.push({ name: 'manifest', ok: false, code: 'manifest_unreadable', detail: (error as Error).message });
    return report();
  }

  // 1. Which key to trust. The key inside the manifest proves nothing: whoever edits the manifest can swap it.
  let trusted: Uint8Array<ArrayBuffer> | null = null;
  let source = '';
  if (options.publicKey) {
    try {
      trusted = readPublicKey(options.publicKey);
      source = '--public-key';
    } catch (error) {
      checks.push({ name: 'key', ok: false, code: 'key_unreadable', detail: (error as Error).message });
    }
  } else if (options.trustEmbeddedKey) {
    try {
      trusted = fromBase64(envelope.publicKey);
      source = 'the manifest itself (--trust-embedded-key)';
      warnings.push(
        'TRUSTING THE PUBLIC KEY EMBEDDED IN THE MANIFEST. Anyone who can edit the manifest can re-sign it with ' +
          'a key of their own, so this proves nothing against tampering. Verify with --public-key and the ' +
          "server's key obtained separately (GET /api/v1/evidence/public-key, or from your key records).",
      );
    } catch {
      checks.push({ name: 'key', ok: false, code: 'key_unreadable', detail: 'the embedded public key is not base64' });
    }
  } else {
    checks.push({
      name: 'key',
      ok: false,
      code: 'no_trusted_key',
      detail: "no key to trust: pass --public-key with the server's public key (or --trust-embedded-key, unsafe)",
    });
  }

  // 2. The signature over the manifest exactly as it is (any edit, added or removed field breaks it).
  const claimedKeyId = (envelope.manifest as { keyId?: unknown } | null)?.keyId;
  if (trusted) {
    const keyId = await keyIdOf(trusted).catch(() => '');
    if (trusted.byteLength !== 32) {
      checks.push({ name: 'key', ok: false, code: 'key_unreadable', detail: 'an Ed25519 public key is 32 bytes' });
    } else if (claimedKeyId !== keyId) {
      checks.push({
        name: 'key',
        ok: false,
        code: 'key_mismatch',
        detail: `the manifest says it was signed by key ${String(claimedKeyId)}; the trusted key is ${keyId}`,
      });
    } else {
      checks.push({ name: 'key', ok: true, detail: `key ${keyId} from ${source}` });
    }
    if (trusted.byteLength === 32) {
      const valid = await manifestSignatureValid(envelope.manifest, envelope.signature, trusted);
      checks.push(
        valid
          ? { name: 'signature', ok: true, detail: `Ed25519 signature by key ${keyId} verifies` }
          : {
              name: 'signature',
              ok: false,
              code: 'signature_invalid',
              detail: `the signature does not verify with key ${keyId}: the manifest was changed after signing, or signed by another key`,
            },
      );
    }
  }

  // 3. The manifest's form and its internal consistency (chain head from the listed hashes, holes).
  const parsed = Manifest.safeParse(envelope.manifest);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const detail =
      `not a Witness manifest (version 1 or 2): ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim();
    checks.push({ name: 'manifest', ok: false, code: 'manifest_invalid', detail });
    return report();
  }
  const manifest = parsed.data;
  checks.push(
    (await inconsistency(manifest)) ?? {
      name: 'manifest',
      ok: true,
      detail:
        `session ${manifest.sessionId}, ${manifest.pieces.length} pieces, ${manifest.missing.length} holes, ` +
        `chain head ${short(manifest.chainHead)} follows from them`,
    },
  );

  if (options.session !== undefined) {
    checks.push(
      options.session === manifest.sessionId
        ? { name: 'session', ok: true, detail: `the manifest is session ${manifest.sessionId}'s` }
        : {
            name: 'session',
            ok: false,
            code: 'wrong_session',
            detail: `the manifest is session ${manifest.sessionId}'s, not ${options.session}'s`,
          },
    );
  }

  // 4. The sealed recording, byte for byte.
  if (manifest.recording === null) {
    if (options.recording) {
      checks.push({
        name: 'recording',
        ok: false,
        code: 'recording_unexpected',
        detail: `the manifest names no recording (status ${manifest.recordingStatus}), yet one was given`,
      });
    }
  } else if (!options.recording) {
    checks.push({
      name: 'recording',
      ok: false,
      code: 'recording_not_given',
      detail: 'the manifest names a recording: pass it with --recording',
    });
  } else {
    try {
      const actual = await digestFile(options.recording);
      const expected = manifest.recording;
      checks.push(
        actual.sha256 === expected.sha256 && actual.size === expected.size
          ? { name: 'recording', ok: true, detail: `${actual.size} bytes, SHA-256 ${short(actual.sha256)} matches` }
          : {
              name: 'recording',
              ok: false,
              code: 'recording_mismatch',
              detail:
                `${path.basename(options.recording)} is ${actual.size} bytes with SHA-256 ${short(actual.sha256)}; ` +
                `the manifest says ${expected.size} bytes, ${short(expected.sha256)}`,
            },
      );
    } catch (error) {
      checks.push({ name: 'recording', ok: false, code: 'recording_mismatch', detail: (error as Error).message });
    }
    // The file's contents against the chain: a file can match its own digest and still not be what was recorded.
    if (manifest.version === 1) {
      warnings.push(
        "This manifest (version 1) does not bind the recording's contents to the hash chain: pass --pieces to " +
          'check the pieces themselves.',
      );
    } else {
      const contents = await checkRecordingContents(manifest, options.recording).catch(
        (error: Error) => ({ ok: false, detail: error.message }) as const,
      );
      checks.push(
        contents.ok
          ? { name: 'contents', ok: true, detail: contents.detail }
          : { name: 'contents', ok: false, code: 'recording_contents_mismatch', detail: contents.detail },
      );
    }
  }

  // 5. The pieces as stored, and the chain recomputed from them.
  if (options.pieces) checks.push(...(await checkPieces(manifest, options.pieces)));

  // 6. The activity: every event the session recorded, against the digest the manifest signs.
  if (options.activity) checks.push(await checkActivity(manifest, options.activity));
  const unchecked = [
    !options.pieces && manifest.pieces.length > 0 && 'the stored pieces (--pieces)',
    !options.activity && 'the activity (--activity)',
  ].filter(Boolean);
  if (unchecked.length > 0) {
    warnings.push(
      `Not checked: ${unchecked.join(' and ')}. witness fetch-evidence saves both beside the manifest ` +
        '(pieces/ and activity.jsonl).',
    );
  }
  return report(manifest);
}

/** The activity file's events, in order, against the manifest's count and digest. */
async function checkActivity(manifest: Manifest, file: string): Promise<Check> {
  let events: unknown[];
  try {
    const text = readFileSync(file, 'utf8');
    events = text
      .split('\n')
      .filter((line) => line !== '')
      .map((line, index) => {
        try {
          return JSON.parse(line) as unknown;
        } catch {
          throw new Error(`line ${index + 1} of ${path.basename(file)} is not JSON`);
        }
      });
  } catch (error) {
    return { name: 'activity', ok: false, code: 'activity_unreadable', detail: (error as Error).message };
  }
  const sha256 = await activityDigest(events);
  const expected = manifest.activity;
  return sha256 === expected.sha256 && events.length === expected.events
    ? { name: 'activity', ok: true, detail: `${events.length} events, SHA-256 ${short(sha256)} matches` }
    : {
        name: 'activity',
        ok: false,
        code: 'activity_mismatch',
        detail:
          `${path.basename(file)} holds ${events.length} events with SHA-256 ${short(sha256)}; ` +
          `the manifest says ${expected.events} events, ${short(expected.sha256)}`,
      };
}

/**
 * The report as the CLI prints it. The manifest's fields and the details (which quote file names, the
 * manifest's key id, parse errors) are outside text: their escapes are shown, never sent to the terminal.
 */
export function formatReport(report: VerifyReport): string {
  const lines: string[] = [];
  const m = report.manifest;
  if (m) {
    const head = `session ${m.sessionId}: ${m.user} → ${m.target} (${m.protocol}), ended ${m.endedAt} (${m.endReason})`;
    lines.push(showEscapes(head));
  }
  for (const check of report.checks) {
    lines.push(`  ${check.ok ? 'ok  ' : 'FAIL'}  ${check.name.padEnd(9)}  ${showEscapes(check.detail)}`);
  }
  const failed = report.checks.filter((c) => !c.ok).length;
  lines.push(report.ok ? 'VERIFIED' : `NOT VERIFIED: ${failed} check${failed === 1 ? '' : 's'} failed`);
  return `${lines.join('\n')}\n`;
}
