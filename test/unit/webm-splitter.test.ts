import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MediaPiece, WebmSplitter } from '../../agents/launcher/src/webm-splitter.ts';
import { checkPieceStart } from '../../protocol/webm.ts';
import { blockBody, ebmlHeader, element, Ids, UNKNOWN_SIZE, uint, unknownSizeElement } from './ebml-builder.ts';

/** Feeds `data` in the given chunk lengths (the rest in one go) and ends the stream. */
function split(
  data: Uint8Array,
  cuts: number[] = [],
  frameDurationMs = 1000,
): { pieces: MediaPiece[]; dropped: number } {
  const splitter = new WebmSplitter({ frameDurationMs });
  const pieces: MediaPiece[] = [];
  let at = 0;
  for (const cut of cuts) {
    pieces.push(...splitter.push(data.subarray(at, cut)));
    at = cut;
  }
  pieces.push(...splitter.push(data.subarray(at)));
  pieces.push(...splitter.end());
  return { pieces, dropped: splitter.droppedBytes };
}

function byteFeed(data: Uint8Array): MediaPiece[] {
  const splitter = new WebmSplitter({ frameDurationMs: 1000 });
  const pieces: MediaPiece[] = [];
  for (let i = 0; i < data.length; i++) pieces.push(...splitter.push(data.subarray(i, i + 1)));
  pieces.push(...splitter.end());
  return pieces;
}

const summary = (pieces: MediaPiece[]) =>
  pieces.map((p) => ({
    seq: p.seq,
    keyframe: p.keyframe,
    startMs: p.startMs,
    endMs: p.endMs,
    hex: Buffer.from(p.bytes).toString('hex'),
  }));

