/**
 * Watches a legacy scp transfer (`exec scp -t …` uploads, `exec scp -f …` downloads; OpenSSH 9's scp uses
 * SFTP instead unless given -O) and reports one `file.transfer` per file the source side sends.
 * The source's stream is `C<mode> <size> <name>\n` + size bytes + `\0` per file, `D…`/`E` around folders,
 * `T…` times; the sink only answers with status bytes.
 */
import { posix } from 'node:path';
import type { FileTransferEvent } from './activity-events.ts';

export interface ScpCommand {
  direction: 'upload' | 'download';
  path: string;
  /** The path names a folder the files go into (-d, -r). */
  folder: boolean;
}

/** Reads `scp [-options] -t|-f [--] path` (what an scp client asks the server to run), or null. */
export function parseScpCommand(command: string): ScpCommand | null {
  const words = command.trim().split(/\s+/);
  if (words[0] !== 'scp' && !words[0]?.endsWith('/scp')) return null;
  let direction: ScpCommand['direction'] | null = null;
  let folder = false;
  let index = 1;
  for (; index < words.length; index++) {
    const word = words[index] as string;
    if (word === '--') {
      index++;
      break;
    }
    if (!word.startsWith('-')) break;
    if (word.includes('t')) direction = 'upload';
    if (word.includes('f')) direction = 'download';
    if (word.includes('d') || word.includes('r')) folder = true;
  }
  const path = words
    .slice(index)
    .join(' ')
    .replace(/^(['"])(.*)\1$/, '$2');
  if (!direction || !path) return null;
  return { direction, path, folder };
}

export interface ScpWatcherOptions {
  command: ScpCommand;
  now: () => number;
  emit: (event: FileTransferEvent) => void;
}

export class ScpWatcher {
  readonly #options: ScpWatcherOptions;
  #line: Buffer[] = [];
  /** Bytes of file data (plus its trailing \0) still to come. */
  #remaining = 0;
  #file: { path: string; size: number; atMs: number } | null = null;
  readonly #folders: string[] = [];
  #broken = false;

  constructor(options: ScpWatcherOptions) {
    this.#options = options;
  }

  /** Bytes from the side that sends the files (the client for uploads, the server for downloads). */
  source(bytes: Buffer): void {
    let at = 0;
    while (at < bytes.length && !this.#broken) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, bytes.length - at);
        this.#remaining -= take;
        at += take;
        if (this.#remaining === 0) this.#fileDone();
        continue;
      }
      const newline = bytes.indexOf(0x0a, at);
      if (newline < 0) {
        this.#line.push(bytes.subarray(at));
        if (this.#line.reduce((n, part) => n + part.length, 0) > 64 * 1024) this.#broken = true;
        return;
      }
      this.#line.push(bytes.subarray(at, newline));
      at = newline + 1;
      const line = Buffer.concat(this.#line).toString('utf8');
      this.#line = [];
      this.#control(line);
    }
  }

  #control(line: string): void {
    const kind = line[0];
    if (kind === 'C') {
      const match = /^C[0-7]{4} (\d+) (.*)$/.exec(line);
      if (!match) return;
      const size = Number(match[1]);
      this.#file = { path: this.#pathOf(match[2] as string), size, atMs: this.#options.now() };
      this.#remaining = size + 1;
    } else if (kind === 'D') {
      const match = /^D[0-7]{4} \d+ (.*)$/.exec(line);
      if (match) this.#folders.push(match[1] as string);
    } else if (kind === 'E') {
      this.#folders.pop();
    }
  }

  #pathOf(name: string): string {
    const { path, folder, direction } = this.#options.command;
    if (direction === 'download') {
      // The first D is the requested folder itself.
      return this.#folders.length === 0 ? path : posix.join(path, ...this.#folders.slice(1), name);
    }
    return folder || this.#folders.length > 0 ? posix.join(path, ...this.#folders, name) : path;
  }

  #fileDone(): void {
    const file = this.#file;
    this.#file = null;
    if (!file) return;
    this.#options.emit({
      type: 'file.transfer',
      atMs: file.atMs,
      endMs: this.#options.now(),
      direction: this.#options.command.direction,
      path: file.path,
      size: file.size,
      protocol: 'scp',
    });
  }
}
