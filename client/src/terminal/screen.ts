/**
 * A terminal as the player core's media element: xterm.js shows a cast's output up to a playhead that a clock
 * moves, with the events and properties of a `<video>` (PlayerMedia), so the core, its controls, the activity
 * map and grid work unchanged. Drivers load a sealed cast or append live pieces.
 *
 * Seeking forward writes the events in between; seeking back resets the terminal and replays the cast up to
 * the target in large writes (xterm parses several MB/s, so even long sessions replay within a second or two).
 *
 * The terminal keeps the recorded columns and rows; its font is sized to the pane (terminal/fit.ts). Before
 * Play, a sealed cast shows its first output (as asciinema-player's poster does), with the playhead still at 0.
 */
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import type { PlayerMedia } from '../player/core.ts';
import { type CastEvent, type CastHeader, eventMs, plainLines, resizeTo } from './cast.ts';
import { openWithoutInlineStyles } from './csp-styles.ts';
import { BASE_FONT_PX, type Box, fitFontPx, fits, MIN_FONT, smallerFontPx, type TerminalScale } from './fit.ts';

/** How often the playhead moves while playing. */
const TICK_MS = 50;
/** Text handed to xterm per write; big enough to replay fast, small enough to keep the page responsive. */
const WRITE_CHARS = 512 * 1024;
/** Text xterm may hold unparsed before more waits here (xterm throws its input away past 50 MB). */
const MAX_OUTSTANDING_CHARS = 4 * 1024 * 1024;
/** Full reset (RIS): clears the screen, scrollback and modes, in order with the writes before it. */
const RESET = '\x1bc';
/** Outside fullscreen, a fitted terminal is at most this share of the window's height. */
const FIT_HEIGHT_SHARE = 0.62;
/** Font steps tried after the first estimate, should hinting make the cells a little wider. */
const FIT_TRIES = 8;

type WriteOp = string | (() => void);

export class TerminalScreen extends EventTarget implements PlayerMedia {
  readonly terminal: Terminal;
  #header: CastHeader | null = null;
  /** In time order. */
  #events: CastEvent[] = [];
  /** Events [0, #queued) have been handed on for writing. */
  #queued = 0;
  /** An event arrived out of order before the written ones: the next render replays from the start. */
  #stale = false;
  /** Session-clock ms up to which events are known (the newest live piece's end, or the duration). */
  #edgeMs = 0;
  #durationMs = Number.NaN;
  /** The playhead: `#atMs` when the clock last started or was set, at `#since` (performance.now()). */
  #atMs = 0;
  #since = 0;
  #paused = true;
  #rate = 1;
  #defaultRate = 1;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** A seek being written; a seek asked for meanwhile waits in #nextSeek (only the newest one counts). */
  #seekInFlight = false;
  #nextSeek: number | null = null;
  #ops: WriteOp[] = [];
  #outstanding = 0;
  readonly error = null;
  readonly #host: HTMLElement;
  readonly #observer: ResizeObserver;
  #scale: TerminalScale = 'fit';
  /** What the font was last fitted to (scale, box, cols×rows): a resize that changes none of it is ignored. */
  #fittedTo = '';

