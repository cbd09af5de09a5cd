/**
 * The Evidence panel's check, in the browser: the signed manifest against the server's public key (WebCrypto
 * Ed25519), the hash chain recomputed from the pieces it lists, every stored piece's bytes against its SHA-256,
 * and the activity against its digest — protocol/evidence.ts, the code `witness verify` runs. It says what it
 * covered; `witness verify` on a key the auditor keeps is the check that does not trust this server.
 */
import {
  activityDigest,
  chainHead,
  fromBase64,
  keyIdOf,
  type Manifest,
  manifestSignatureValid,
  PublicKeyReply,
  SignedManifest,
  sha256Hex,
} from '../../../protocol/evidence.ts';
import { EXTENSION } from '../../../protocol/ingest.ts';
import type { RecordingFormat } from '../../../protocol/session.ts';

export type CheckState = 'running' | 'passed' | 'failed' | 'skipped';

export interface EvidenceCheck {
  name: string;
  state: CheckState;
  detail: string;
}

/** Events per page of the activity API (its most). */
const ACTIVITY_PAGE = 5000;

async function getJson(url: string, signal: AbortSignal): Promise<unknown> {
  const res = await fetch(url, { signal, credentials: 'same-origin', cache: 'no-store' });
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new Error(`${url}: HTTP ${res.status}${body?.error?.message ? ` — ${body.error.message}` : ''}`);
  }
  return res.json();
}

/**
 * Runs every check of a sealed session's evidence, reporting each as it goes (`report` gets the whole list each
 * time). Pieces are read one at a time: the panel shows how far it is.
 */
export async function checkEvidence(
  session: { id: string; format: RecordingFormat; mediaDeleted: boolean },
  report: (checks: EvidenceCheck[]) => void,
  signal: AbortSignal,
): Promise<EvidenceCheck[]> {
  const checks: EvidenceCheck[] = [];
  const set = (name: string, state: CheckState, detail: string) => {
    const existing = checks.find((c) => c.name === name);
    if (existing) Object.assign(existing, { state, detail });
    else checks.push({ name, state, detail });
    report(checks.map((c) => ({ ...c })));
  };
  const base = `/api/v1/sessions/${encodeURIComponent(session.id)}`;

  set('Signature', 'running', 'Reading the manifest and the server’s public key…');
  const parsed = SignedManifest.safeParse(await getJson(`${base}/manifest`, signal));
  if (!parsed.success) {
    set('Signature', 'failed', `The manifest is not one Witness writes: ${parsed.error.issues[0]?.message ?? ''}`);
    return checks;
  }
  const signed = parsed.data;
  const key = PublicKeyReply.parse(await getJson('/api/v1/evidence/public-key', signal));
  const raw = fromBase64(key.publicKey);
  const keyId = await keyIdOf(raw);
  if (keyId !== signed.manifest.keyId) {
    set('Signature', 'failed', `Signed by key ${signed.manifest.keyId}; the server's key is ${keyId}.`);
    return checks;
  }
  const valid = await manifestSignatureValid(signed.manifest, signed.signature, raw);
  set(
    'Signature',
    valid ? 'passed' : 'failed',
    valid
      ? `Ed25519 signature by the server's key ${keyId}, signed ${new Date(signed.manifest.signedAt).toLocaleString()}.`
      : 'The signature does not match the manifest: it was changed after signing.',
  );
  if (!valid) return checks;
  const manifest: Manifest = signed.manifest;

  const head = await chainHead(manifest.sessionId, manifest.pieces);
  const chained = head === manifest.chainHead;
  set(
    'Hash chain',
    chained ? 'passed' : 'failed',
    chained
      ? `${manifest.pieces.length} piece hash(es) chain to the signed head ${head.slice(0, 16)}…` +
          (manifest.missing.length > 0 ? `; ${manifest.missing.length} gap(s) declared in the manifest.` : '.')
      : `The pieces chain to ${head.slice(0, 16)}…, not the signed ${manifest.chainHead.slice(0, 16)}….`,
  );

  if (session.mediaDeleted) {
    // Retention took the media and the activity; the signed manifest is what is left of them.
    set('Pieces', 'skipped', 'Deleted by retention: only the signed manifest is kept.');
    set('Activity', 'skipped', 'Deleted by retention with the media.');
    return checks;
  }
  const ext = EXTENSION[session.format];
  const bad: string[] = [];
  for (const [i, piece] of manifest.pieces.entries()) {
    if (i % 10 === 0) set('Pieces', 'running', `Checking piece ${i + 1} of ${manifest.pieces.length}…`);
    // `no-store`: what is stored now is checked, never a copy the browser kept from an earlier read.
    const res = await fetch(`${base}/pieces/${piece.seq}.${ext}`, {
      signal,
      credentials: 'same-origin',
      cache: 'no-store',
    });
    if (!res.ok) {
      bad.push(`piece ${piece.seq}: HTTP ${res.status}`);
      continue;
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.byteLength !== piece.size)
      bad.push(`piece ${piece.seq}: ${bytes.byteLength} bytes, signed ${piece.size}`);
    else if ((await sha256Hex(bytes)) !== piece.sha256)
      bad.push(`piece ${piece.seq}: its SHA-256 is not the signed one`);
  }
  set(
    'Pieces',
    manifest.pieces.length === 0 ? 'skipped' : bad.length === 0 ? 'passed' : 'failed',
    manifest.pieces.length === 0
      ? 'No pieces were stored.'
      : bad.length === 0
        ? `All ${manifest.pieces.length} stored piece(s) have their signed size and SHA-256.`
        : `${bad.length} of ${manifest.pieces.length} piece(s) do not match: ${bad.slice(0, 5).join('; ')}${bad.length > 5 ? '; …' : ''}`,
  );

  set('Activity', 'running', 'Reading the activity…');
  const events: unknown[] = [];
  for (let cursor: string | null = null, first = true; first || cursor; first = false) {
    const query = `limit=${ACTIVITY_PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page = (await getJson(`${base}/activity?${query}`, signal)) as {
      events: unknown[];
      nextCursor: string | null;
    };
    events.push(...page.events);
    cursor = page.nextCursor;
  }
  const digest = await activityDigest(events);
  const same = digest === manifest.activity.sha256 && events.length === manifest.activity.events;
  set(
    'Activity',
    same ? 'passed' : 'failed',
    same
      ? `${events.length} event(s) match the signed digest.`
      : `${events.length} event(s) now, ${manifest.activity.events} signed; the digest ${digest === manifest.activity.sha256 ? 'matches' : 'differs'}.`,
  );
  return checks;
}
