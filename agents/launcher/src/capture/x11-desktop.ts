/**
 * X11 focus and keystroke capture over one X connection, with no window manager required: the focused
 * window comes from GetInputFocus (or the top-level window under the pointer when the focus follows it),
 * its title, class and pid from its properties; keys come from XInput 2 raw events on the root window, which
 * the server sends whichever window has the focus.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from '../log.ts';
import type { CaptureStart } from './capture.ts';
import { KeyboardState } from './keysyms.ts';
import { type FocusedWindow, KeystrokeRuns } from './keystroke-runs.ts';
import {
  Atom,
  FOCUS_NONE,
  FOCUS_POINTER_ROOT,
  MAPPING_NOTIFY,
  parseRawEvent,
  X11Connection,
  XI,
} from './x11-connection.ts';

/** How often the focused window (and its title) is checked between keys. */
export const FOCUS_POLL_MS = 250;
const SHORT = 4096;
/** Core protocol modifier mask bit of Lock (Caps Lock). */
const LOCK_MASK = 2;

interface Atoms {
  netWmName: number;
  netWmPid: number;
  utf8String: number;
  wmState: number;
}

type KeyPress = { kind: 'press'; keycode: number; at: number };
type Queued = KeyPress | { kind: 'release'; keycode: number } | { kind: 'mapping' };

/** Focus and keys of one X display. */
export class X11Desktop {
  readonly #x: X11Connection;
  readonly #xi: number;
  readonly #atoms: Atoms;
  readonly #log: Logger;
  readonly #clients = new Map<number, number>();
  readonly #static = new Map<number, { app: string; pid: number | undefined }>();
  #options: CaptureStart | null = null;
  #keyboard: KeyboardState | null = null;
  #runs: KeystrokeRuns | null = null;
  #focus: FocusedWindow | null = null;
  #timer: NodeJS.Timeout | null = null;
  #queue: Queued[] = [];
  #draining: Promise<void> | null = null;
  #refreshing: Promise<void> | null = null;
  #stopped = false;

  private constructor(x: X11Connection, xiOpcode: number, atoms: Atoms, log: Logger) {
    this.#x = x;
    this.#xi = xiOpcode;
    this.#atoms = atoms;
    this.#log = log;
  }

  /** Connects and checks for XInput 2.2; throws with a readable reason when the display cannot be used. */
  static async open(display: string, log: Logger): Promise<X11Desktop> {
    const x = await X11Connection.open(display);
    try {
      const xi = await x.queryExtension('XInputExtension');
      if (!xi) throw new Error(`X display ${display} has no XInput extension`);
      const version = await x.xiQueryVersion(xi.majorOpcode, 2, 2);
      if (version.major < 2 || (version.major === 2 && version.minor < 2)) {
        throw new Error(`X display ${display} has XInput ${version.major}.${version.minor}; 2.2 is needed`);
      }
      const [netWmName, netWmPid, utf8String, wmState] = await Promise.all(
        ['_NET_WM_NAME', '_NET_WM_PID', 'UTF8_STRING', 'WM_STATE'].map((name) => x.internAtom(name)),
      );
      return new X11Desktop(
        x,
        xi.majorOpcode,
        { netWmName: netWmName ?? 0, netWmPid: netWmPid ?? 0, utf8String: utf8String ?? 0, wmState: wmState ?? 0 },
        log,
      );
    } catch (error) {
      x.close();
      throw error;
    }
  }

