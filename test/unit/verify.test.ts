/**
 * `witness verify` against evidence built here with the same protocol/evidence.ts functions SessionDO uses:
 * real WebM pieces (ffmpeg, cut by the launcher's splitter), a real recording, a real Ed25519 key. Each kind
 * of tampering must fail for its own reason; the untouched evidence must pass.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebmSplitter } from '../../agents/launcher/src/webm-splitter.ts';
import { type FailureCode, type VerifyOptions, verifyEvidence } from '../../agents/verify/src/verify.ts';
import {
  activityDigest,
  chainHead,
  importSigningKey,
  MANIFEST_VERSION,
  Manifest,
  publicKeyPem,
  type SignedManifest,
  type SigningKey,
  sha256Hex,
  signManifest,
  toBase64,
} from '../../protocol/evidence.ts';
import { recordingKey } from '../../protocol/ingest.ts';
import { SealedWebmLayout } from '../../protocol/sealed-webm.ts';
import { DEFAULT_POLICY } from '../../protocol/session.ts';

const BIN = fileURLToPath(new URL('../../agents/verify/bin/witness.mjs', import.meta.url));

let root: string;
let key: SigningKey;
/** This session's evidence directory: manifest.json, recording.webm, pieces/, public-key.pem. */
let good: string;
/** Another session's manifest (same key, its own pieces and recording). */
let otherManifest: string;
let sessionId: string;