describe('WebmSplitter on a synthetic stream', () => {
  // TimecodeScale 0.5 ms per tick; DefaultDuration 100 ms (= 200 ticks).
  const header = [
    ...ebmlHeader(),
    0x18,
    0x53,
    0x80,
    0x67,
    ...UNKNOWN_SIZE,
    ...element(Ids.info, element(Ids.timecodeScale, uint(500_000, 3))),
    ...element(
      Ids.tracks,
      element(Ids.trackEntry, [
        ...element(Ids.trackNumber, [1]),
        ...element(Ids.trackType, [1]),
        ...element(Ids.defaultDuration, uint(100_000_000)),
      ]),
    ),
    ...element(Ids.tags, [1, 2, 3]),
    ...element(Ids.void, [0, 0]),
  ];
  // A: unknown size, key SimpleBlock + delta SimpleBlock.
  const clusterA = unknownSizeElement(Ids.cluster, [
    ...element(Ids.timecode, [0]),
    ...element(Ids.simpleBlock, blockBody(0, 0x80)),
    ...element(Ids.simpleBlock, blockBody(200, 0x00)),
  ]);
  // B: known size written with a 4-byte vint; a BlockGroup with ReferenceBlock (delta) and BlockDuration.
  const clusterB = element(
    Ids.cluster,
    [
      ...element(Ids.timecode, uint(400, 2)),
      ...element(Ids.blockGroup, [
        ...element(Ids.block, blockBody(0, 0x00)),
        ...element(Ids.referenceBlock, [0xff, 0x38]),
        ...element(Ids.blockDuration, [100]),
      ]),
    ],
    4,
  );
  // C: unknown size, a Void, and a BlockGroup without ReferenceBlock (a keyframe); ended by Cues.
  const clusterC = unknownSizeElement(Ids.cluster, [
    ...element(Ids.timecode, uint(600, 2)),
    ...element(Ids.void, [0, 0, 0]),
    ...element(Ids.blockGroup, element(Ids.block, blockBody(10, 0x00))),
  ]);
  const cues = element(Ids.cues, [9, 9, 9, 9]);
  // D: unknown size with a negative relative timecode, ended by the end of the stream.
  const clusterD = unknownSizeElement(Ids.cluster, [
    ...element(Ids.timecode, uint(1000, 2)),
    ...element(Ids.simpleBlock, blockBody(-4, 0x00)),
  ]);
  const stream = Uint8Array.from([...header, ...clusterA, ...clusterB, ...clusterC, ...cues, ...clusterD]);
  const expected = [
    { seq: 0, bytes: header, keyframe: false, startMs: 0, endMs: 0 },
    { seq: 1, bytes: clusterA, keyframe: true, startMs: 0, endMs: 200 },
    { seq: 2, bytes: clusterB, keyframe: false, startMs: 200, endMs: 250 },
    { seq: 3, bytes: clusterC, keyframe: true, startMs: 300, endMs: 405 },
    { seq: 4, bytes: clusterD, keyframe: false, startMs: 500, endMs: 598 },
  ].map((p) => ({ ...p, hex: Buffer.from(p.bytes).toString('hex'), bytes: undefined }));
  const expectedSummary = expected.map(({ bytes: _, ...rest }) => rest);

  it('cuts init, known- and unknown-size clusters and reads their times and keyframes', () => {
    const { pieces, dropped } = split(stream);
    expect(summary(pieces)).toEqual(expectedSummary);
    expect(dropped).toBe(cues.length);
  });

  it('gives the same pieces for a split at every byte position', () => {
    for (let k = 0; k <= stream.length; k++) {
      expect(summary(split(stream, [k]).pieces), `split at ${k}`).toEqual(expectedSummary);
    }
  });

  it('gives the same pieces for every pair of split positions', () => {
    for (let a = 1; a < stream.length; a += 1) {
      for (let b = a; b <= stream.length; b += 3) {
        const got = summary(split(stream, [a, b]).pieces);
        if (JSON.stringify(got) !== JSON.stringify(expectedSummary)) {
          expect(got, `splits at ${a}, ${b}`).toEqual(expectedSummary);
        }
      }
    }
  });

  it('gives the same pieces when fed one byte at a time', () => {
    expect(summary(byteFeed(stream))).toEqual(expectedSummary);
  });

  it('returns pieces as soon as they are complete', () => {
    const splitter = new WebmSplitter({ frameDurationMs: 1000 });
    // The init piece ends where the first Cluster's header (ID + size) is seen.
    expect(splitter.push(Uint8Array.from(header))).toEqual([]);
    expect(splitter.push(Uint8Array.from(clusterA.slice(0, 11)))).toEqual([]);
    expect(splitter.push(Uint8Array.from(clusterA.slice(11, 12))).map((p) => p.seq)).toEqual([0]);
    // An unknown-size cluster ends when the next cluster's header arrives.
    expect(splitter.push(Uint8Array.from(clusterA.slice(12)))).toEqual([]);
    expect(splitter.push(Uint8Array.from(clusterB.slice(0, 8))).map((p) => p.seq)).toEqual([1]);
    // A known-size cluster ends with its last byte.
    expect(splitter.push(Uint8Array.from(clusterB.slice(8, -1)))).toEqual([]);
    expect(splitter.push(Uint8Array.from(clusterB.slice(-1))).map((p) => p.seq)).toEqual([2]);
    expect(splitter.piecesEmitted).toBe(3);
  });

  it('drops a known-size cluster cut off by the end of the stream', () => {
    const truncated = Uint8Array.from([...header, ...clusterA, ...clusterB.slice(0, clusterB.length - 2)]);
    const { pieces, dropped } = split(truncated);
    expect(pieces.map((p) => p.seq)).toEqual([0, 1]);
    expect(dropped).toBe(clusterB.length - 2);
  });

  it('ends an unknown-size cluster at its last whole child when the stream stops mid-element', () => {
    const truncated = Uint8Array.from([...header, ...clusterA.slice(0, clusterA.length - 3)]);
    const { pieces } = split(truncated);
    expect(pieces).toHaveLength(2);
    // Only the Timecode and the first SimpleBlock made it.
    const firstBlockEnd = 12 + element(Ids.timecode, [0]).length + element(Ids.simpleBlock, blockBody(0, 0x80)).length;
    expect(pieces[1]?.bytes.length).toBe(firstBlockEnd);
    expect(pieces[1]).toMatchObject({ keyframe: true, startMs: 0, endMs: 100 });
  });

  it('returns the init segment when the stream ends before any cluster', () => {
    const { pieces } = split(Uint8Array.from(header));
    expect(summary(pieces)).toEqual(expectedSummary.slice(0, 1));
  });

  it('uses the frame duration option and a 1 ms TimecodeScale by default', () => {
    const plain = Uint8Array.from([
      ...ebmlHeader(),
      0x18,
      0x53,
      0x80,
      0x67,
      ...UNKNOWN_SIZE,
      ...element(Ids.cluster, [
        ...element(Ids.timecode, uint(3000, 2)),
        ...element(Ids.simpleBlock, blockBody(500, 0x80)),
      ]),
    ]);
    const { pieces } = split(plain, [], 250);
    expect(pieces[1]).toMatchObject({ seq: 1, startMs: 3000, endMs: 3750, keyframe: true });
  });

  it('refuses a stream that is not WebM', () => {
    expect(() => split(Uint8Array.from([0x1f, 0x43, 0xb6, 0x75, 0x80]))).toThrow(/EBML header/);
    expect(() => split(Uint8Array.from([0x00, 0x01, 0x02]))).toThrow();
  });

  it('refuses an unknown-size element before the first cluster', () => {
    const bad = Uint8Array.from([
      ...ebmlHeader(),
      0x18,
      0x53,
      0x80,
      0x67,
      ...UNKNOWN_SIZE,
      0x16,
      0x54,
      0xae,
      0x6b,
      ...UNKNOWN_SIZE,
    ]);
    expect(() => split(bad)).toThrow(/unknown size/);
  });

  it('refuses a piece larger than the limit instead of buffering it', () => {
    const splitter = new WebmSplitter({ frameDurationMs: 1000, maxPieceBytes: 1000 });
    const big = element(Ids.cluster, [
      ...element(Ids.timecode, [0]),
      ...element(Ids.simpleBlock, blockBody(0, 0x80, new Array(2000).fill(1))),
    ]);
    expect(() => splitter.push(Uint8Array.from([...header, ...big]))).toThrow(/larger than 1000/);
  });
});

