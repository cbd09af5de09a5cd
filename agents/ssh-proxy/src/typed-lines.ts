/**
 * Secrets typed on a command line (`mysql -pS3cret`, `export DB_PASSWORD=…`, protocol/redaction.ts) kept out of
 * the cast: its input events and the echo the terminal prints back. Keys come one at a time, so a line is read
 * for secrets only once it is whole: while a line is being typed the cast holds its events back (each keeps the
 * time it came at, docs/ssh-proxy.md "Secrets on command lines"), and when the line ends every secret found in
 * it is replaced in the held events by its marker — in the event that carried its first character — before they
 * are written. Lines without a secret are written exactly as they were.
 */
import { redactText } from '../../../protocol/redaction.ts';
import type { CastRecorder, HeldEvent } from './cast.ts';

/** A line is held at most this long (a live viewer sees it then); what it holds so far is redacted as it stands. */
export const HOLD_MAX_MS = 30_000;
/** Held output past this many characters is not a line's echo (a full-screen program): it is written then. */
export const HOLD_MAX_CHARS = 64 * 1024;
/**
 * After a line with a secret ends, the cast goes on holding this long: the echo of the line's end, and the
 * shell's redisplay of a line typed ahead, come after it.
 */
export const ECHO_WAIT_MS = 1_000;
/** Secrets of this many recent lines are looked for in later output too (a line recalled, printed again). */
const KNOWN_SECRETS = 16;
/** Switches to and from the alternate screen (xterm's modes 1049, 1047 and 47), as bytes. */
const ALTERNATE_SCREEN = ['\x1b[?1049', '\x1b[?1047', '\x1b[?47'].map((mode) => ({
  on: Buffer.from(`${mode}h`),
  off: Buffer.from(`${mode}l`),
}));

/** Whether output ends on the alternate screen (true), off it (false), or does not switch (null). */
export function alternateScreen(bytes: Buffer): boolean | null {
  let at = -1;
  let on: boolean | null = null;
  for (const mode of ALTERNATE_SCREEN) {
    const enter = bytes.lastIndexOf(mode.on);
    const leave = bytes.lastIndexOf(mode.off);
    if (enter > at) [at, on] = [enter, true];
    if (leave > at) [at, on] = [leave, false];
  }
  return on;
}

/** A secret found on a typed line: its text as typed, and the marker that replaces it. */
export interface TypedSecret {
  value: string;
  marker: string;
}

/**
 * The secrets `redactText` finds in `line`, with their markers: the text between what it left standing. Null when
 * they cannot be told apart (the line already holds marker-like text).
 */
export function secretsIn(line: string): TypedSecret[] | null {
  const redacted = redactText(line).text;
  if (redacted === line) return [];
  const parts = redacted.split(/(<redacted:[a-z0-9-]{1,40}>)/);
  const found: TypedSecret[] = [];
  const first = parts[0] as string;
  if (!line.startsWith(first)) return null;
  let at = first.length;
  let markers = '';
  for (let i = 1; i < parts.length; i += 2) {
    markers += parts[i] as string;
    const next = parts[i + 1] as string;
    const last = i + 2 >= parts.length;
    // Markers side by side are one stretch of secret text.
    if (next === '' && !last) continue;
    const end = last ? line.length - next.length : line.indexOf(next, at + 1);
    if (end <= at || (last && !line.endsWith(next))) return null;
    found.push({ value: line.slice(at, end), marker: markers });
    at = end + next.length;
    markers = '';
  }
  return found;
}

/**
 * The held events with each occurrence of each secret replaced by its marker, per code (`i` and `o` apart): the
 * marker goes where the secret's first character was, the secret's characters leave the events that carried
 * them, and an event left with nothing is dropped. Times stay as they were. A secret typed with edits (a key
 * rubbed out, the cursor moved) is nowhere verbatim: then the stretch from its first character to its last, with
 * the edits between, is what is replaced. Text that could not show the secret (no echo) is left as it is.
 */
export function redactHeld(
  events: HeldEvent[],
  secrets: readonly TypedSecret[],
): { events: HeldEvent[]; replaced: number } {
  let replaced = 0;
  const out = events.map((e) => ({ ...e }));
  for (const code of ['i', 'o'] as const) {
    const mine = out.filter((e) => e.code === code);
    if (mine.length === 0) continue;
    const text = mine.map((e) => e.data).join('');
    const cuts: Cut[] = [];
    for (const secret of [...secrets].sort((a, b) => b.value.length - a.value.length)) {
      let found = false;
      for (let at = text.indexOf(secret.value); at !== -1; at = text.indexOf(secret.value, at + 1)) {
        found = addCut(cuts, { start: at, end: at + secret.value.length, marker: secret.marker }) || found;
      }
      const spread = found ? null : spreadOf(text, secret.value);
      if (spread) addCut(cuts, { ...spread, marker: secret.marker });
    }
    cuts.sort((a, b) => a.start - b.start);
    replaced += cuts.length;
    let offset = 0;
    for (const event of mine) {
      const start = offset;
      const end = offset + event.data.length;
      offset = end;
      let data = '';
      let at = start;
      for (const cut of cuts) {
        if (cut.end <= start || cut.start >= end) continue;
        if (cut.start > at) data += text.slice(at, cut.start);
        if (cut.start >= start) data += cut.marker;
        at = Math.max(at, Math.min(cut.end, end));
      }
      event.data = data + text.slice(at, end);
    }
  }
  return { events: out.filter((e) => e.data !== ''), replaced };
}

