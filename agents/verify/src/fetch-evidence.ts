/**
 * `witness fetch-evidence`: downloads a sealed session's signed manifest, recording, stored pieces and activity
 * into a directory, laid out for `witness verify`. The server's current public key is saved too, for reference only:
 * a key fetched from the server under check proves nothing on its own.
 */
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { z } from 'zod';
import { PublicKeyReply, SignedManifest } from '../../../protocol/evidence.ts';
import { ErrorBody } from '../../../protocol/ingest.ts';

export interface FetchOptions {
  server: string;
  apiKey: string;
  session: string;
  out: string;
  /** Parallel piece downloads. */
  concurrency?: number;
  log?: (line: string) => void;
  fetchImpl?: typeof fetch;
}

export interface FetchedEvidence {
  manifest: string;
  recording: string | null;
  pieces: string;
  /**
   * activity.jsonl: the session's events, one a line, in the order the API lists them (what the digest covers);
   * null when retention deleted them.
   */
  activity: string | null;
  /** When retention deleted the session's media and activity (ISO), or null: then only the manifest is saved. */
  mediaDeleted: string | null;
  publicKey: string | null;
  signed: SignedManifest;
}

/** Events per page of the activity API (its most). */
const ACTIVITY_PAGE = 5000;
const ActivityPage = z.looseObject({ events: z.array(z.unknown()), nextCursor: z.string().nullable() });

export class FetchError extends Error {
  override name = 'FetchError';
}

export async function fetchEvidence(options: FetchOptions): Promise<FetchedEvidence> {
  const log = options.log ?? (() => undefined);
  const fetchImpl = options.fetchImpl ?? fetch;
  const base = `${options.server.replace(/\/+$/, '')}/api/v1`;
  const session = encodeURIComponent(options.session);

  const get = async (url: string): Promise<Response> => {
    let response: Response;
    try {
      response = await fetchImpl(`${base}${url}`, {
        headers: { authorization: `Bearer ${options.apiKey}` },
        signal: AbortSignal.timeout(300_000),
      });
    } catch (error) {
      throw new FetchError(`cannot reach ${options.server}: ${(error as Error).message}`);
    }
    if (response.ok) return response;
    const text = await response.text();
    let detail = text.slice(0, 200);
    try {
      const error = ErrorBody.parse(JSON.parse(text));
      detail = `${error.error.code}: ${error.error.message}`;
    } catch {}
    throw new FetchError(`GET ${url} failed (HTTP ${response.status}) ${detail}`);
  };
  const save = async (url: string, file: string): Promise<void> => {
    const response = await get(url);
    if (!response.body) throw new FetchError(`GET ${url} returned no body`);
    await pipeline(Readable.fromWeb(response.body as NodeReadableStream), createWriteStream(file));
  };

  const piecesDir = path.join(options.out, 'pieces');
  mkdirSync(piecesDir, { recursive: true });

  const manifestFile = path.join(options.out, 'manifest.json');
  const manifestReply = await get(`/sessions/${session}/manifest`);
  const manifestText = await manifestReply.text();
  writeFileSync(manifestFile, manifestText);
  const parsed = SignedManifest.safeParse(JSON.parse(manifestText));
  if (!parsed.success) throw new FetchError('the server returned something that is not a signed manifest');
  const signed = parsed.data;
  log(`manifest: ${signed.manifest.pieces.length} pieces, key ${signed.manifest.keyId} → ${manifestFile}`);
  const publicKey = () => savePublicKey(get, options.out, log);

  // Retention deleted the media and activity (docs/retention.md): the signed manifest is what is left of it.
  const deleted = /^deleted (\S+)$/.exec(manifestReply.headers.get('x-witness-media') ?? '')?.[1] ?? null;
  if (deleted) {
    log(`media: deleted by retention on ${deleted}; only the manifest is saved (recording, pieces, activity are gone)`);
    return {
      manifest: manifestFile,
      recording: null,
      pieces: piecesDir,
      activity: null,
      mediaDeleted: deleted,
      publicKey: await publicKey(),
      signed,
    };
  }

  // A desktop session is WebM video, an SSH session an asciicast terminal log: the file names follow.
  const ext = signed.manifest.recording?.key.endsWith('.cast') ? 'cast' : await sessionExtension(get, session);
  let recordingFile: string | null = null;
  if (signed.manifest.recording) {
    recordingFile = path.join(options.out, `recording.${ext}`);
    await save(`/sessions/${session}/recording.${ext}?download=1`, recordingFile);
    log(`recording: ${signed.manifest.recording.size} bytes → ${recordingFile}`);
  }

  const queue = [...signed.manifest.pieces];
  const worker = async () => {
    for (let piece = queue.shift(); piece; piece = queue.shift()) {
      const name = `${String(piece.seq).padStart(10, '0')}.${ext}`;
      await save(`/sessions/${session}/pieces/${piece.seq}.${ext}`, path.join(piecesDir, name));
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
  log(`pieces: ${signed.manifest.pieces.length} → ${piecesDir}`);

  const activityFile = path.join(options.out, 'activity.jsonl');
  const lines: string[] = [];
  for (let cursor: string | null = null, first = true; first || cursor; first = false) {
    const query = `limit=${ACTIVITY_PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page = ActivityPage.parse(await (await get(`/sessions/${session}/activity?${query}`)).json());
    for (const event of page.events) lines.push(JSON.stringify(event));
    cursor = page.nextCursor;
  }
  writeFileSync(activityFile, lines.map((line) => `${line}\n`).join(''));
  log(`activity: ${lines.length} events → ${activityFile}`);

  return {
    manifest: manifestFile,
    recording: recordingFile,
    pieces: piecesDir,
    activity: activityFile,
    mediaDeleted: null,
    publicKey: await publicKey(),
    signed,
  };
}

/** Saves the server's current public key, for reference; null when it could not be fetched. */
async function savePublicKey(
  get: (url: string) => Promise<Response>,
  out: string,
  log: (line: string) => void,
): Promise<string | null> {
  try {
    const key = PublicKeyReply.parse(await (await get('/evidence/public-key')).json());
    const file = path.join(out, 'server-public-key.pem');
    writeFileSync(file, key.pem);
    log(`server public key: ${key.keyId} → ${file} (for reference: pin the key you trust separately)`);
    return file;
  } catch (error) {
    log(`server public key: not saved (${(error as Error).message})`);
    return null;
  }
}

/** The piece file extension of a session without a sealed recording, from its format in the API. */
async function sessionExtension(get: (url: string) => Promise<Response>, session: string): Promise<'webm' | 'cast'> {
  const body = (await (await get(`/sessions/${session}`)).json()) as { format?: unknown };
  return body.format === 'asciicast' ? 'cast' : 'webm';
}
