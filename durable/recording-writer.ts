/**
 * Takes a muxer's positioned writes and stores them as one R2 object without holding the whole file.
 *
 * R2 multipart parts must be equal-sized (≥ 5 MiB) except the last, and can be uploaded in any order. The muxer
 * appends clusters and, at the end, patches the header (Duration, SeekHead, sizes). So part 1 stays in memory
 * until `finish()`, later parts go up as they fill (keeping a margin for patches to the newest bytes), and a
 * write into a part already uploaded fails loudly rather than producing a silently wrong file.
 */

export const PART_BYTES = 8 * 1024 * 1024;
/** Newest bytes kept back from upload in case the muxer patches them. */
const PATCH_MARGIN = 2 * 1024 * 1024;

class GrowableBytes {
  bytes = new Uint8Array(64 * 1024);
  length = 0;

  write(data: Uint8Array, at: number): void {
    const end = at + data.byteLength;
    if (end > this.bytes.byteLength) {
      const grown = new Uint8Array(Math.max(end, this.bytes.byteLength * 2));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.bytes.set(data, at);
    this.length = Math.max(this.length, end);
  }

  /** Removes and returns the first `count` bytes. */
  shift(count: number): Uint8Array {
    const head = this.bytes.slice(0, count);
    this.bytes.copyWithin(0, count, this.length);
    this.length -= count;
    return head;
  }
}

export class RecordingWriter {
  /** File offset where `pending` starts. */
  #pendingStart = 0;
  #pending = new GrowableBytes();
  #firstPart: Uint8Array | null = null;
  #upload: R2MultipartUpload | null = null;
  #uploaded: R2UploadedPart[] = [];
  #size = 0;

  constructor(
    private readonly bucket: R2Bucket,
    private readonly key: string,
    private readonly options: R2PutOptions = {},
  ) {}

  /** Bytes written so far (the file's size once finished). */
  get size(): number {
    return this.#size;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    this.#size = Math.max(this.#size, position + data.byteLength);
    if (position >= this.#pendingStart) {
      this.#pending.write(data, position - this.#pendingStart);
    } else if (this.#firstPart && position + data.byteLength <= PART_BYTES) {
      this.#firstPart.set(data, position);
    } else {
      throw new Error(`muxer rewrote bytes ${position}..${position + data.byteLength} after they were uploaded`);
    }
    while (this.#pending.length >= PART_BYTES + PATCH_MARGIN) await this.#cutPart();
  }

  async #cutPart(): Promise<void> {
    const part = this.#pending.shift(PART_BYTES);
    this.#pendingStart += PART_BYTES;
    if (!this.#firstPart) {
      this.#firstPart = part;
      return;
    }
    this.#upload ??= await this.bucket.createMultipartUpload(this.key, this.options);
    this.#uploaded.push(await this.#upload.uploadPart(this.#uploaded.length + 2, part));
  }

  /** Stores the finished file; returns its size. */
  async finish(): Promise<number> {
    // Parts must be equal-sized except the last, which may be smaller but not larger.
    while (this.#pending.length > PART_BYTES) await this.#cutPart();
    const rest = this.#pending.bytes.subarray(0, this.#pending.length);
    if (!this.#firstPart) {
      await this.bucket.put(this.key, rest, this.options);
      return this.#size;
    }
    this.#upload ??= await this.bucket.createMultipartUpload(this.key, this.options);
    const parts = [await this.#upload.uploadPart(1, this.#firstPart), ...this.#uploaded];
    if (rest.byteLength > 0) parts.push(await this.#upload.uploadPart(parts.length + 1, rest));
    await this.#upload.complete(parts);
    return this.#size;
  }

  /** Gives up: nothing partial is left behind. */
  async abort(): Promise<void> {
    await this.#upload?.abort().catch(() => undefined);
  }
}
