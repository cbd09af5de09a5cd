/**
 * A minimal X11 protocol client over the display's socket: just the requests the activity capture needs
 * (focus, window properties, keyboard mapping, XInput 2 raw events). Written in place of spawning xdotool,
 * xprop, xinput and xmodmap: one connection for the whole session, nothing extra to install, and no
 * helper processes showing up in the session's process list.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { connect, type Socket } from 'node:net';

/** Predefined atoms (X11 protocol, appendix B). */
export const Atom = { STRING: 31, WM_NAME: 39, WM_CLASS: 67, CARDINAL: 6, WINDOW: 33 } as const;
/** GetInputFocus answers these instead of a window. */
export const FOCUS_NONE = 0;
export const FOCUS_POINTER_ROOT = 1;

/** XInput 2 event types (XI2.h). */
export const XI = {
  RawKeyPress: 13,
  RawKeyRelease: 14,
  RawButtonPress: 15,
  RawMotion: 17,
  AllMasterDevices: 1,
} as const;
const GENERIC_EVENT = 35;
export const MAPPING_NOTIFY = 34;

export interface DisplayAddress {
  /** Unix socket path, or TCP host and port. */
  path?: string;
  host?: string;
  port?: number;
  /** Display number as written in the display name (for .Xauthority lookups). */
  number: string;
}

/** `:0`, `:0.0`, `unix:1`, `host:10.0` → where to connect. Null for names we cannot read. */
export function parseDisplay(display: string): DisplayAddress | null {
  const match = /^(.*):(\d+)(?:\.\d+)?$/.exec(display);
  if (!match) return null;
  const [, host = '', number = '0'] = match;
  if (host === '' || host === 'unix') return { path: `/tmp/.X11-unix/X${number}`, number };
  return { host, port: 6000 + Number(number), number };
}

/**
 * The MIT-MAGIC-COOKIE-1 for a display from an .Xauthority file (big-endian records of family, address,
 * number, name, data), or null: then the server must allow the connection without one, as Xvfb does.
 */
export function findCookie(file: Buffer, number: string, host = hostname()): Buffer | null {
  let offset = 0;
  const field = () => {
    const length = file.readUInt16BE(offset);
    const value = file.subarray(offset + 2, offset + 2 + length);
    offset += 2 + length;
    return value;
  };
  try {
    while (offset < file.length) {
      const family = file.readUInt16BE(offset);
      offset += 2;
      const address = field().toString('latin1');
      const num = field().toString('latin1');
      const name = field().toString('latin1');
      const data = field();
      const local = family === 256 && address === host; // FamilyLocal
      const wild = family === 65535;
      if ((local || wild) && (num === number || num === '') && name === 'MIT-MAGIC-COOKIE-1') return data;
    }
  } catch {
    // A truncated file: use what matched so far (nothing).
  }
  return null;
}

export class X11Error extends Error {
  override name = 'X11Error';
}

interface Pending {
  resolve: (reply: Buffer) => void;
  reject: (error: Error) => void;
}

export interface KeyboardMapping {
  firstKeycode: number;
  keysymsPerKeycode: number;
  /** keysyms[(keycode - firstKeycode) * keysymsPerKeycode + level]; 0 = NoSymbol. */
  keysyms: Uint32Array;
}

/** An open connection to an X server. Requests return promises; events go to `onEvent`. */
export class X11Connection {
  readonly root: number;
  readonly minKeycode: number;
  readonly maxKeycode: number;
  /** Called with every event (32 bytes, or more for generic events). */
  onEvent: (event: Buffer) => void = () => {};
  /** Called once when the connection is gone. */
  onClose: () => void = () => {};
  readonly #socket: Socket;
  readonly #pending = new Map<number, Pending>();
  #sequence = 0;
  #buffer: Buffer = Buffer.alloc(0);
  #closed = false;