interface Cut {
  start: number;
  end: number;
  marker: string;
}

/** Adds `cut` unless it overlaps one already there; whether it was added. */
function addCut(cuts: Cut[], cut: Cut): boolean {
  if (cuts.some((c) => cut.start < c.end && cut.end > c.start)) return false;
  cuts.push(cut);
  return true;
}

/** Where `value`'s characters stand in `text` in order (the first such stretch that ends soonest), or null. */
function spreadOf(text: string, value: string): { start: number; end: number } | null {
  let best: { start: number; end: number } | null = null;
  for (
    let start = text.indexOf(value[0] as string);
    start !== -1;
    start = text.indexOf(value[0] as string, start + 1)
  ) {
    let at = start;
    for (const char of value.slice(1)) {
      at = text.indexOf(char, at + 1);
      if (at === -1) return best;
    }
    if (!best || at + 1 - start < best.end - best.start) best = { start, end: at + 1 };
  }
  return best;
}

export interface TypedLinesOptions {
  cast: CastRecorder;
  /** The line being typed now (the input tracker's). */
  line: () => string;
  /** How many markers went into the cast, for the session's summary. */
  onRedacted?: (replaced: number) => void;
  holdMaxMs?: number;
  echoWaitMs?: number;
}

function markersOf(text: string): string {
  return (text.match(/<redacted:[a-z0-9-]{1,40}>/g) ?? []).join('');
}

/** One terminal channel's typed lines, holding the cast while a line is open. */
export class TypedLines {
  readonly #options: TypedLinesOptions;
  /** Secrets of lines that ended while held. */
  #secrets: TypedSecret[] = [];
  #echoPending = false;
  /** Secrets of recent lines, looked for in later output. */
  #known: Array<TypedSecret & { bytes: Buffer }> = [];
  /** Held for one write of output that shows a known secret. */
  #outputOnly = false;
  /** The terminal is on its alternate screen (a full-screen program runs). */
  #fullScreen = false;
  #timer: NodeJS.Timeout | null = null;
  #echoTimer: NodeJS.Timeout | null = null;

  constructor(options: TypedLinesOptions) {
    this.#options = options;
  }

  /** Call before the cast records input: a line may be starting, so the cast holds from here. */
  beforeInput(): void {
    const cast = this.#options.cast;
    // A full-screen program (vim, less, top) reads keys, not command lines: its screen is not held.
    if (cast.holding || this.#fullScreen) return;
    cast.hold();
    if (!cast.holding) return;
    this.#timer = setTimeout(() => this.release(), this.#options.holdMaxMs ?? HOLD_MAX_MS);
    this.#timer.unref();
  }

  /** The tracker ended a line (Enter, Ctrl+C, Ctrl+U). */
  lineEnded(line: string): void {
    const secrets = secretsIn(line);
    // A line that already holds marker-like text, whose secrets cannot be told apart: all of it goes.
    this.#secrets.push(...(secrets ?? [{ value: line, marker: markersOf(redactText(line).text) }]));
  }

  /** Call after the cast recorded the input: writes what is held unless a line is open or an echo awaited. */
  afterInput(): void {
    if (!this.#options.cast.holding) return;
    if (this.#secrets.length > 0 && !this.#echoPending) {
      this.#echoPending = true;
      this.#echoTimer = setTimeout(() => {
        this.#echoPending = false;
        if (this.#options.line() === '') this.release();
      }, this.#options.echoWaitMs ?? ECHO_WAIT_MS);
      this.#echoTimer.unref();
      return;
    }
    if (!this.#echoPending && this.#options.line() === '') this.release();
  }

  /**
   * Call before the cast records output: output that shows a secret typed earlier (a line recalled from the
   * history and shown again) is held for this write, so that it is redacted too.
   */
  beforeOutput(bytes: Buffer): void {
    const screen = alternateScreen(bytes);
    if (screen !== null) this.#fullScreen = screen;
    const cast = this.#options.cast;
    if (cast.holding || this.#known.length === 0) return;
    if (!this.#known.some((secret) => bytes.includes(secret.bytes))) return;
    cast.hold();
    this.#secrets.push(...this.#known.map(({ value, marker }) => ({ value, marker })));
    this.#outputOnly = true;
  }

  /** Output was recorded (held, while holding). */
  printed(): void {
    const cast = this.#options.cast;
    if (!cast.holding) return;
    if (this.#outputOnly || this.#fullScreen || cast.heldBytes > HOLD_MAX_CHARS) this.release();
  }

  /**
   * Writes the held events with the secrets of the ended lines, and of the line still open (as it stands),
   * replaced by markers.
   */
  release(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#echoTimer) clearTimeout(this.#echoTimer);
    this.#timer = this.#echoTimer = null;
    this.#echoPending = false;
    const open = this.#options.line();
    if (open) this.lineEnded(open);
    const secrets = this.#secrets;
    this.#secrets = [];
    this.#outputOnly = false;
    for (const secret of secrets) {
      if (this.#known.some((k) => k.value === secret.value)) continue;
      this.#known.push({ ...secret, bytes: Buffer.from(secret.value) });
    }
    this.#known = this.#known.slice(-KNOWN_SECRETS);
    let replaced = 0;
    this.#options.cast.release((events) => {
      if (secrets.length === 0) return events;
      const result = redactHeld(events, secrets);
      replaced = result.replaced;
      return result.events;
    });
    if (replaced > 0) this.#options.onRedacted?.(replaced);
  }
}
