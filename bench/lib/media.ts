/**
 * Real WebM for the load benchmarks: ffmpeg records a test pattern as the launcher does (`-live 1`, a Cluster a
 * second), and it is cut like a launcher cuts it: piece 0 is the init segment, then one Cluster per piece.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { IngestHeader } from '../../protocol/ingest.ts';
import { describeCluster, EbmlId, readElementHeader } from '../../protocol/webm.ts';

export interface MediaPiece {
  bytes: Uint8Array;
  keyframe: boolean;
}

export interface BenchMedia {
  init: Uint8Array;
  clusters: MediaPiece[];
  /** Mean size of the Clusters, the pieces sent once a second. */
  meanClusterBytes: number;
}

/**
 * Records `seconds` of 1280x720 testsrc2 at 1 fps. At 560 kb/s a Cluster (one or two frames) averages about 50 KB,
 * a keyframe (every 10 s) larger.
 */
export function recordMedia(seconds: number, bitrate = '560k'): BenchMedia {
  const dir = mkdtempSync(path.join(tmpdir(), 'witness-bench-media-'));
  try {
    const file = path.join(dir, 'live.webm');
    execFileSync('ffmpeg', [
      ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=1'],
      ...['-t', String(seconds), '-c:v', 'libvpx', '-deadline', 'realtime', '-b:v', bitrate, '-g', '10'],
      ...['-f', 'webm', '-live', '1', '-cluster_time_limit', '1000', file],
    ]);
    return cut(new Uint8Array(readFileSync(file)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Splits a live WebM file at top-level element boundaries (as test/workers/fixtures/global-setup.ts does). */
function cut(bytes: Uint8Array): BenchMedia {
  const ebml = readElementHeader(bytes, 0);
  if (!ebml?.size) throw new Error('ffmpeg wrote no EBML header');
  let at = ebml.headerLength + ebml.size;
  const segment = readElementHeader(bytes, at);
  if (!segment) throw new Error('ffmpeg wrote no Segment');
  at += segment.headerLength;
  let init: Uint8Array | null = null;
  const clusters: MediaPiece[] = [];
  while (at < bytes.length) {
    const element = readElementHeader(bytes, at);
    if (!element || element.size === null) throw new Error(`unexpected element at byte ${at}`);
    const end = at + element.headerLength + element.size;
    if (element.id === EbmlId.cluster) {
      init ??= bytes.slice(0, at);
      const cluster = bytes.slice(at, end);
      clusters.push({ bytes: cluster, keyframe: describeCluster(cluster).keyframe });
    }
    at = end;
  }
  if (!init || clusters.length === 0) throw new Error('ffmpeg wrote no Cluster');
  const meanClusterBytes = clusters.reduce((a, c) => a + c.bytes.byteLength, 0) / clusters.length;
  return { init, clusters, meanClusterBytes };
}

export interface PieceToSend {
  seq: number;
  bytes: Uint8Array;
  headers: Record<string, string>;
}

/**
 * Piece `seq` of a session: the init segment, then the Clusters in order (reused from the start when a session
 * outlasts the recording; the server checks only a piece's first bytes and its length).
 */
export function pieceFor(media: BenchMedia, seq: number): PieceToSend {
  if (seq === 0) {
    return {
      seq,
      bytes: media.init,
      headers: { [IngestHeader.keyframe]: '0', [IngestHeader.startMs]: '0', [IngestHeader.endMs]: '0' },
    };
  }
  const cluster = media.clusters[(seq - 1) % media.clusters.length] as MediaPiece;
  return {
    seq,
    bytes: cluster.bytes,
    headers: {
      [IngestHeader.keyframe]: cluster.keyframe ? '1' : '0',
      [IngestHeader.startMs]: String((seq - 1) * 1000),
      [IngestHeader.endMs]: String(seq * 1000),
    },
  };
}