  async start(options: CaptureStart): Promise<void> {
    this.#options = options;
    const x = this.#x;
    x.onClose = () => {
      if (!this.#stopped) this.#log.warn('the X display closed the activity capture connection');
      this.#stopTimers();
    };
    if (options.events && options.keystrokes) {
      const [mapping, pointer] = await Promise.all([x.getKeyboardMapping(), x.queryPointer(x.root)]);
      const numLock = await this.#numLockMask();
      this.#keyboard = new KeyboardState(mapping, {
        capsLock: (pointer.mask & LOCK_MASK) !== 0,
        numLock: numLock !== 0 && (pointer.mask & numLock) !== 0,
      });
      this.#runs = new KeystrokeRuns({ emit: (run) => options.sink.event(run) });
    }
    x.onEvent = (event) => this.#onEvent(event);
    // Keys (pressed and released, to follow modifiers), clicks and motion (for activity only).
    x.xiSelectEvents(this.#xi, x.root, XI.AllMasterDevices, [
      XI.RawKeyPress,
      XI.RawKeyRelease,
      XI.RawButtonPress,
      XI.RawMotion,
    ]);
    if (options.events) {
      await this.#refreshFocus(Date.now());
      this.#timer = setInterval(() => void this.#refreshFocus(Date.now()).catch(() => {}), FOCUS_POLL_MS);
      this.#timer.unref();
    }
  }

  /** Emits the open keystroke run and closes the connection. */
  async stop(): Promise<void> {
    this.#stopTimers();
    await this.#draining?.catch(() => {});
    this.#runs?.flush();
    this.#stopped = true;
    this.#x.close();
  }

  #stopTimers(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  #onEvent(event: Buffer): void {
    const options = this.#options;
    if (!options || this.#stopped) return;
    const raw = parseRawEvent(event, this.#xi);
    if (raw) {
      if (raw.type === XI.RawKeyPress || raw.type === XI.RawButtonPress || raw.type === XI.RawMotion) {
        options.sink.input();
      }
      if (!this.#keyboard) return;
      if (raw.type === XI.RawKeyPress || raw.type === XI.RawKeyRelease) {
        if (raw.type === XI.RawKeyPress) this.#enqueue({ kind: 'press', keycode: raw.detail, at: Date.now() });
        else this.#enqueue({ kind: 'release', keycode: raw.detail });
      }
      return;
    }
    // A changed keyboard mapping (a layout switch, or xdotool typing a character the layout lacks).
    if ((event.readUInt8(0) & 0x7f) === MAPPING_NOTIFY && this.#keyboard && event.readUInt8(4) !== 2) {
      this.#enqueue({ kind: 'mapping' });
    }
  }

  /**
   * Keys are handled strictly in order, each with the focus as it is when it is handled (the focus is
   * read again first), and after any mapping change that came before them.
   */
  #enqueue(item: Queued): void {
    this.#queue.push(item);
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = null;
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#x.closed) {
      const items = this.#queue;
      this.#queue = [];
      const firstPress = items.find((item): item is KeyPress => item.kind === 'press');
      if (firstPress) {
        // A poll already under way may have read the focus before it moved: read it once more.
        await this.#refreshing?.catch(() => {});
        await this.#refreshFocus(firstPress.at).catch(() => {});
      }
      for (const item of items) {
        const keyboard = this.#keyboard;
        if (!keyboard) return;
        if (item.kind === 'mapping') {
          try {
            keyboard.setMapping(await this.#x.getKeyboardMapping());
          } catch {
            return;
          }
        } else if (item.kind === 'release') {
          keyboard.release(item.keycode);
        } else {
          const token = keyboard.press(item.keycode);
          if (token !== null) this.#runs?.key(token, item.at, this.#focus);
        }
      }
    }
  }

  /** Reads the focused window; a change (another window, or a new title) is a `window.focus` event. */
  #refreshFocus(at: number): Promise<void> {
    this.#refreshing ??= this.#readFocus()
      .then((focus) => {
        const before = this.#focus;
        const changed = focus?.id !== before?.id || focus?.title !== before?.title || focus?.app !== before?.app;
        if (!changed) return;
        this.#focus = focus;
        this.#runs?.focusChanged(focus);
        if (focus && this.#options?.events) {
          this.#options.sink.event({
            type: 'window.focus',
            atMs: at,
            title: focus.title,
            app: focus.app,
            ...(focus.pid !== undefined ? { pid: focus.pid } : {}),
          });
        }
      })
      .finally(() => {
        this.#refreshing = null;
      });
    return this.#refreshing;
  }

  async #readFocus(): Promise<FocusedWindow | null> {
    const x = this.#x;
    let window = await x.getInputFocus();
    if (window === FOCUS_NONE || window === FOCUS_POINTER_ROOT || window === x.root) {
      // Focus follows the pointer (a bare X server's default): keys go to the window under it.
      window = (await x.queryPointer(x.root)).child;
      if (window === 0) return null;
    }
    try {
      const client = await this.#clientWindow(window);
      const [title, known] = await Promise.all([this.#title(client), this.#appAndPid(client)]);
      return { id: client, title, ...known };
    } catch {
      return null; // the window went away while we looked at it
    }
  }

  /**
   * The application's own window for a focused window: the focused one may be a child (a toolkit's
   * focus proxy) or, under a window manager, the frame around it. The client window is the one with
   * WM_CLASS (walking up), or with WM_STATE below a frame.
   */
  async #clientWindow(window: number): Promise<number> {
    const cached = this.#clients.get(window);
    if (cached !== undefined) return cached;
    const x = this.#x;
    let current = window;
    let client: number | null = null;
    for (let depth = 0; depth < 32; depth++) {
      if (await x.getProperty(current, Atom.WM_CLASS, 4)) {
        client = current;
        break;
      }
      const { parent } = await x.queryTree(current);
      if (parent === x.root || parent === 0) break;
      current = parent;
    }
    client ??= (await this.#findBelow(current, 3)) ?? current;
    if (this.#clients.size > 1000) this.#clients.clear();
    this.#clients.set(window, client);
    return client;
  }

  async #findBelow(window: number, depth: number): Promise<number | null> {
    if (depth === 0) return null;
    const { children } = await this.#x.queryTree(window);
    for (const child of children) {
      if (await this.#x.getProperty(child, this.#atoms.wmState, 4)) return child;
    }
    for (const child of children) {
      const found = await this.#findBelow(child, depth - 1);
      if (found) return found;
    }
    return null;
  }

  async #title(window: number): Promise<string> {
    const x = this.#x;
    const net = await x.getProperty(window, this.#atoms.netWmName, SHORT * 4);
    if (net && net.value.length > 0) return net.value.toString('utf8').slice(0, SHORT);
    const plain = await x.getProperty(window, Atom.WM_NAME, SHORT * 4);
    if (!plain) return '';
    const encoding = plain.type === this.#atoms.utf8String ? 'utf8' : 'latin1';
    return plain.value.toString(encoding).slice(0, SHORT);
  }

  /** WM_CLASS's class ("XTerm", "firefox"), else the instance, else the process name; and _NET_WM_PID. */
  async #appAndPid(window: number): Promise<{ app: string; pid?: number }> {
    const cached = this.#static.get(window);
    if (cached) return cached.pid === undefined ? { app: cached.app } : cached;
    const x = this.#x;
    const [wmClass, wmPid] = await Promise.all([
      x.getProperty(window, Atom.WM_CLASS, 1024),
      x.getProperty(window, this.#atoms.netWmPid, 4),
    ]);
    const [instance = '', className = ''] = wmClass ? wmClass.value.toString('latin1').split('\0') : [];
    const pid = wmPid && wmPid.format === 32 && wmPid.value.length >= 4 ? wmPid.value.readUInt32LE(0) : undefined;
    const app = (className || instance || (pid !== undefined ? processName(pid) : '')).slice(0, SHORT);
    if (this.#static.size > 1000) this.#static.clear();
    this.#static.set(window, { app, pid });
    return pid === undefined ? { app } : { app, pid };
  }

  /** The modifier mask bit of Num Lock (0 when no modifier carries it). */
  async #numLockMask(): Promise<number> {
    const [modifiers, mapping] = await Promise.all([this.#x.getModifierMapping(), this.#x.getKeyboardMapping()]);
    const keyboard = new KeyboardState(mapping);
    for (let m = 0; m < modifiers.length; m++) {
      if (modifiers[m]?.some((code) => keyboard.keysyms(code).includes(0xff7f))) return 1 << m;
    }
    return 0;
  }
}

function processName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
