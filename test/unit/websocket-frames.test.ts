/** The local edge's frame walker (scripts/websocket-frames.ts): where frames start, however the bytes are cut. */
import { describe, expect, it } from 'vitest';
import { FrameWalker } from '../../scripts/websocket-frames.ts';

/** A frame as a client (masked) or a server (unmasked) sends it. */
function frame(opcode: number, payloadBytes: number, masked: boolean): Buffer {
  const length =
    payloadBytes < 126
      ? Buffer.from([payloadBytes])
      : payloadBytes < 65_536
        ? Buffer.from([126, payloadBytes >> 8, payloadBytes & 0xff])
        : Buffer.concat([Buffer.from([127]), Buffer.from(BigInt(payloadBytes).toString(16).padStart(16, '0'), 'hex')]);
  if (masked) length[0]! |= 0x80;
  const mask = masked ? Buffer.from([1, 2, 3, 4]) : Buffer.alloc(0);
  // Payload bytes that look like headers, so that a walker that lost its place would find false frames.
  return Buffer.concat([Buffer.from([0x80 | opcode]), length, mask, Buffer.alloc(payloadBytes, 0x88)]);
}

const stream = (masked: boolean) => [
  frame(0x1, 0, masked),
  frame(0x2, 5, masked),
  frame(0x1, 125, masked),
  frame(0x2, 126, masked),
  frame(0x9, 3, masked),
  frame(0x2, 70_000, masked),
  frame(0x8, 2, masked),
];

describe('FrameWalker', () => {
  for (const masked of [true, false]) {
    it(`finds each ${masked ? 'masked' : 'unmasked'} frame's start and kind wherever the stream is cut`, () => {
      const frames = stream(masked);
      const bytes = Buffer.concat(frames);
      const starts = frames.map((_, i) => frames.slice(0, i).reduce((sum, f) => sum + f.byteLength, 0));
      for (const cut of [1, 2, 3, 7, 13, 64, 1000, bytes.byteLength]) {
        const walker = new FrameWalker();
        const seen: { at: number; opcode: number }[] = [];
        const rebuilt: Buffer[] = [];
        let at = 0;
        for (let from = 0; from < bytes.byteLength; from += cut) {
          for (const run of walker.runs(bytes.subarray(from, from + cut))) {
            if (run.first) seen.push({ at, opcode: run.opcode });
            rebuilt.push(run.bytes);
            at += run.bytes.byteLength;
          }
        }
        expect(Buffer.concat(rebuilt).equals(bytes)).toBe(true);
        expect(seen).toEqual(starts.map((start, i) => ({ at: start, opcode: frames[i]![0]! & 0x0f })));
      }
    });
  }

  it('stops at the first frame it is told not to admit, and starts there again', () => {
    const [a, b, c] = [frame(0x1, 300, true), frame(0x2, 9, true), frame(0x8, 2, true)];
    const walker = new FrameWalker();
    const bytes = Buffer.concat([a!, b!, c!]);
    const asked: number[] = [];
    const walked = walker.until(bytes, (opcode) => {
      asked.push(opcode);
      return opcode !== 0x2;
    });
    expect(walked).toBe(a!.byteLength);
    expect(asked).toEqual([0x1, 0x2]);
    expect(walker.until(bytes.subarray(walked, walked + 4), () => true)).toBe(4);
    expect(walker.starts(bytes.subarray(walked + 4, walked + b!.byteLength), 0x8)).toBe(false);
    expect(walker.runs(c!).map((run) => [run.first, run.opcode])).toEqual([
      [true, 0x8],
      [false, 0x8],
    ]);
  });
});
