/**
 * A terminal recording (asciicast v2) as plain text for an auditor (`GET /api/v1/sessions/{id}/transcript.txt`):
 * what the terminal printed with its escape sequences removed (strip-ansi), and each line the user entered on a
 * line of its own, marked `>>> [time] input: …`, after the output line it was typed on. Streams: one cast
 * line in, text out, whatever the recording's size.
 */
import stripAnsi from 'strip-ansi';
import { CastEvent } from '../../protocol/asciicast.ts';

/** A line longer than this is cut there (a terminal's screen of progress output without a newline). */
const MAX_LINE_CHARS = 64 * 1024;

/** `h:mm:ss.mmm` on the session clock. */
export function transcriptClock(ms: number): string {
  const total = Math.max(0, Math.floor(ms));
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor(total / 60_000) % 60;
  const s = Math.floor(total / 1000) % 60;
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(total % 1000).padStart(3, '0')}`;
}

/** Turns cast events into transcript text, one call per event; `end` gives what is left. */
export class TranscriptWriter {
  /** The output line being printed (not yet ended by a newline). */
  #line = '';
  /** The input line being typed, and when its first key came. */
  #typed = '';
  #typedAt: number | null = null;
  /** Entered input lines waiting for the output line they were typed on to end. */
  #entered: string[] = [];
  /** Output held back that may end inside an escape sequence (split across events). */
  #carry = '';

  /** The text this event adds to the transcript. */
  event([seconds, code, data]: CastEvent): string {
    const ms = Math.round(seconds * 1000);
    if (code === 'o') return this.#output(data);
    if (code === 'i') {
      this.#input(data, ms);
      return '';
    }
    if (code === 'm') return `${this.#endLine()}--- [${transcriptClock(ms)}] marker: ${stripAnsi(data)}\n`;
    return '';
  }

  end(): string {
    let out = this.#carry ? this.#output('', true) : '';
    out += this.#endLine();
    if (this.#typed) this.#entered.push(this.#enteredLine(this.#typed));
    out += this.#entered.join('');
    this.#entered = [];
    this.#typed = '';
    return out;
  }

  #output(data: string, flush = false): string {
    let text = this.#carry + data;
    this.#carry = '';
    // An escape sequence cut at the end of an event finishes in the next one: keep its start until then.
    const lastEscape = text.lastIndexOf('\x1b');
    // What strip-ansi cannot take whole (ESC left in it) is a sequence that goes on in the next event.
    if (
      !flush &&
      lastEscape !== -1 &&
      text.length - lastEscape < 256 &&
      stripAnsi(text.slice(lastEscape)).includes('\x1b')
    ) {
      this.#carry = text.slice(lastEscape);
      text = text.slice(0, lastEscape);
    }
    let out = '';
    for (const char of stripAnsi(text)) {
      if (char === '\n') {
        out += `${this.#line}\n${this.#entered.join('')}`;
        this.#line = '';
        this.#entered = [];
      } else if (char === '\r') {
        // A carriage return alone goes back to the line's start: what follows overwrites it. Kept simple: the
        // line so far stays, and only a newline ends it.
      } else if (char === '\b') {
        this.#line = this.#line.slice(0, -1);
      } else if (char >= ' ' || char === '\t') {
        this.#line += char;
        if (this.#line.length >= MAX_LINE_CHARS) {
          out += `${this.#line}\n`;
          this.#line = '';
        }
      }
    }
    return out;
  }

  #input(data: string, ms: number): void {
    // Escape sequences typed (arrows, function keys) move a cursor the transcript does not have: left out.
    for (const char of stripAnsi(data)) {
      if (char === '\r' || char === '\n') {
        this.#entered.push(this.#enteredLine(this.#typed, this.#typedAt ?? ms));
        this.#typed = '';
        this.#typedAt = null;
        continue;
      }
      this.#typedAt ??= ms;
      if (char === '\x7f' || char === '\b') this.#typed = this.#typed.slice(0, -1);
      else if (char === '\x15') this.#typed = '';
      else if (char >= ' ' || char === '\t') this.#typed += char;
    }
  }

  #enteredLine(text: string, ms = this.#typedAt ?? 0): string {
    return `>>> [${transcriptClock(ms)}] input: ${text}\n`;
  }

  #endLine(): string {
    if (!this.#line && this.#entered.length === 0) return '';
    const out = `${this.#line ? `${this.#line}\n` : ''}${this.#entered.join('')}`;
    this.#line = '';
    this.#entered = [];
    return out;
  }
}

/**
 * The transcript of a `.cast` stream (its header line first, then one event per line). A line that is not an
 * event is named in the transcript, never dropped silently.
 */
export function castToTranscript(header: string): TransformStream<string, string> {
  const writer = new TranscriptWriter();
  let rest = '';
  let first = true;
  const line = (text: string): string => {
    if (text.trim() === '') return '';
    if (first) {
      first = false;
      return header;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const event = CastEvent.safeParse(parsed);
    return event.success
      ? writer.event(event.data)
      : `--- (a line of the recording that is not an event: ${text.slice(0, 200)})\n`;
  };
  return new TransformStream<string, string>({
    transform(chunk, controller) {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      const out = lines.map(line).join('');
      if (out) controller.enqueue(out);
    },
    flush(controller) {
      const out = line(rest) + writer.end();
      if (out) controller.enqueue(out);
    },
  });
}
