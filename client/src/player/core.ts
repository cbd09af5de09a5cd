/**
 * The player core: one event set (play/pause, time, seeking, ended, speed…) over a media element, fed by a
 * driver (recorded: a seekable file; live: a WebSocket into MediaSource). The media element is a `<video>`
 * for desktop sessions and a terminal screen (client/src/terminal/screen.ts) for SSH sessions. Views only
 * subscribe and call the core's commands; they never touch the media element's state themselves.
 */
import type { IdleStretch } from './idle.ts';
import type { EndReason } from '../../../protocol/session.ts';
import type { Viewer } from '../../../protocol/viewer.ts';

export const SPEEDS = [0.5, 1, 2, 4, 8, 16] as const;

/** What the live page shows besides the picture. */
export interface LiveStatus {
  connection: 'connecting' | 'live' | 'reconnecting' | 'ended';
  /** Reconnect attempts since the last good connection. */
  attempt: number;
  /** When the next reconnect is due (epoch ms), while reconnecting. */
  retryAt: number | null;
  /** The close code of the drop (1006 died, 1012 the server is restarting), while reconnecting. */
  dropCode: number | null;
  /** When the connection came back after a drop (epoch ms); null before any drop. */
  reconnectedAt: number | null;
  viewers: Viewer[];
  endReason: EndReason | null;
  /** When the server stored the newest piece (epoch ms): the delay is measured from it. */
  newestStoredAt: number | null;
  /** Session-clock end of the newest piece received: the live edge. */
  edgeMs: number | null;
  /** Pieces lost on the way and skipped, in total. */
  skippedPieces: number;
  error: string | null;
}

/** What the view renders; a fresh object after every change. */
export interface PlayerState {
  playing: boolean;
  /** Position on the session clock, ms. */
  currentMs: number;
  /** Media length, ms; null while unknown (live, or metadata not loaded yet). */
  durationMs: number | null;
  speed: number;
  seeking: boolean;
  /** Waiting for media (buffering, or live waiting for the next piece). */
  waiting: boolean;
  ended: boolean;
  skipInactivity: boolean;
  error: string | null;
}

/** The event set drivers and the core emit and views subscribe to. */
export interface PlayerEvents {
  play: undefined;
  pause: undefined;
  time: { currentMs: number };
  seeking: { toMs: number };
  seeked: { atMs: number };
  ended: undefined;
  speed: { speed: number };
  duration: { durationMs: number | null };
  waiting: { waiting: boolean };
  /** Skip inactivity jumped over a quiet stretch. */
  skipped: { fromMs: number; toMs: number };
  error: { message: string };
  /** The live driver's connection, viewers and delay. */
  live: LiveStatus;
  /** Any of the above changed the state. */
  state: PlayerState;
}
type Listener<K extends keyof PlayerEvents> = (detail: PlayerEvents[K]) => void;

/**
 * What the core needs of its media element: the part of HTMLMediaElement it reads and commands, with the
 * media events (play, pause, timeupdate, seeking, seeked, ended, ratechange, durationchange, waiting, playing,
 * canplay, error) dispatched as a `<video>` does.
 */
