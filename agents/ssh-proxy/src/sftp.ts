/**
 * Watches an SFTP subsystem channel (protocol version 3, as OpenSSH speaks it) in both directions and reports
 * one `file.transfer` per file handle that was read or written between its OPEN and its CLOSE. The bytes are
 * relayed untouched; only enough of each packet is parsed to follow handles and count data.
 */
import type { FileTransferEvent } from './activity-events.ts';

const SSH_FXP_OPEN = 3;
const SSH_FXP_CLOSE = 4;
const SSH_FXP_READ = 5;
const SSH_FXP_WRITE = 6;
const SSH_FXP_STATUS = 101;
const SSH_FXP_HANDLE = 102;
const SSH_FXP_DATA = 103;
/** A packet larger than this is not SFTP as OpenSSH sends it: stop watching rather than buffer it. */
const MAX_PACKET = 4 * 1024 * 1024;

interface OpenFile {
  path: string;
  atMs: number;
  read: number;
  written: number;
}

/** Splits a byte stream into SFTP packets (uint32 length, then the packet). */
class PacketReader {
  #buffered: Buffer[] = [];
  #length = 0;
  broken = false;

  push(bytes: Buffer, onPacket: (packet: Buffer) => void): void {
    if (this.broken) return;
    this.#buffered.push(bytes);
    this.#length += bytes.length;
    while (this.#length >= 4) {
      const head = this.#buffered.length === 1 ? (this.#buffered[0] as Buffer) : this.#join();
      const size = head.readUInt32BE(0);
      if (size > MAX_PACKET) {
        this.broken = true;
        this.#buffered = [];
        return;
      }
      if (this.#length < 4 + size) return;
      const all = this.#join();
      onPacket(all.subarray(4, 4 + size));
      const rest = all.subarray(4 + size);
      this.#buffered = rest.length > 0 ? [rest] : [];
      this.#length = rest.length;
    }
  }

  #join(): Buffer {
    const all = Buffer.concat(this.#buffered);
    this.#buffered = [all];
    return all;
  }
}

/** Reads SSH wire fields from a packet. */
class Fields {
  #at = 0;
  readonly #packet: Buffer;
  constructor(packet: Buffer) {
    this.#packet = packet;
  }
  byte(): number {
    return this.#packet.readUInt8(this.#at++);
  }
  uint32(): number {
    const value = this.#packet.readUInt32BE(this.#at);
    this.#at += 4;
    return value;
  }
  skip(bytes: number): void {
    this.#at += bytes;
  }
  /** A string's bytes. */
  bytes(): Buffer {
    const length = this.uint32();
    const value = this.#packet.subarray(this.#at, this.#at + length);
    if (value.length !== length) throw new RangeError('truncated string');
    this.#at += length;
    return value;
  }
  /** A string's length, skipping its bytes. */
  stringLength(): number {
    const length = this.uint32();
    this.#at += length;
    return length;
  }
}

export interface SftpWatcherOptions {
  now: () => number;
  emit: (event: FileTransferEvent) => void;
}

export class SftpWatcher {
  readonly #options: SftpWatcherOptions;
  readonly #fromClient = new PacketReader();
  readonly #fromServer = new PacketReader();
  /** OPEN requests waiting for their HANDLE, by request id. */
  readonly #opening = new Map<number, string>();
  /** READ requests waiting for their DATA: request id → handle. */
  readonly #reading = new Map<number, string>();
  readonly #open = new Map<string, OpenFile>();

  constructor(options: SftpWatcherOptions) {
    this.#options = options;
  }

  fromClient(bytes: Buffer): void {
    this.#fromClient.push(bytes, (packet) => this.#guard(() => this.#clientPacket(new Fields(packet))));
  }

  fromServer(bytes: Buffer): void {
    this.#fromServer.push(bytes, (packet) => this.#guard(() => this.#serverPacket(new Fields(packet))));
  }

  /** The channel closed: files still open count as transferred as far as they got. */
  close(): void {
    for (const handle of [...this.#open.keys()]) this.#closed(handle);
  }

  #guard(parse: () => void): void {
    try {
      parse();
    } catch {
      // A packet we cannot read is relayed all the same; it just reports nothing.
    }
  }

  #clientPacket(packet: Fields): void {
    const type = packet.byte();
    if (type === SSH_FXP_OPEN) {
      const id = packet.uint32();
      this.#opening.set(id, packet.bytes().toString('utf8'));
    } else if (type === SSH_FXP_READ) {
      const id = packet.uint32();
      this.#reading.set(id, packet.bytes().toString('hex'));
    } else if (type === SSH_FXP_WRITE) {
      packet.uint32();
      const file = this.#open.get(packet.bytes().toString('hex'));
      packet.skip(8);
      const length = packet.stringLength();
      if (file) file.written += length;
    } else if (type === SSH_FXP_CLOSE) {
      packet.uint32();
      this.#closed(packet.bytes().toString('hex'));
    }
  }

  #serverPacket(packet: Fields): void {
    const type = packet.byte();
    const id = packet.uint32();
    if (type === SSH_FXP_HANDLE) {
      const path = this.#opening.get(id);
      this.#opening.delete(id);
      if (path !== undefined) {
        this.#open.set(packet.bytes().toString('hex'), { path, atMs: this.#options.now(), read: 0, written: 0 });
      }
    } else if (type === SSH_FXP_DATA) {
      const handle = this.#reading.get(id);
      this.#reading.delete(id);
      const file = handle === undefined ? undefined : this.#open.get(handle);
      const length = packet.stringLength();
      if (file) file.read += length;
    } else if (type === SSH_FXP_STATUS) {
      this.#opening.delete(id);
      this.#reading.delete(id);
    }
  }

  #closed(handle: string): void {
    const file = this.#open.get(handle);
    if (!file) return;
    this.#open.delete(handle);
    const base = { type: 'file.transfer', atMs: file.atMs, endMs: this.#options.now(), path: file.path } as const;
    if (file.written > 0) this.#options.emit({ ...base, direction: 'upload', size: file.written, protocol: 'sftp' });
    if (file.read > 0) this.#options.emit({ ...base, direction: 'download', size: file.read, protocol: 'sftp' });
  }
}