  private constructor(socket: Socket, setup: Buffer, rest: Buffer) {
    this.#socket = socket;
    const vendorLength = setup.readUInt16LE(24);
    const formats = setup.readUInt8(29);
    this.minKeycode = setup.readUInt8(34);
    this.maxKeycode = setup.readUInt8(35);
    const screens = 40 + pad4(vendorLength) + 8 * formats;
    this.root = setup.readUInt32LE(screens);
    socket.on('data', (data: Buffer) => this.#receive(data));
    socket.on('close', () => this.#gone(new X11Error('the X connection closed')));
    socket.on('error', (error) => this.#gone(error));
    if (rest.length > 0) this.#receive(rest);
  }

  /** Connects and completes the setup handshake. Rejects on refusal or after `timeoutMs`. */
  static open(display: string, options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<X11Connection> {
    const address = parseDisplay(display);
    if (!address) return Promise.reject(new X11Error(`cannot parse display name "${display}"`));
    const env = options.env ?? process.env;
    let cookie: Buffer | null = null;
    const authFile = env.XAUTHORITY || (env.HOME ? `${env.HOME}/.Xauthority` : '');
    if (authFile) {
      try {
        cookie = findCookie(readFileSync(authFile), address.number);
      } catch {
        // No authority file: connect without a cookie.
      }
    }
    return new Promise((resolve, reject) => {
      const socket = address.path
        ? connect({ path: address.path })
        : connect({ host: address.host as string, port: address.port as number });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new X11Error(`no answer from X display ${display}`));
      }, options.timeoutMs ?? 5_000);
      let received = Buffer.alloc(0);
      const fail = (error: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      socket.once('error', fail);
      socket.once('connect', () => socket.write(setupRequest(cookie)));
      const onData = (data: Buffer) => {
        received = Buffer.concat([received, data]);
        if (received.length < 8) return;
        const total = 8 + 4 * received.readUInt16LE(6);
        if (received.length < total) return;
        socket.off('data', onData);
        socket.off('error', fail);
        clearTimeout(timer);
        const status = received.readUInt8(0);
        if (status !== 1) {
          const reason = received.subarray(8, 8 + received.readUInt8(1)).toString('latin1');
          socket.destroy();
          reject(new X11Error(`X display ${display} refused the connection: ${reason || `status ${status}`}`));
          return;
        }
        resolve(new X11Connection(socket, received.subarray(0, total), received.subarray(total)));
      };
      socket.on('data', onData);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  get closed(): boolean {
    return this.#closed;
  }

  async internAtom(name: string, onlyIfExists = false): Promise<number> {
    const bytes = Buffer.from(name, 'latin1');
    const body = Buffer.alloc(4 + pad4(bytes.length));
    body.writeUInt16LE(bytes.length, 0);
    bytes.copy(body, 4);
    const reply = await this.#request(16, onlyIfExists ? 1 : 0, body);
    return reply.readUInt32LE(8);
  }

  /** A property's value (up to `maxBytes`), or null when the window has no such property. */
  async getProperty(
    window: number,
    property: number,
    maxBytes = 16_384,
  ): Promise<{ type: number; format: number; value: Buffer } | null> {
    const body = Buffer.alloc(20);
    body.writeUInt32LE(window, 0);
    body.writeUInt32LE(property, 4);
    body.writeUInt32LE(0, 8); // AnyPropertyType
    body.writeUInt32LE(0, 12);
    body.writeUInt32LE(Math.ceil(maxBytes / 4), 16);
    const reply = await this.#request(20, 0, body);
    const type = reply.readUInt32LE(8);
    if (type === 0) return null;
    const format = reply.readUInt8(1);
    const length = reply.readUInt32LE(16) * (format / 8);
    return { type, format, value: reply.subarray(32, 32 + length) };
  }

  async getInputFocus(): Promise<number> {
    const reply = await this.#request(43, 0, Buffer.alloc(0));
    return reply.readUInt32LE(8);
  }

  async queryTree(window: number): Promise<{ parent: number; children: number[] }> {
    const reply = await this.#request(15, 0, u32(window));
    const count = reply.readUInt16LE(16);
    const children: number[] = [];
    for (let i = 0; i < count; i++) children.push(reply.readUInt32LE(32 + 4 * i));
    return { parent: reply.readUInt32LE(12), children };
  }

  /** The child of `window` under the pointer (0 if none) and the modifier and button state. */
  async queryPointer(window: number): Promise<{ child: number; mask: number }> {
    const reply = await this.#request(38, 0, u32(window));
    return { child: reply.readUInt32LE(12), mask: reply.readUInt16LE(24) };
  }

  async getKeyboardMapping(): Promise<KeyboardMapping> {
    const body = Buffer.alloc(4);
    const count = this.maxKeycode - this.minKeycode + 1;
    body.writeUInt8(this.minKeycode, 0);
    body.writeUInt8(count, 1);
    const reply = await this.#request(101, 0, body);
    const perKeycode = reply.readUInt8(1);
    const keysyms = new Uint32Array(count * perKeycode);
    for (let i = 0; i < keysyms.length; i++) keysyms[i] = reply.readUInt32LE(32 + 4 * i);
    return { firstKeycode: this.minKeycode, keysymsPerKeycode: perKeycode, keysyms };
  }

  /** Keycodes of each of the eight modifiers (Shift, Lock, Control, Mod1..Mod5). */
  async getModifierMapping(): Promise<number[][]> {
    const reply = await this.#request(119, 0, Buffer.alloc(0));
    const perModifier = reply.readUInt8(1);
    const modifiers: number[][] = [];
    for (let m = 0; m < 8; m++) {
      const codes: number[] = [];
      for (let i = 0; i < perModifier; i++) {
        const code = reply.readUInt8(32 + m * perModifier + i);
        if (code !== 0) codes.push(code);
      }
      modifiers.push(codes);
    }
    return modifiers;
  }

  async queryExtension(name: string): Promise<{ majorOpcode: number } | null> {
    const bytes = Buffer.from(name, 'latin1');
    const body = Buffer.alloc(4 + pad4(bytes.length));
    body.writeUInt16LE(bytes.length, 0);
    bytes.copy(body, 4);
    const reply = await this.#request(98, 0, body);
    return reply.readUInt8(8) ? { majorOpcode: reply.readUInt8(9) } : null;
  }

  /** XIQueryVersion: announces the XInput version this client speaks; returns the server's. */
  async xiQueryVersion(opcode: number, major: number, minor: number): Promise<{ major: number; minor: number }> {
    const body = Buffer.alloc(4);
    body.writeUInt16LE(major, 0);
    body.writeUInt16LE(minor, 2);
    const reply = await this.#request(opcode, 47, body);
    return { major: reply.readUInt16LE(8), minor: reply.readUInt16LE(10) };
  }

  /** XISelectEvents for one device (or XI.AllMasterDevices) on `window`; `types` are XI event types. */
  xiSelectEvents(opcode: number, window: number, deviceId: number, types: number[]): void {
    let mask = 0;
    for (const type of types) mask |= 1 << type;
    const body = Buffer.alloc(16);
    body.writeUInt32LE(window, 0);
    body.writeUInt16LE(1, 4); // one mask
    body.writeUInt16LE(deviceId, 8);
    body.writeUInt16LE(1, 10); // mask length in 4-byte units
    body.writeUInt32LE(mask >>> 0, 12);
    this.#send(opcode, 46, body);
  }

  /** Waits until the server has processed everything sent so far (a cheap round trip). */
  async sync(): Promise<void> {
    await this.getInputFocus();
  }

  #send(opcode: number, data: number, body: Buffer): number {
    if (this.#closed) throw new X11Error('the X connection is closed');
    const header = Buffer.alloc(4);
    header.writeUInt8(opcode, 0);
    header.writeUInt8(data, 1);
    header.writeUInt16LE((4 + body.length) / 4, 2);
    this.#socket.write(Buffer.concat([header, body]));
    this.#sequence = (this.#sequence + 1) & 0xffff;
    return this.#sequence;
  }

  #request(opcode: number, data: number, body: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new X11Error('the X connection is closed'));
        return;
      }
      const sequence = this.#send(opcode, data, body);
      this.#pending.set(sequence, { resolve, reject });
    });
  }

  #receive(data: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? data : Buffer.concat([this.#buffer, data]);
    while (this.#buffer.length >= 32) {
      const kind = this.#buffer.readUInt8(0) & 0x7f;
      const total = kind === 1 || kind === GENERIC_EVENT ? 32 + 4 * this.#buffer.readUInt32LE(4) : 32;
      if (this.#buffer.length < total) return;
      const message = this.#buffer.subarray(0, total);
      this.#buffer = this.#buffer.subarray(total);
      if (kind === 0 || kind === 1) {
        const sequence = message.readUInt16LE(2);
        const pending = this.#pending.get(sequence);
        if (!pending) continue; // an error for a request without a reply (a window gone, say)
        this.#pending.delete(sequence);
        if (kind === 1) pending.resolve(Buffer.from(message));
        else pending.reject(new X11Error(`X error ${message.readUInt8(1)} (request ${message.readUInt8(10)})`));
      } else {
        this.onEvent(Buffer.from(message));
      }
    }
  }

  #gone(error: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    this.onClose();
  }
}

/** A raw XInput 2 event: type and keycode (or button). Null for any other event. */
export function parseRawEvent(event: Buffer, xiOpcode: number): { type: number; detail: number } | null {
  if ((event.readUInt8(0) & 0x7f) !== GENERIC_EVENT || event.readUInt8(1) !== xiOpcode) return null;
  return { type: event.readUInt16LE(8), detail: event.readUInt32LE(16) };
}

function setupRequest(cookie: Buffer | null): Buffer {
  const name = cookie ? Buffer.from('MIT-MAGIC-COOKIE-1', 'latin1') : Buffer.alloc(0);
  const data = cookie ?? Buffer.alloc(0);
  const request = Buffer.alloc(12 + pad4(name.length) + pad4(data.length));
  request.writeUInt8(0x6c, 0); // 'l': little-endian
  request.writeUInt16LE(11, 2);
  request.writeUInt16LE(0, 4);
  request.writeUInt16LE(name.length, 6);
  request.writeUInt16LE(data.length, 8);
  name.copy(request, 12);
  data.copy(request, 12 + pad4(name.length));
  return request;
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value, 0);
  return buffer;
}

function pad4(length: number): number {
  return (length + 3) & ~3;
}
