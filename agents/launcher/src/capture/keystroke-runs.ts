/**
 * Typed keys become readable runs: one `keys` event per stretch of typing into one window, split at pauses
 * and whenever the focused window (or its title) changes; runs typed into a password prompt are redacted.
 */
import { MAX_EVENT_TEXT, REDACTED } from '../../../../protocol/activity.ts';
import type { CapturedKeys } from './capture.ts';

/** A pause this long without keys ends a run. */
export const RUN_PAUSE_MS = 2_000;

/** The window that has the keyboard focus, as far as the capture can tell. */
export interface FocusedWindow {
  /** Platform window id; two windows with the same title are still two windows. */
  id: number;
  title: string;
  app: string;
  pid?: number;
}

/**
 * Titles and application names of password prompts: sudo in a terminal that shows it in its title
 * (`[sudo] password for alice`), pinentry (gpg), ssh-askpass, polkit agents, GNOME's keyring prompter and
 * the "Authentication required" dialogs; a few translations of "password" too.
 */
export const PASSWORD_PROMPT =
  /pass(?:word|phrase)|passwort|mot de passe|contrase(?:ñ|n)a|senha|wachtwoord|pinentry|askpass|polkit|authenticat|gcr-prompter|keyring/i;

export function isPasswordPrompt(window: Pick<FocusedWindow, 'title' | 'app'> | null): boolean {
  return window !== null && (PASSWORD_PROMPT.test(window.title) || PASSWORD_PROMPT.test(window.app));
}

const sameWindow = (a: FocusedWindow | null, b: FocusedWindow | null) =>
  a === b || (a !== null && b !== null && a.id === b.id && a.title === b.title && a.app === b.app);

interface OpenRun {
  atMs: number;
  endMs: number;
  text: string;
  window: FocusedWindow | null;
}

export interface KeystrokeRunsOptions {
  /** Receives each finished run; times are those given to `key`. */
  emit: (run: CapturedKeys) => void;
  pauseMs?: number;
}

export class KeystrokeRuns {
  readonly #emit: (run: CapturedKeys) => void;
  readonly #pauseMs: number;
  #run: OpenRun | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(options: KeystrokeRunsOptions) {
    this.#emit = options.emit;
    this.#pauseMs = options.pauseMs ?? RUN_PAUSE_MS;
  }

  /** One key press at `at` (epoch ms) that typed `token`, into `window`. */
  key(token: string, at: number, window: FocusedWindow | null): void {
    const run = this.#run;
    if (run && (!sameWindow(run.window, window) || at - run.endMs >= this.#pauseMs)) this.flush();
    if (this.#run && this.#run.text.length + token.length > MAX_EVENT_TEXT) this.flush();
    if (this.#run) {
      this.#run.text += token;
      this.#run.endMs = Math.max(this.#run.endMs, at);
    } else {
      this.#run = { atMs: at, endMs: at, text: token, window };
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.flush(), this.#pauseMs);
    this.#timer.unref?.();
  }

  /** The focus moved (or the focused window's title changed): the open run ends. */
  focusChanged(window: FocusedWindow | null): void {
    if (this.#run && !sameWindow(this.#run.window, window)) this.flush();
  }

  /** Emits the open run, if any. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const run = this.#run;
    this.#run = null;
    if (!run) return;
    const redacted = isPasswordPrompt(run.window);
    this.#emit({
      type: 'keys',
      atMs: run.atMs,
      endMs: run.endMs,
      text: redacted ? REDACTED : run.text,
      ...(run.window ? { window: { title: run.window.title, app: run.window.app } } : {}),
      ...(redacted ? { redacted: true } : {}),
    });
  }
}