export interface PlayerMedia {
  readonly paused: boolean;
  /** Seconds. */
  currentTime: number;
  playbackRate: number;
  defaultPlaybackRate: number;
  /** Seconds; NaN while unknown, Infinity while live. */
  readonly duration: number;
  readonly error: { readonly code: number; readonly message: string } | null;
  play(): Promise<void>;
  pause(): void;
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

/** What a driver may do with the core it is attached to. */
export interface DriverContext<M extends PlayerMedia = HTMLVideoElement> {
  video: M;
  emit<K extends keyof PlayerEvents>(type: K, detail: PlayerEvents[K]): void;
}

/** A source of media for the core's media element. */
export interface Driver<M extends PlayerMedia = HTMLVideoElement> {
  /** Starts feeding `context.video`. */
  attach(context: DriverContext<M>): void;
  /** Called instead of setting `currentTime` directly, so a driver can fetch what a seek needs first. */
  seek?(ms: number): void;
  /** Before play(): a live driver moves to the live edge. */
  beforePlay?(): void;
  detach(): void;
}

/** How often `time` fires while playing (the video's own timeupdate comes only every ~250 ms). */
const TIME_TICK_MS = 100;

export class PlayerCore<M extends PlayerMedia = PlayerMedia> {
  readonly #video: M;
  readonly #driver: Driver<M>;
  readonly #listeners = new Map<keyof PlayerEvents, Set<Listener<keyof PlayerEvents>>>();
  readonly #teardown: Array<() => void> = [];
  #state: PlayerState;
  #idle: readonly IdleStretch[] = [];
  #frame = 0;
  #lastTick = 0;

  constructor(video: M, driver: Driver<M>) {
    this.#video = video;
    this.#driver = driver;
    this.#state = {
      playing: false,
      currentMs: 0,
      durationMs: null,
      speed: 1,
      seeking: false,
      waiting: false,
      ended: false,
      skipInactivity: false,
      error: null,
    };
    this.#bindVideo();
    driver.attach({ video, emit: (type, detail) => this.#emit(type, detail) });
  }

  get state(): PlayerState {
    return this.#state;
  }

  /** Subscribes to one event; returns the unsubscribe. */
  on<K extends keyof PlayerEvents>(type: K, listener: Listener<K>): () => void {
    let set = this.#listeners.get(type);
    if (!set) {
      set = new Set();
      this.#listeners.set(type, set);
    }
    set.add(listener as Listener<keyof PlayerEvents>);
    return () => set.delete(listener as Listener<keyof PlayerEvents>);
  }

  play(): void {
    this.#driver.beforePlay?.();
    if (this.#state.ended) this.seek(0);
    this.#video.play().catch((error: Error) => {
      // A pause() or a new source interrupting play() is not an error worth showing.
      if (error.name !== 'AbortError') this.#emit('error', { message: `Playback failed: ${error.message}` });
    });
  }

  pause(): void {
    this.#video.pause();
  }