  constructor(host: HTMLElement) {
    super();
    this.#host = host;
    this.terminal = new Terminal({
      cols: 80,
      rows: 24,
      disableStdin: true,
      cursorBlink: false,
      scrollback: 5000,
      fontSize: BASE_FONT_PX,
      // At 1.0 the font's underscores fall below the row and are cut off.
      lineHeight: 1.2,
      fontFamily: '"DejaVu Sans Mono", ui-monospace, Menlo, Consolas, monospace',
      // Recorded hyperlinks (OSC 8) are evidence, not links to follow from the console.
      linkHandler: { activate: () => {} },
    });
    openWithoutInlineStyles(this.terminal, host);
    // The terminal takes no input: its hidden input field keeps no focus, so the page's keys drive the player.
    const input = this.terminal.textarea;
    if (input) {
      input.tabIndex = -1;
      input.addEventListener('focus', () => input.blur());
    }
    host.dataset.scale = this.#scale;
    this.terminal.onResize(() => this.#fit());
    this.#observer = new ResizeObserver(() => this.#fit());
    this.#observer.observe(host);
  }

  // ---- size on the page ----

  get scale(): TerminalScale {
    return this.#scale;
  }

  /** "fit": the font sized so that every recorded column and row fits the pane; "1:1": the base font, scrolled. */
  setScale(scale: TerminalScale): void {
    this.#scale = scale;
    this.#host.dataset.scale = scale;
    this.#fit();
  }

  /** The space the terminal may take: the pane's width, and a share of the window's height (all of it in fullscreen). */
  #box(): Box {
    const style = getComputedStyle(this.#host);
    const padX = Number.parseFloat(style.paddingLeft) + Number.parseFloat(style.paddingRight);
    const padY = Number.parseFloat(style.paddingTop) + Number.parseFloat(style.paddingBottom);
    const full = document.fullscreenElement?.contains(this.#host) ?? false;
    return {
      width: Math.floor(this.#host.clientWidth - padX),
      height: Math.floor(full ? this.#host.clientHeight - padY : innerHeight * FIT_HEIGHT_SHARE),
    };
  }

  /** The terminal's rendered size (all its columns and rows), CSS pixels. */
  #measured(): Box {
    const screen = this.terminal.element?.querySelector('.xterm-screen');
    const rect = screen?.getBoundingClientRect();
    return { width: rect?.width ?? 0, height: rect?.height ?? 0 };
  }

  #fit(): void {
    const box = this.#box();
    const key = `${this.#scale} ${box.width}x${box.height} ${this.terminal.cols}x${this.terminal.rows}`;
    if (key === this.#fittedTo || box.width <= 0) return;
    this.#fittedTo = key;
    if (this.#scale === '1:1') {
      this.terminal.options.fontSize = BASE_FONT_PX;
      return;
    }
    let font = fitFontPx(this.terminal.options.fontSize ?? BASE_FONT_PX, this.#measured(), box);
    for (let i = 0; i < FIT_TRIES; i++) {
      this.terminal.options.fontSize = font;
      if (font <= MIN_FONT || fits(this.#measured(), box)) break;
      font = smallerFontPx(font);
    }
  }

  // ---- PlayerMedia ----

  get paused(): boolean {
    return this.#paused;
  }

  get currentTime(): number {
    return this.#now() / 1000;
  }

  set currentTime(seconds: number) {
    this.#seek(seconds * 1000);
  }

  get duration(): number {
    return this.#durationMs / 1000;
  }

  get playbackRate(): number {
    return this.#rate;
  }

  set playbackRate(rate: number) {
    this.#atMs = this.#now();
    this.#since = performance.now();
    this.#rate = rate;
    this.#dispatch('ratechange');
  }

  get defaultPlaybackRate(): number {
    return this.#defaultRate;
  }

  set defaultPlaybackRate(rate: number) {
    this.#defaultRate = rate;
  }

  play(): Promise<void> {
    if (!this.#paused) return Promise.resolve();
    this.#paused = false;
    this.#since = performance.now();
    this.#dispatch('play');
    this.#dispatch('playing');
    this.#tick();
    return Promise.resolve();
  }

  pause(): void {
    if (this.#paused) return;
    this.#atMs = this.#now();
    this.#paused = true;
    clearTimeout(this.#timer);
    this.#dispatch('pause');
  }

  // ---- for drivers ----

  /** A sealed cast: the whole log, played from its start. */
  load(header: CastHeader, events: readonly CastEvent[], durationMs: number): void {
    this.#header = header;
    this.#events = [...events];
    this.#queued = 0;
    this.#stale = true;
    this.#edgeMs = durationMs;
    this.#durationMs = durationMs;
    this.#dispatch('durationchange');
    this.#seek(0);
    this.#poster();
    this.#dispatch('canplay');
  }

  /**
   * Before Play: the screen as the first visible output left it, while the playhead stays at 0 (Play, or a
   * seek before that output, replays from the start as usual).
   */
  #poster(): void {
    const first = this.#events.find(([, code, data]) => code === 'o' && plainLines(data).length > 0);
    if (first) this.#render(eventMs(first));
  }

  /** A live session's header (seq 0): the terminal's size. A reconnect sends it again; the first one counts. */
  setHeader(header: CastHeader): void {
    if (this.#header) return;
    this.#header = header;
    this.#durationMs = Number.POSITIVE_INFINITY;
    this.#enqueue(() => this.terminal.resize(header.width, header.height));
    this.#dispatch('durationchange');
  }

  /** A live piece's events, and the session-clock end of that piece. */
  append(events: readonly CastEvent[], endMs: number): void {
    for (const event of events) {
      let at = this.#events.length;
      while (at > 0 && (this.#events[at - 1] as CastEvent)[0] > event[0]) at--;
      if (at < this.#queued) this.#stale = true;
      this.#events.splice(at, 0, event);
    }
    this.#edgeMs = Math.max(this.#edgeMs, endMs, ...events.map(eventMs));
    if (!this.#paused) this.#tick();
  }

  /** The newest known time (the live edge), ms. */
  get edgeMs(): number {
    return this.#edgeMs;
  }

  /** A live session ended: what arrived is all there is. */
  endLive(): void {
    this.#durationMs = this.#edgeMs;
    this.#dispatch('durationchange');
    if (!this.#paused) this.#tick();
  }

  /** The visible rows as text (what tests and screen readers read). */
  visibleText(): string {
    const buffer = this.terminal.buffer.active;
    const lines: string[] = [];
    for (let y = 0; y < this.terminal.rows; y++)
      lines.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '');
    return lines.join('\n');
  }

  dispose(): void {
    this.#observer.disconnect();
    clearTimeout(this.#timer);
    this.#ops = [];
    this.terminal.dispose();
  }

  // ---- the clock ----

  #limitMs(): number {
    return Number.isFinite(this.#durationMs) ? Math.min(this.#edgeMs, this.#durationMs) : this.#edgeMs;
  }

  #now(): number {
    if (this.#paused) return this.#atMs;
    return Math.min(this.#limitMs(), this.#atMs + (performance.now() - this.#since) * this.#rate);
  }

  #tick = (): void => {
    clearTimeout(this.#timer);
    if (this.#paused) return;
    const now = this.#now();
    // At the live edge the clock waits for the next piece instead of running ahead of it.
    this.#atMs = now;
    this.#since = performance.now();
    if (!this.#seekInFlight) this.#render(now);
    this.#dispatch('timeupdate');
    if (Number.isFinite(this.#durationMs) && now >= this.#durationMs) {
      this.#paused = true;
      this.#dispatch('pause');
      this.#dispatch('ended');
      return;
    }
    this.#timer = setTimeout(this.#tick, TICK_MS);
  };

  #seek(ms: number): void {
    const target = Math.max(0, Math.min(ms, this.#limitMs()));
    this.#atMs = target;
    this.#since = performance.now();
    this.#dispatch('seeking');
    if (this.#seekInFlight) {
      this.#nextSeek = target;
      return;
    }
    this.#seekInFlight = true;
    this.#render(target);
    this.#enqueue(() => {
      this.#seekInFlight = false;
      const next = this.#nextSeek;
      this.#nextSeek = null;
      if (next !== null) return this.#seek(next);
      this.#dispatch('seeked');
      this.#dispatch('timeupdate');
    });
  }

  /** Hands on the events up to `ms`: the ones since the last render, or all of them after a reset. */
  #render(ms: number): void {
    const last = this.#events[this.#queued - 1];
    if (this.#stale || (last && eventMs(last) > ms)) {
      // Going back: whatever still waits here is superseded by the replay.
      this.#ops = [];
      this.#stale = false;
      const header = this.#header;
      this.#enqueue(RESET);
      if (header) this.#enqueue(() => this.terminal.resize(header.width, header.height));
      this.#queued = 0;
    }
    let end = this.#queued;
    while (end < this.#events.length && eventMs(this.#events[end] as CastEvent) <= ms) end++;
    let text = '';
    for (let i = this.#queued; i < end; i++) {
      const [, code, data] = this.#events[i] as CastEvent;
      if (code === 'o') text += data;
      else if (code === 'r') {
        const size = resizeTo(data);
        if (!size) continue;
        this.#enqueue(text);
        text = '';
        this.#enqueue(() => this.terminal.resize(size.cols, size.rows));
      }
      // `i` (input) is shown by the output it echoes; `m` markers are not drawn.
    }
    this.#enqueue(text);
    this.#queued = end;
  }

  // ---- writing, in order, with xterm's input kept bounded ----

  #enqueue(op: WriteOp): void {
    if (op === '') return;
    if (typeof op === 'string' && op.length > WRITE_CHARS) {
      for (let at = 0; at < op.length; at += WRITE_CHARS) this.#ops.push(op.slice(at, at + WRITE_CHARS));
    } else this.#ops.push(op);
    this.#pump();
  }

  #pump(): void {
    while (this.#ops.length > 0 && this.#outstanding < MAX_OUTSTANDING_CHARS) {
      const op = this.#ops.shift() as WriteOp;
      // A function runs once xterm has parsed everything written before it.
      const text = typeof op === 'string' ? op : '';
      this.#outstanding += text.length;
      this.terminal.write(text, () => {
        this.#outstanding -= text.length;
        if (typeof op === 'function') op();
        this.#pump();
      });
    }
  }

  #dispatch(type: string): void {
    this.dispatchEvent(new Event(type));
  }
}
