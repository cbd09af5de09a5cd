/**
 * Follows what the user types on one channel: readable `ssh.input` runs, best-effort `ssh.command` lines, and
 * password prompts, whose answer is recorded as `<redacted>` (in the cast and in activity) while the bytes
 * still reach the server unchanged.
 */
import { REDACTED } from '../../../protocol/activity.ts';
import type { SshActivity } from './activity-events.ts';
import { spell, type TypedKey, typedKeys } from './keys-typed.ts';

/** A run of input ends after this long without input... */
export const RUN_PAUSE_MS = 2_000;
/** ...or at this many characters. */
const MAX_RUN_CHARS = 64 * 1024;
/** How much of the server's recent output is kept to recognise a prompt. */
const TAIL_CHARS = 512;
/** What `output` keeps of the text it is given: only that much of a long output needs decoding. */
export const OUTPUT_TAIL_CHARS = TAIL_CHARS * 2;

/**
 * Output that asks for a secret: "Password:", "[sudo] password for alice:", "Enter passphrase for key …:",
 * "Verification code:", "PIN:" — at the very end of what the server printed.
 */
export const PASSWORD_PROMPT =
  /(password|passphrase|passcode|passwort|mot de passe|contraseña|senha|verification code|\bpin\b)[^\n]*[:：]\s*$/i;

/** Terminal escape sequences (colours, cursor moves, titles), removed before matching prompts. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences are control characters
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]/g;

export interface InputTrackerOptions {
  /** Session-clock ms now. */
  now: () => number;
  emit: (event: SshActivity) => void;
  /** Policy `keystrokesEnabled`: when false nothing typed is recorded (cast or activity). */
  keystrokes: boolean;
  /** A line was entered or thrown away (Enter, Ctrl+C, Ctrl+U): the text it held, as edited (for redaction). */
  lineEnded?: (line: string) => void;
  pauseMs?: number;
}

export class InputTracker {
  readonly #options: InputTrackerOptions;
  #tail = '';
  #run: { atMs: number; endMs: number; text: string } | null = null;
  #runTimer: NodeJS.Timeout | null = null;
  #line = '';
  /** Set while the user answers a password prompt: when it started. */
  #redactingSince: number | null = null;

  constructor(options: InputTrackerOptions) {
    this.#options = options;
  }

  get redacting(): boolean {
    return this.#redactingSince !== null;
  }

  /** The line being typed, as edited so far ('' between lines). */
  get line(): string {
    return this.#line;
  }

  /** Text the server printed on this channel (of long output, its last OUTPUT_TAIL_CHARS are enough). */
  output(text: string): void {
    this.#tail = (this.#tail + text).slice(-OUTPUT_TAIL_CHARS);
  }

  /**
   * Text the client sent at `now` (session ms). Returns the cast's `i` data for it ('' when nothing is to be
   * recorded now).
   */
  input(text: string, now = this.#options.now()): string {
    if (!this.#options.keystrokes) return '';
    let cast = '';
    for (const key of typedKeys(text)) {
      if (this.#redactingSince === null && this.#atPrompt()) {
        this.#endRun();
        this.#redactingSince = now;
      }
      if (this.#redactingSince !== null) {
        const terminator = key.kind === 'enter' || (key.kind === 'ctrl' && (key.letter === 'C' || key.letter === 'D'));
        if (!terminator) continue;
        cast += REDACTED + key.raw;
        this.#options.emit({
          type: 'ssh.input',
          atMs: this.#redactingSince,
          endMs: now,
          text: REDACTED,
          redacted: true,
        });
        this.#redactingSince = null;
        this.#tail = '';
        this.#line = '';
        continue;
      }
      cast += key.raw;
      this.#addToRun(spell(key), now);
      if (key.kind === 'enter') {
        this.#endRun();
        // What the prompt asked is answered: a quick next line is not taken for a second answer.
        this.#tail = '';
      }
      this.#edit(key, now);
    }
    return cast;
  }

  /** The channel closed: the open run goes out; an unfinished password answer is recorded as redacted. */
  close(): string {
    this.#endRun();
    if (this.#redactingSince === null) return '';
    this.#options.emit({
      type: 'ssh.input',
      atMs: this.#redactingSince,
      endMs: this.#options.now(),
      text: REDACTED,
      redacted: true,
    });
    this.#redactingSince = null;
    return REDACTED;
  }

  #atPrompt(): boolean {
    return PASSWORD_PROMPT.test(this.#tail.replace(ESCAPES, '').slice(-TAIL_CHARS));
  }

  #addToRun(text: string, now: number): void {
    if (!text) return;
    if (this.#run && now - this.#run.endMs >= (this.#options.pauseMs ?? RUN_PAUSE_MS)) this.#endRun();
    if (!this.#run) this.#run = { atMs: now, endMs: now, text: '' };
    this.#run.text += text;
    this.#run.endMs = now;
    if (this.#run.text.length >= MAX_RUN_CHARS) {
      this.#endRun();
      return;
    }
    if (this.#runTimer) clearTimeout(this.#runTimer);
    this.#runTimer = setTimeout(() => this.#endRun(), this.#options.pauseMs ?? RUN_PAUSE_MS);
    this.#runTimer.unref();
  }

  #endRun(): void {
    if (this.#runTimer) clearTimeout(this.#runTimer);
    this.#runTimer = null;
    const run = this.#run;
    this.#run = null;
    if (run) this.#options.emit({ type: 'ssh.input', atMs: run.atMs, endMs: run.endMs, text: run.text });
  }

  /** Follows the line being typed, as a shell's line editor would for the simple keys. */
  #edit(key: TypedKey, now: number): void {
    switch (key.kind) {
      case 'text':
        this.#line += key.text;
        return;
      case 'backspace':
        this.#line = [...this.#line].slice(0, -1).join('');
        return;
      case 'ctrl':
        if (key.letter === 'U' || key.letter === 'C') {
          if (this.#line) this.#options.lineEnded?.(this.#line);
          this.#line = '';
        } else if (key.letter === 'W') this.#line = this.#line.replace(/\S+\s*$/, '');
        return;
      case 'enter': {
        const command = this.#line.trim();
        if (this.#line) this.#options.lineEnded?.(this.#line);
        this.#line = '';
        if (command) this.#options.emit({ type: 'ssh.command', atMs: now, text: command });
        return;
      }
      case 'special':
        return;
    }
  }
}