function ffmpeg(args: string[]): void {
  const result = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ffmpeg failed: ${result.stderr}`);
}

async function newKey(): Promise<SigningKey> {
  const pkcs8 = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'der' });
  return importSigningKey(pkcs8.toString('base64'));
}

/** The sealed recording.webm of these pieces (seq 0 first), laid out as SessionDO lays it out. */
function seal(pieces: Uint8Array[]): { bytes: Uint8Array; mediaDurationMs: number } {
  const [init, ...clusters] = pieces;
  const layout = new SealedWebmLayout(init as Uint8Array);
  for (const cluster of clusters) layout.addCluster(cluster);
  const bytes = Buffer.concat([layout.head(), ...clusters, layout.cues()]);
  return { bytes: new Uint8Array(bytes), mediaDurationMs: layout.mediaDurationMs };
}

/** Records `pattern` live as the launcher does, cuts it into pieces, writes a signed session's evidence. */
async function buildSession(dir: string, id: string, pattern: string, signer: SigningKey): Promise<SignedManifest> {
  mkdirSync(join(dir, 'pieces'), { recursive: true });
  const live = `${dir}.live.webm`;
  const recording = join(dir, 'recording.webm');
  const source = ['-f', 'lavfi', '-i', `${pattern}=size=160x120:rate=5`, '-t', '4', '-c:v', 'libvpx', '-g', '5'];
  // As the launcher records: a live WebM cut at Clusters; sealed as SessionDO seals it.
  ffmpeg([...source, '-deadline', 'realtime', '-f', 'webm', '-live', '1', '-cluster_time_limit', '500', live]);
  const splitter = new WebmSplitter({ frameDurationMs: 200 });
  const pieces = [...splitter.push(new Uint8Array(readFileSync(live))), ...splitter.end()];
  rmSync(live);
  const sealed = seal(pieces.map((p) => p.bytes));
  writeFileSync(recording, sealed.bytes);
  const listed = [];
  for (const piece of pieces) {
    writeFileSync(join(dir, 'pieces', `${String(piece.seq).padStart(10, '0')}.webm`), piece.bytes);
    listed.push({
      seq: piece.seq,
      size: piece.bytes.byteLength,
      sha256: await sha256Hex(Uint8Array.from(piece.bytes)),
      startMs: piece.startMs,
      endMs: piece.endMs,
      keyframe: piece.keyframe,
    });
  }
  const recordingBytes = new Uint8Array(readFileSync(recording));
  const manifest = Manifest.parse({
    version: MANIFEST_VERSION,
    sessionId: id,
    user: 'alice',
    target: 'db-01.prod',
    protocol: 'ssh',
    policy: DEFAULT_POLICY,
    createdAt: '2026-11-27T10:00:00.000Z',
    startedAt: '2026-11-27T10:00:01.000Z',
    endedAt: '2026-11-27T10:00:05.000Z',
    endReason: 'ended_by_user',
    recordingStatus: 'ready',
    pieces: listed,
    missing: [],
    lastSeq: listed.length - 1,
    chainHead: await chainHead(id, listed),
    recording: {
      key: recordingKey(id, 'webm'),
      size: recordingBytes.byteLength,
      sha256: await sha256Hex(recordingBytes),
      mediaDurationMs: sealed.mediaDurationMs,
    },
    recordingError: null,
    activity: { events: ACTIVITY.length, sha256: await activityDigest(ACTIVITY) },
    signedAt: '2026-11-27T10:00:06.000Z',
    keyId: signer.keyId,
  } satisfies Manifest);
  const signed = await signManifest(manifest, signer);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(signed));
  writeFileSync(join(dir, 'activity.jsonl'), ACTIVITY.map((event) => `${JSON.stringify(event)}\n`).join(''));
  return signed;
}

/** The session's activity as the activity API lists it (and `witness fetch-evidence` saves it). */
const ACTIVITY = [
  { type: 'window.focus', offsetMs: 100, text: null, title: 'root@db-01: ~', app: 'xterm' },
  { type: 'keys', offsetMs: 1200, text: 'sudo systemctl restart nginx<Enter>', title: 'root@db-01: ~', app: 'xterm' },
  { type: 'process.start', offsetMs: 2100, text: 'systemctl restart nginx', name: 'systemctl', pid: 5001 },
];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'witness-verify-'));
  key = await newKey();
  sessionId = crypto.randomUUID();
  const otherId = crypto.randomUUID();
  for (const [id, pattern] of [
    [sessionId, 'testsrc2'],
    [otherId, 'smptebars'],
  ] as const) {
    await buildSession(join(root, id), id, pattern, key);
  }
  good = join(root, sessionId);
  otherManifest = join(root, otherId, 'manifest.json');
  writeFileSync(join(good, 'public-key.pem'), await publicKeyPem(key.publicKey));
}, 60_000);

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A fresh copy of the good evidence to tamper with. */
function copy(): string {
  const dir = mkdtempSync(join(root, 'case-'));
  cpSync(good, dir, { recursive: true });
  return dir;
}

function options(dir: string, extra: Partial<VerifyOptions> = {}): VerifyOptions {
  return {
    manifest: join(dir, 'manifest.json'),
    recording: join(dir, 'recording.webm'),
    pieces: join(dir, 'pieces'),
    activity: join(dir, 'activity.jsonl'),
    publicKey: join(good, 'public-key.pem'),
    ...extra,
  };
}

async function failures(opts: VerifyOptions): Promise<FailureCode[]> {
  const report = await verifyEvidence(opts);
  const codes = report.checks.filter((c) => !c.ok).map((c) => c.code as FailureCode);
  expect(report.ok).toBe(codes.length === 0);
  return [...new Set(codes)].sort();
}

function flipByte(file: string, at: number): void {
  const bytes = readFileSync(file);
  bytes[at] = (bytes[at] as number) ^ 0x01;
  writeFileSync(file, bytes);
}

function piece(dir: string, seq: number): string {
  return join(dir, 'pieces', `${String(seq).padStart(10, '0')}.webm`);
}

function pieceCount(dir: string): number {
  return (JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as SignedManifest).manifest.pieces.length;
}

describe('witness verify', () => {
  it('passes untouched evidence, every check ok', async () => {
    const report = await verifyEvidence(options(good, { session: sessionId }));
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.checks.map((c) => c.name)).toEqual([
      'key',
      'signature',
      'manifest',
      'session',
      'recording',
      'contents',
      'pieces',
      'activity',
    ]);
    expect(report.warnings).toEqual([]);
    expect(report.ok).toBe(true);
    expect(pieceCount(good)).toBeGreaterThan(5);
  });

  it('accepts the key as PEM, as raw base64, and as the saved public-key reply', async () => {
    const raw = toBase64(key.publicKey);
    const json = join(root, 'key.json');
    const pem = await publicKeyPem(key.publicKey);
    writeFileSync(json, JSON.stringify({ algorithm: 'Ed25519', keyId: key.keyId, publicKey: raw, pem }));
    for (const publicKey of [join(good, 'public-key.pem'), raw, json]) {
      expect(await failures(options(good, { publicKey }))).toEqual([]);
    }
  });

  it('one changed byte in the recording', async () => {
    const dir = copy();
    flipByte(join(dir, 'recording.webm'), 5000);
    expect(await failures(options(dir))).toEqual(['recording_contents_mismatch', 'recording_mismatch']);
  });

  /** Writes `bytes` as the recording and re-signs the manifest with the real key to match it (a server bug). */
  async function resealed(dir: string, bytes: Uint8Array): Promise<void> {
    writeFileSync(join(dir, 'recording.webm'), bytes);
    const signed = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as SignedManifest;
    const m = signed.manifest;
    m.recording = { ...m.recording!, size: bytes.byteLength, sha256: await sha256Hex(Uint8Array.from(bytes)) };
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(await signManifest(m, key)));
  }

  function pieceBytes(dir: string): Uint8Array[] {
    return Array.from({ length: pieceCount(dir) }, (_, seq) => new Uint8Array(readFileSync(piece(dir, seq))));
  }

  it('without the pieces: a recording that matches its digest but holds other bytes than the chain attests', async () => {
    // What happened when a stalled upload's bytes replaced an acknowledged piece in storage: the file was
    // sealed from them, so it matched its own digest, and only the pieces showed the difference.
    const dir = copy();
    const pieces = pieceBytes(dir);
    const other = new Uint8Array(readFileSync(piece(join(otherManifest, '..'), 3)));
    await resealed(dir, seal([...pieces.slice(0, 3), other, ...pieces.slice(4)]).bytes);
    const report = await verifyEvidence(options(dir, { pieces: undefined }));
    expect(report.checks.find((c) => c.name === 'recording')?.ok).toBe(true);
    expect(report.checks.find((c) => c.name === 'contents')?.detail).toMatch(/piece 3 in the file has SHA-256/);
    expect(await failures(options(dir, { pieces: undefined }))).toEqual(['recording_contents_mismatch']);
  });

  it('without the pieces: a recording with a piece left out, or two swapped, or a changed Duration', async () => {
    const pieces = pieceBytes(good);
    const dropped = [...pieces.slice(0, 2), ...pieces.slice(3)];
    const swapped = [pieces[0], pieces[1], pieces[3], pieces[2], ...pieces.slice(4)] as Uint8Array[];
    const longer = seal(pieces).bytes;
    // The Duration float sits in Info: change the file's claimed length and nothing else.
    const info = Buffer.from(longer).indexOf(Buffer.from([0x44, 0x89, 0x88]));
    expect(info).toBeGreaterThan(0);
    new DataView(longer.buffer, longer.byteOffset + info + 3, 8).setFloat64(0, 3_600_000);
    for (const bytes of [seal(dropped).bytes, seal(swapped).bytes, longer]) {
      const dir = copy();
      await resealed(dir, bytes);
      expect(await failures(options(dir, { pieces: undefined }))).toEqual(['recording_contents_mismatch']);
    }
  });

  it('a version-1 manifest (remuxed recording) verifies its digest and warns that the contents are not bound', async () => {
    const dir = copy();
    const signed = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as SignedManifest;
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify(await signManifest({ ...signed.manifest, version: 1 }, key)),
    );
    const report = await verifyEvidence(options(dir, { pieces: undefined }));
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).not.toContain('contents');
    expect(report.warnings.join(' ')).toMatch(/does not bind the recording's contents/);
  });

  it('activity changed, dropped, reordered or unreadable', async () => {
    const lines = (dir: string) => readFileSync(join(dir, 'activity.jsonl'), 'utf8').split('\n').filter(Boolean);
    const write = (dir: string, list: string[]) => writeFileSync(join(dir, 'activity.jsonl'), `${list.join('\n')}\n`);
    const edited = copy();
    write(
      edited,
      lines(edited).map((line) => line.replace('restart nginx', 'status nginx')),
    );
    expect(await failures(options(edited))).toEqual(['activity_mismatch']);
    const dropped = copy();
    write(dropped, lines(dropped).slice(1));
    expect(await failures(options(dropped))).toEqual(['activity_mismatch']);
    const swapped = copy();
    const [a, b, ...rest] = lines(swapped);
    write(swapped, [b as string, a as string, ...rest]);
    expect(await failures(options(swapped))).toEqual(['activity_mismatch']);
    const broken = copy();
    write(broken, [...lines(broken), '{not json']);
    expect(await failures(options(broken))).toEqual(['activity_unreadable']);
  });

  it('names what it did not check when the pieces or the activity are not given', async () => {
    const report = await verifyEvidence(options(good, { pieces: undefined, activity: undefined }));
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).not.toContain('activity');
    expect(report.warnings.join('\n')).toMatch(
      /Not checked: the stored pieces \(--pieces\) and the activity \(--activity\)/,
    );
  });

  it('one changed byte in a piece', async () => {
    const dir = copy();
    flipByte(piece(dir, 3), 40);
    expect(await failures(options(dir))).toEqual(['piece_mismatch', 'pieces_chain_mismatch']);
  });

  it('a dropped piece', async () => {
    const dir = copy();
    unlinkSync(piece(dir, 2));
    expect(await failures(options(dir))).toEqual(['piece_missing', 'pieces_chain_mismatch']);
  });

  it('two pieces swapped', async () => {
    const dir = copy();
    renameSync(piece(dir, 2), join(dir, 'swap'));
    renameSync(piece(dir, 3), piece(dir, 2));
    renameSync(join(dir, 'swap'), piece(dir, 3));
    const report = await verifyEvidence(options(dir));
    const details = report.checks.filter((c) => !c.ok).map((c) => c.detail);
    expect(details).toContain('0000000002.webm holds the bytes of piece 3, not piece 2 (reordered or swapped)');
    expect(await failures(options(dir))).toEqual(['piece_reordered', 'pieces_chain_mismatch']);
  });

  it('a piece file the manifest does not list', async () => {
    const dir = copy();
    cpSync(piece(dir, 1), piece(dir, pieceCount(dir) + 3));
    expect(await failures(options(dir))).toEqual(['piece_unlisted']);
  });

  it("another session's manifest (validly signed)", async () => {
    const dir = copy();
    cpSync(otherManifest, join(dir, 'manifest.json'));
    expect(await failures(options(dir))).toContain('recording_mismatch');
    expect(await failures(options(dir))).toContain('piece_mismatch');
    expect(await failures(options(dir, { session: sessionId }))).toContain('wrong_session');
  });

  it('a manifest edited after signing: a field changed', async () => {
    const dir = copy();
    const signed = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as SignedManifest;
    signed.manifest.user = 'mallory';
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(signed));
    expect(await failures(options(dir))).toEqual(['signature_invalid']);
  });

  it('a manifest edited after signing: a piece removed, the chain and holes recomputed to match', async () => {
    const dir = copy();
    const signed = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as SignedManifest;
    const m = signed.manifest;
    m.pieces = m.pieces.filter((p) => p.seq !== 2);
    m.missing = [{ from: 2, to: 2 }];
    m.chainHead = await chainHead(m.sessionId, m.pieces);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(signed));
    unlinkSync(piece(dir, 2));
    // The recording still holds piece 2, which the edited manifest no longer lists.
    expect(await failures(options(dir))).toEqual(['recording_contents_mismatch', 'signature_invalid']);
  });

  it('a manifest whose chain head does not follow from its pieces', async () => {
    const dir = copy();
    const signed = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as SignedManifest;
    // Re-signed by the real key (a server bug, say): the signature holds, the chain does not.
    signed.manifest.chainHead = '0'.repeat(64);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(await signManifest(signed.manifest, key)));
    expect(await failures(options(dir))).toEqual(['chain_mismatch', 'pieces_chain_mismatch']);
  });

  it('a wrong public key', async () => {
    const other = await newKey();
    const publicKey = toBase64(other.publicKey);
    expect(await failures(options(good, { publicKey }))).toEqual(['key_mismatch', 'signature_invalid']);
  });

  it('a manifest forged and re-signed with the forger’s key passes only when the embedded key is trusted', async () => {
    const dir = copy();
    const forger = await newKey();
    const signed = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as SignedManifest;
    const forged = { ...signed.manifest, user: 'mallory', keyId: forger.keyId };
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(await signManifest(forged, forger)));

    const trusting = await verifyEvidence(options(dir, { publicKey: undefined, trustEmbeddedKey: true }));
    expect(trusting.ok).toBe(true);
    expect(trusting.warnings.join(' ')).toMatch(/TRUSTING THE PUBLIC KEY EMBEDDED IN THE MANIFEST/);
    expect(await failures(options(dir))).toEqual(['key_mismatch', 'signature_invalid']);
  });

  it('refuses to check a signature with no key to trust, and wants the recording the manifest names', async () => {
    expect(await failures(options(good, { publicKey: undefined }))).toEqual(['no_trusted_key']);
    expect(await failures(options(good, { recording: undefined }))).toEqual(['recording_not_given']);
  });
});

describe('witness CLI', () => {
  function run(args: string[]) {
    return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  }

  it('exits 0 and says VERIFIED for untouched evidence', () => {
    const result = run([
      'verify',
      '--manifest',
      join(good, 'manifest.json'),
      '--recording',
      join(good, 'recording.webm'),
      '--pieces',
      join(good, 'pieces'),
      '--public-key',
      join(good, 'public-key.pem'),
    ]);
    expect(result.stdout).toMatch(/ok {4}signature/);
    expect(result.stdout.trim().split('\n').at(-1)).toBe('VERIFIED');
    expect(result.status).toBe(0);
  });

  it('exits 1 and names the failed check', () => {
    const dir = copy();
    flipByte(join(dir, 'recording.webm'), 100);
    const result = run([
      '--manifest',
      join(dir, 'manifest.json'),
      '--recording',
      join(dir, 'recording.webm'),
      '--public-key',
      join(good, 'public-key.pem'),
    ]);
    expect(result.stdout).toMatch(/FAIL {2}recording/);
    expect(result.stdout).toMatch(/FAIL {2}contents/);
    expect(result.stdout).toMatch(/NOT VERIFIED: 2 checks failed/);
    expect(result.status).toBe(1);
  });

  it('warns loudly when trusting the embedded key, and exits 2 on bad usage', () => {
    const trusting = run(['verify', '--manifest', join(good, 'manifest.json'), '--trust-embedded-key']);
    expect(trusting.stderr).toMatch(/WARNING/);
    expect(trusting.status).toBe(1); // the recording was not given
    expect(run(['verify']).status).toBe(2);
    expect(run(['verify', '--manifest', 'x', '--server', 'http://x']).status).toBe(2);
    expect(run(['explode']).status).toBe(2);
  });
});