/** Real ffmpeg output: live WebM as the launcher gets it, and a seekable file with Cues at the end. */
describe('WebmSplitter on ffmpeg output', () => {
  let dir: string;
  const outputs: Record<string, Buffer> = {};

  const encode = (name: string, codecArgs: string[], muxArgs: string[]) => {
    const file = join(dir, `${name}.webm`);
    const result = spawnSync(
      'ffmpeg',
      [
        ...[
          '-hide_banner',
          '-loglevel',
          'error',
          '-y',
          '-f',
          'lavfi',
          '-i',
          'testsrc2=size=320x240:rate=10',
          '-t',
          '3',
        ],
        ...['-pix_fmt', 'yuv420p', ...codecArgs, '-g', '7', '-f', 'webm', ...muxArgs, file],
      ],
      { encoding: 'utf8' },
    );
    expect(result.status, result.stderr).toBe(0);
    outputs[name] = readFileSync(file);
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'witness-splitter-'));
    const realtime = ['-deadline', 'realtime', '-cpu-used', '8', '-lag-in-frames', '0'];
    encode(
      'vp9-live',
      ['-c:v', 'libvpx-vp9', ...realtime, '-b:v', '0', '-crf', '40'],
      ['-live', '1', '-cluster_time_limit', '250'],
    );
    encode(
      'vp8-live',
      ['-c:v', 'libvpx', ...realtime, '-b:v', '1M', '-crf', '20'],
      ['-live', '1', '-cluster_time_limit', '250'],
    );
    encode('vp9-file', ['-c:v', 'libvpx-vp9', ...realtime, '-b:v', '0', '-crf', '40'], ['-cluster_time_limit', '250']);
  }, 60_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Packets as ffprobe sees them: pts in ms and whether they are keyframes. */
  const probePackets = (file: string) => {
    const result = spawnSync(
      'ffprobe',
      ['-v', 'error', '-show_entries', 'packet=pts_time,flags', '-of', 'json', file],
      { encoding: 'utf8' },
    );
    expect(result.status, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as { packets: { pts_time: string; flags: string }[] };
    return json.packets.map((p) => ({ ms: Math.round(Number(p.pts_time) * 1000), key: p.flags.startsWith('K') }));
  };

  for (const name of ['vp9-live', 'vp8-live', 'vp9-file']) {
    it(`${name}: pieces cover every packet, with the right times and keyframe flags`, () => {
      const data = outputs[name] as Buffer;
      const { pieces, dropped } = split(data);
      expect(pieces.length).toBeGreaterThan(8);
      pieces.forEach((piece, i) => {
        expect(piece.seq).toBe(i);
        expect(checkPieceStart(piece.seq, piece.bytes.subarray(0, 64))).toBeNull();
      });
      // Nothing is lost but what follows the last cluster (Cues, Tags in the seekable file).
      const joined = Buffer.concat(pieces.map((p) => p.bytes));
      expect(joined.equals(data.subarray(0, joined.length))).toBe(true);
      expect(joined.length + dropped).toBe(data.length);
      if (name.endsWith('-live')) expect(dropped).toBe(0);

      const clusters = pieces.slice(1);
      for (let i = 1; i < clusters.length; i++) {
        expect(clusters[i]?.startMs).toBe(clusters[i - 1]?.endMs);
      }
      expect(clusters[0]?.startMs).toBe(0);
      expect(clusters.at(-1)?.endMs).toBe(3000);
      const file = join(dir, `${name}.webm`);
      for (const packet of probePackets(file)) {
        const holder = clusters.filter((c) => c.startMs <= packet.ms && packet.ms < c.endMs);
        expect(holder, `packet at ${packet.ms} ms`).toHaveLength(1);
        if (packet.key) expect(holder[0]?.keyframe, `keyframe at ${packet.ms} ms`).toBe(true);
      }
      const keyPieces = clusters.filter((c) => c.keyframe).map((c) => c.startMs);
      const keyPackets = probePackets(file).filter((p) => p.key);
      expect(keyPieces.length).toBe(
        new Set(keyPackets.map((p) => clusters.findIndex((c) => c.startMs <= p.ms && p.ms < c.endMs))).size,
      );
    });

    it(`${name}: any byte feed gives the same pieces`, () => {
      const data = outputs[name] as Buffer;
      const whole = summary(split(data).pieces);
      expect(summary(byteFeed(data))).toEqual(whole);
      let seed = 7;
      const random = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      for (let round = 0; round < 20; round++) {
        const cuts: number[] = [];
        for (let at = 0; at < data.length; ) {
          at += 1 + Math.floor(random() * 5000);
          if (at < data.length) cuts.push(at);
        }
        expect(summary(split(data, cuts).pieces)).toEqual(whole);
      }
    });
  }

  it('the init segment plus the pieces from a keyframe piece on decode from that keyframe', () => {
    // A Cluster need not start with its keyframe (ffmpeg only cuts at a keyframe after 4 KiB), so
    // frames before the keyframe in that piece may not decode; everything from the keyframe on must.
    const source = join(dir, 'vp9-live.webm');
    const { pieces } = split(outputs['vp9-live'] as Buffer);
    const keyIndex = pieces.findIndex((p, i) => i > 1 && p.keyframe);
    expect(keyIndex).toBeGreaterThan(1);
    const file = join(dir, 'from-keyframe.webm');
    writeFileSync(
      file,
      Buffer.concat([pieces[0]?.bytes ?? new Uint8Array(), ...pieces.slice(keyIndex).map((p) => p.bytes)]),
    );
    const firstKeyMs = probePackets(source).find((p) => p.key && p.ms >= (pieces[keyIndex]?.startMs ?? 0))?.ms ?? -1;
    const framesFromKey = probePackets(source).filter((p) => p.ms >= firstKeyMs).length;
    const result = spawnSync('ffmpeg', ['-v', 'quiet', '-i', file, '-f', 'framecrc', '-'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    const decoded = result.stdout.split('\n').filter((line) => /^0,/.test(line)).length;
    expect(decoded).toBeGreaterThanOrEqual(framesFromKey);
  });
});
