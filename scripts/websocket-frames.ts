/**
 * WebSocket frames as bytes on the wire (RFC 6455 §5.2), for the local edge's tunnel: where each frame starts and
 * what kind it is, across chunk boundaries, without copying or unmasking payloads. Nothing here decodes a frame;
 * the `ws` library does that at either end.
 */

export const Opcode = { close: 0x8 } as const;

/** Bytes of one frame, as they arrived: `first` when they start it (its header's first byte). */
export interface FrameRun {
  bytes: Buffer;
  opcode: number;
  first: boolean;
}

/** Longest header: 2 bytes, an 8-byte length, a 4-byte mask. */
const MAX_HEADER_BYTES = 14;

/** Walks one direction of a WebSocket connection. Feed it every chunk, in order. */
export class FrameWalker {
  #header = Buffer.alloc(MAX_HEADER_BYTES);
  #headerHave = 0;
  #payloadLeft = 0;
  #opcode = 0;

  /** Splits `chunk` into runs that each belong to one frame, in order; together they are `chunk`. */
  runs(chunk: Buffer): FrameRun[] {
    const runs: FrameRun[] = [];
    this.#walk(chunk, (run) => runs.push(run));
    return runs;
  }

  /** Whether a frame of `opcode` starts within `chunk` (which it walks past). */
  starts(chunk: Buffer, opcode: number): boolean {
    // Asked at each frame's first byte, allocating nothing: a flood's frames are walked by the hundred thousand.
    let found = false;
    this.#walk(chunk, null, (frameOpcode) => {
      if (frameOpcode === opcode) found = true;
      return true;
    });
    return found;
  }

  /**
   * Walks `chunk` up to the first frame that `admit` (asked at each frame's first byte) refuses, and returns how
   * many bytes it walked: all of them, or up to that frame's first byte, where the next call starts again.
   */
  until(chunk: Buffer, admit: (opcode: number) => boolean): number {
    return this.#walk(chunk, null, admit);
  }

  #walk(
    chunk: Buffer,
    report: ((run: FrameRun) => void) | null,
    admit: ((opcode: number) => boolean) | null = null,
  ): number {
    let at = 0;
    while (at < chunk.byteLength) {
      if (this.#payloadLeft > 0) {
        const take = Math.min(this.#payloadLeft, chunk.byteLength - at);
        report?.({ bytes: chunk.subarray(at, at + take), opcode: this.#opcode, first: false });
        this.#payloadLeft -= take;
        at += take;
        continue;
      }
      const first = this.#headerHave === 0;
      if (first && admit && !admit(chunk[at]! & 0x0f)) return at;
      if (first) this.#opcode = chunk[at]! & 0x0f;
      const from = at;
      while (at < chunk.byteLength && !this.#headerDone()) this.#header[this.#headerHave++] = chunk[at++]!;
      report?.({ bytes: chunk.subarray(from, at), opcode: this.#opcode, first });
      if (this.#headerDone()) {
        this.#payloadLeft = this.#payloadLength();
        this.#headerHave = 0;
      }
    }
    return at;
  }

  /** The header's length, once its second byte is in (2 until then). */
  #headerLength(): number {
    if (this.#headerHave < 2) return 2;
    const second = this.#header[1]!;
    const lengthBytes = { 126: 2, 127: 8 }[second & 0x7f] ?? 0;
    return 2 + lengthBytes + (second & 0x80 ? 4 : 0);
  }

  #headerDone(): boolean {
    return this.#headerHave >= 2 && this.#headerHave === this.#headerLength();
  }

  #payloadLength(): number {
    const short = this.#header[1]! & 0x7f;
    if (short === 126) return this.#header.readUInt16BE(2);
    if (short === 127) return Number(this.#header.readBigUInt64BE(2));
    return short;
  }
}