  togglePlay(): void {
    if (this.#video.paused) this.play();
    else this.pause();
  }

  /** Moves to `ms` on the session clock, clamped to the media. */
  seek(ms: number): void {
    const duration = this.#state.durationMs;
    const target = Math.max(0, duration === null ? ms : Math.min(ms, duration));
    this.#emit('seeking', { toMs: target });
    if (this.#driver.seek) this.#driver.seek(target);
    else this.#video.currentTime = target / 1000;
  }

  skipBy(deltaMs: number): void {
    this.seek(this.#video.currentTime * 1000 + deltaMs);
  }

  setSpeed(speed: number): void {
    this.#video.playbackRate = speed;
    this.#video.defaultPlaybackRate = speed;
  }

  /** One step faster or slower along SPEEDS. */
  stepSpeed(direction: 1 | -1): void {
    // The element's rate, not the state: `ratechange` comes later, and two quick presses must be two steps.
    const index = SPEEDS.findIndex((s) => s >= this.#video.playbackRate);
    const next = SPEEDS[Math.max(0, Math.min(SPEEDS.length - 1, (index < 0 ? SPEEDS.length - 1 : index) + direction))];
    if (next !== undefined) this.setSpeed(next);
  }

  /** Quiet stretches to jump over while skip inactivity is on. */
  setIdleStretches(stretches: readonly IdleStretch[]): void {
    this.#idle = stretches;
  }

  setSkipInactivity(on: boolean): void {
    this.#update({ skipInactivity: on });
    if (on) this.#skipIfIdle();
  }

  destroy(): void {
    cancelAnimationFrame(this.#frame);
    for (const undo of this.#teardown) undo();
    this.#driver.detach();
    this.#listeners.clear();
  }

  #emit<K extends keyof PlayerEvents>(type: K, detail: PlayerEvents[K]): void {
    switch (type) {
      case 'error':
        this.#update({ error: (detail as PlayerEvents['error']).message });
        break;
      case 'duration':
        this.#update({ durationMs: (detail as PlayerEvents['duration']).durationMs });
        break;
      case 'seeking':
        this.#update({ seeking: true, ended: false, currentMs: (detail as PlayerEvents['seeking']).toMs });
        break;
    }
    for (const listener of this.#listeners.get(type) ?? []) listener(detail);
  }

  #update(change: Partial<PlayerState>): void {
    this.#state = { ...this.#state, ...change };
    this.#emit('state', this.#state);
  }

  #now(): number {
    return Math.round(this.#video.currentTime * 1000);
  }

  #bindVideo(): void {
    const video = this.#video;
    const on = (type: string, handler: () => void) => {
      video.addEventListener(type, handler);
      this.#teardown.push(() => video.removeEventListener(type, handler));
    };
    on('play', () => {
      this.#update({ playing: true, ended: false });
      this.#emit('play', undefined);
      this.#tick();
    });
    on('pause', () => {
      cancelAnimationFrame(this.#frame);
      this.#update({ playing: false, currentMs: this.#now() });
      this.#emit('pause', undefined);
    });
    on('timeupdate', () => this.#time());
    on('seeking', () => {
      if (!this.#state.seeking) this.#emit('seeking', { toMs: this.#now() });
    });
    on('seeked', () => {
      this.#update({ seeking: false, currentMs: this.#now() });
      this.#emit('seeked', { atMs: this.#now() });
    });
    on('ended', () => {
      this.#update({ playing: false, ended: true, currentMs: this.#now() });
      this.#emit('ended', undefined);
    });
    on('ratechange', () => {
      this.#update({ speed: video.playbackRate });
      this.#emit('speed', { speed: video.playbackRate });
    });
    on('durationchange', () => {
      const d = video.duration;
      this.#emit('duration', { durationMs: Number.isFinite(d) ? Math.round(d * 1000) : null });
    });
    on('waiting', () => {
      this.#update({ waiting: true });
      this.#emit('waiting', { waiting: true });
    });
    on('playing', () => {
      this.#update({ waiting: false });
      this.#emit('waiting', { waiting: false });
    });
    on('canplay', () => {
      if (this.#state.waiting) {
        this.#update({ waiting: false });
        this.#emit('waiting', { waiting: false });
      }
    });
    on('error', () => {
      const error = video.error;
      if (error)
        this.#emit('error', { message: `The video cannot be played (${error.message || `code ${error.code}`}).` });
    });
  }

  /** While playing, `time` at TIME_TICK_MS rather than timeupdate's ~4 Hz; stops when paused. */
  #tick = (): void => {
    cancelAnimationFrame(this.#frame);
    if (this.#video.paused) return;
    const now = performance.now();
    if (now - this.#lastTick >= TIME_TICK_MS) {
      this.#lastTick = now;
      this.#time();
    }
    this.#frame = requestAnimationFrame(this.#tick);
  };

  #time(): void {
    const currentMs = this.#now();
    if (currentMs === this.#state.currentMs) return;
    this.#update({ currentMs });
    this.#emit('time', { currentMs });
    this.#skipIfIdle();
  }

  #skipIfIdle(): void {
    if (!this.#state.skipInactivity || this.#video.paused || this.#state.seeking) return;
    const at = this.#now();
    const stretch = this.#idle.find((s) => s.fromMs <= at && at < s.toMs - MIN_SKIP_MS);
    if (!stretch) return;
    this.#emit('skipped', { fromMs: at, toMs: stretch.toMs });
    this.seek(stretch.toMs);
  }
}

/** Jumps shorter than this are not worth a seek. */
const MIN_SKIP_MS = 1000;
