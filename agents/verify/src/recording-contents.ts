/**
 * Checks a sealed recording against the hash chain without the pieces (manifest version 2): the file holds every
 * piece verbatim, so each piece is cut out of it and hashed, and every byte that is not a piece is rebuilt from
 * the pieces (protocol/sealed-webm.ts) and compared. A file whose SHA-256 matches the manifest but whose contents
 * are not what the chain attests fails here.
 */
import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import type { Manifest, ManifestPiece } from '../../../protocol/evidence.ts';
import { embeddedInitSegment, SealedWebmLayout } from '../../../protocol/sealed-webm.ts';

export type ContentsVerdict = { ok: true; detail: string } | { ok: false; detail: string };

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

async function readAt(file: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await file.read(out, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? out : out.subarray(0, got);
}

function pieceDiffers(piece: ManifestPiece, bytes: Uint8Array): string | null {
  if (bytes.byteLength !== piece.size) return `piece ${piece.seq} is cut short in the file`;
  const actual = sha256(bytes);
  return actual === piece.sha256
    ? null
    : `piece ${piece.seq} in the file has SHA-256 ${actual.slice(0, 16)}…; the chain attests ${piece.sha256.slice(0, 16)}…`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);
}

/** Whether `path`, a sealed recording of `manifest`, holds exactly the pieces its chain attests, in order. */
export async function checkRecordingContents(manifest: Manifest, path: string): Promise<ContentsVerdict> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const key = manifest.recording?.key ?? '';
    return key.endsWith('.cast') ? await castContents(manifest, file, size) : await webmContents(manifest, file, size);
  } finally {
    await file.close();
  }
}

/** A `.cast` is its pieces back to back. */
async function castContents(manifest: Manifest, file: FileHandle, size: number): Promise<ContentsVerdict> {
  let at = 0;
  for (const piece of manifest.pieces) {
    const problem = pieceDiffers(piece, await readAt(file, at, piece.size));
    if (problem) return { ok: false, detail: problem };
    at += piece.size;
  }
  if (at !== size) return { ok: false, detail: `the file has ${size - at} bytes after the last piece` };
  return { ok: true, detail: `all ${manifest.pieces.length} pieces are in the file verbatim and in order` };
}

async function webmContents(manifest: Manifest, file: FileHandle, size: number): Promise<ContentsVerdict> {
  const [first, ...clusters] = manifest.pieces;
  if (first?.seq !== 0) return { ok: false, detail: 'the manifest lists no init segment (piece 0)' };
  // The head holds piece 0 twice at most (its elements, and itself in a Void), plus a few hundred bytes.
  const head = await readAt(file, 0, Math.min(size, 2 * first.size + 64 * 1024));
  const embedded = embeddedInitSegment(head);
  if (!embedded) return { ok: false, detail: 'the file is not laid out as a sealed Witness recording' };
  const problem = pieceDiffers(first, embedded.piece0);
  if (problem) return { ok: false, detail: problem };
  let layout: SealedWebmLayout;
  try {
    layout = new SealedWebmLayout(embedded.piece0);
  } catch (error) {
    return { ok: false, detail: `the init segment is not WebM: ${(error as Error).message}` };
  }
  let at = layout.headLength;
  for (const piece of clusters) {
    const bytes = await readAt(file, at, piece.size);
    const differs = pieceDiffers(piece, bytes);
    if (differs) return { ok: false, detail: differs };
    layout.addCluster(bytes);
    at += piece.size;
  }
  const cues = layout.cues();
  if (size !== at + cues.byteLength || !sameBytes(await readAt(file, at, cues.byteLength), cues)) {
    return { ok: false, detail: 'the bytes after the last piece are not the Cues the pieces imply' };
  }
  const expectedHead = layout.head();
  if (!sameBytes(await readAt(file, 0, expectedHead.byteLength), expectedHead)) {
    return { ok: false, detail: 'the file header is not the one the init segment and pieces imply' };
  }
  if (manifest.recording && layout.mediaDurationMs !== manifest.recording.mediaDurationMs) {
    return {
      ok: false,
      detail: `the pieces last ${layout.mediaDurationMs} ms; the manifest says ${manifest.recording.mediaDurationMs}`,
    };
  }
  return {
    ok: true,
    detail: `all ${manifest.pieces.length} pieces are in the file verbatim and in order; every other byte follows from them`,
  };
}
