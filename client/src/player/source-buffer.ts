/**
 * Appends WebM pieces to a MediaSource in arrival order. A SourceBuffer takes one append at a time, so pieces
 * that arrive while it is `updating` wait in a queue; old media behind the playhead is trimmed so a long watch
 * does not run out of the buffer quota.
 */

/** Media kept behind the playhead. */
const KEEP_BEHIND_S = 60;
/** Trim only when this much more than KEEP_BEHIND_S has piled up, so trims are rare. */
const TRIM_SLACK_S = 30;

/** The MIME type for an init segment: VP9 or VP8, read from its CodecID, if this browser plays it. */
export function webmMimeType(init: Uint8Array): string | null {
  const text = new TextDecoder('latin1').decode(init.subarray(0, Math.min(init.byteLength, 4096)));
  const candidates = text.includes('V_VP9')
    ? ['video/webm; codecs="vp9"']
    : text.includes('V_VP8')
      ? ['video/webm; codecs="vp8"']
      : ['video/webm; codecs="vp9"', 'video/webm; codecs="vp8"'];
  return candidates.find((type) => MediaSource.isTypeSupported(type)) ?? null;
}

export class AppendQueue {
  readonly #buffer: SourceBuffer;
  readonly #video: HTMLVideoElement;
  readonly #pending: Uint8Array[] = [];
  readonly #onAppended: () => void;
  readonly #onError: (error: Error) => void;
  #closed = false;
  #endWhenDrained: (() => void) | null = null;

  constructor(
    buffer: SourceBuffer,
    video: HTMLVideoElement,
    handlers: { appended: () => void; error: (error: Error) => void },
  ) {
    this.#buffer = buffer;
    this.#video = video;
    this.#onAppended = handlers.appended;
    this.#onError = handlers.error;
    buffer.addEventListener('updateend', () => {
      this.#onAppended();
      this.#next();
    });
  }

  append(media: Uint8Array): void {
    if (this.#closed) return;
    this.#pending.push(media);
    this.#next();
  }

  /** Calls `end` once everything queued is appended. */
  whenDrained(end: () => void): void {
    this.#endWhenDrained = end;
    this.#next();
  }

  close(): void {
    this.#closed = true;
    this.#pending.length = 0;
  }

  #next(): void {
    if (this.#closed || this.#buffer.updating) return;
    if (this.#trim()) return; // updateend calls back here
    const media = this.#pending.shift();
    if (!media) {
      const end = this.#endWhenDrained;
      this.#endWhenDrained = null;
      end?.();
      return;
    }
    try {
      this.#buffer.appendBuffer(media as Uint8Array<ArrayBuffer>);
    } catch (error) {
      this.#closed = true;
      this.#onError(error as Error);
    }
  }

  /** Starts removing old media when there is enough of it; true when a removal is under way. */
  #trim(): boolean {
    const buffered = this.#buffer.buffered;
    if (buffered.length === 0) return false;
    const start = buffered.start(0);
    const cut = this.#video.currentTime - KEEP_BEHIND_S;
    if (cut - start < TRIM_SLACK_S) return false;
    this.#buffer.remove(start, cut);
    return true;
  }
}
