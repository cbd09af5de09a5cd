/**
 * One session channel of a user's connection, relayed to the target: pty, env, shell, exec, the sftp
 * subsystem, window changes, signals and the exit status, with what flows through it recorded.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Client, ClientChannel, PseudoTtyInfo, PseudoTtyOptions, ServerChannel, Session } from 'ssh2';
import type { Logger } from '../../launcher/src/log.ts';
import { showEscapes } from '../../shared/terminal-text.ts';
import type { CastStream } from './cast.ts';
import { InputTracker, OUTPUT_TAIL_CHARS } from './input.ts';
import type { SessionRecording } from './recording.ts';
import { parseScpCommand, ScpWatcher } from './scp.ts';
import { SftpWatcher } from './sftp.ts';
import { TypedLines } from './typed-lines.ts';

/** What the channel needs from its connection, once the target and the recording are ready. */
export interface Upstream {
  target: Client;
  recording: SessionRecording;
}

const DEFAULT_SIZE = { cols: 80, rows: 24 };

export class RelayedChannel {
  readonly #log: Logger;
  readonly #ready: Promise<Upstream | string>;
  #pty: PseudoTtyInfo | null = null;
  readonly #env: Record<string, string> = {};
  #user: ServerChannel | null = null;
  #target: ClientChannel | null = null;
  #recording: SessionRecording | null = null;
  #closed = false;
  /** Called once the channel is closed. */
  onClose: () => void = () => {};

  /**
   * @param ready resolves with the target and recording, or with the message to show when the connection
   *   could not be set up.
   */
  constructor(session: Session, ready: Promise<Upstream | string>, log: Logger) {
    this.#log = log;
    this.#ready = ready;
    session.on('pty', (accept, _reject, info) => {
      this.#pty = info;
      accept?.();
    });
    session.on('env', (accept, _reject, info) => {
      this.#env[info.key] = info.val;
      accept?.();
    });
    session.on('window-change', (accept, _reject, info) => {
      accept?.();
      if (this.#pty)
        Object.assign(this.#pty, { cols: info.cols, rows: info.rows, width: info.width, height: info.height });
      this.#target?.setWindow(info.rows, info.cols, info.height, info.width);
      this.#recording?.cast.resize(info.cols, info.rows);
    });
    session.on('signal', (accept, _reject, info) => {
      accept?.();
      this.#target?.signal(info.name);
    });
    session.on('shell', (accept) => {
      void this.#open(accept, 'shell', (target, callback) => {
        const pty = this.#ptyOptions();
        if (pty) target.shell(pty, { env: this.#env }, callback);
        else target.shell(false, { env: this.#env }, callback);
      });
    });
    session.on('exec', (accept, _reject, info) => {
      void this.#open(
        accept,
        'exec',
        (target, callback) => {
          const pty = this.#ptyOptions();
          target.exec(info.command, { env: this.#env, ...(pty ? { pty } : {}) }, callback);
        },
        info.command,
      );
    });
    session.on('subsystem', (accept, reject, info) => {
      if (info.name !== 'sftp') {
        reject?.();
        return;
      }
      void this.#open(accept, 'sftp', (target, callback) => target.subsys('sftp', callback));
    });
    // Agent and X11 forwarding would let traffic past the recording: refused.
    session.on('auth-agent', (_accept, reject) => reject?.());
    session.on('x11', (_accept, reject) => reject?.());
    session.on('close', () => this.#close());
  }

  /** Writes a line of the proxy's own to the user's terminal (and the recording: the user saw it). */
  notify(text: string): void {
    const user = this.#user;
    if (!user || this.#closed) return;
    // An administrator's message may carry escapes: the user sees them, the terminal does not act on them.
    const line = `\r\n*** ${showEscapes(text)} ***\r\n`;
    if (this.#pty) user.write(line);
    else user.stderr.write(line);
    this.#recording?.cast.event('o', line);
  }

  /** Closes the user's channel (and the target's). */
  close(): void {
    this.#target?.close();
    if (this.#user) this.#user.end();
  }

  #ptyOptions(): PseudoTtyOptions | null {
    const pty = this.#pty;
    if (!pty) return null;
    return { rows: pty.rows, cols: pty.cols, height: pty.height, width: pty.width, term: pty.term, modes: pty.modes };
  }

  async #open(
    accept: (() => ServerChannel) | undefined,
    kind: 'shell' | 'exec' | 'sftp',
    start: (target: Client, callback: (error: Error | undefined, channel: ClientChannel) => void) => void,
    command?: string,
  ): Promise<void> {
    if (!accept || this.#user) return;
    // Accepted at once: ssh sends input right behind the request, and ssh2 drops data for a channel not yet
    // accepted. What arrives meanwhile waits in the (paused) stream.
    const user = accept();
    this.#user = user;
    const upstream = await this.#ready;
    if (typeof upstream === 'string') {
      this.#fail(user, upstream);
      return;
    }
    const { target, recording } = upstream;
    let channel: ClientChannel;
    try {
      channel = await new Promise<ClientChannel>((resolve, reject) =>
        start(target, (error, opened) => (error ? reject(error) : resolve(opened))),
      );
    } catch (error) {
      this.#fail(user, `the target refused the ${kind}: ${(error as Error).message}`);
      return;
    }
    if (this.#closed) {
      channel.close();
      return;
    }
    this.#target = channel;
    this.#recording = recording;
    // A client without a terminal of its own (ssh -tt from a pipe) asks for a 0x0 pty.
    recording.begin({
      width: clamp(this.#pty?.cols || DEFAULT_SIZE.cols),
      height: clamp(this.#pty?.rows || DEFAULT_SIZE.rows),
      ...(this.#pty ? { env: { TERM: this.#pty.term } } : {}),
    });
    if (kind === 'exec' && command !== undefined && recording.keystrokes) {
      recording.event({ type: 'ssh.command', atMs: recording.now(), text: command });
    }
    if (kind === 'sftp') this.#relaySftp(user, channel, recording);
    else {
      const scp = kind === 'exec' && command !== undefined ? parseScpCommand(command) : null;
      if (scp) this.#relayScp(user, channel, recording, scp);
      else this.#relayTerminal(user, channel, recording);
    }
    channel.on('exit', (code: number | null, signal?: string, dumped?: boolean, description?: string) => {
      if (typeof code === 'number') user.exit(code);
      else if (signal) user.exit(signal, dumped ?? false, description ?? '');
    });
    // The user's EOF goes on (sftp and `scp -t` wait for it); the target's is not passed back: ssh2 would
    // then drop the exit status that sshd sends after its EOF. Closing the channel ends it for the user.
    user.on('end', () => channel.eof());
    channel.on('close', () => {
      user.end();
    });
    user.on('close', () => channel.close());
  }

  #relayTerminal(user: ServerChannel, target: ClientChannel, recording: SessionRecording): void {
    const stdout = recording.cast.stream('o');
    const stderr = recording.cast.stream('o');
    // Secrets typed on a command line leave the cast (input and echo) before it is written (typed-lines.ts).
    const lines = new TypedLines({
      cast: recording.cast,
      line: () => tracker.line,
      onRedacted: (replaced) => recording.castRedacted(replaced),
    });
    const tracker = new InputTracker({
      now: () => recording.now(),
      emit: (event) => recording.event(event),
      keystrokes: recording.keystrokes,
      lineEnded: (line) => lines.lineEnded(line),
    });
    const input = new StringDecoder('utf8');
    const printed = (stream: CastStream, bytes: Buffer) => {
      lines.beforeOutput(bytes);
      tracker.output(stream.write(bytes, OUTPUT_TAIL_CHARS));
      lines.printed();
    };
    relay(target, user, (bytes) => printed(stdout, bytes));
    relay(target.stderr, user.stderr, (bytes) => printed(stderr, bytes));
    relay(user, target, (bytes) => {
      recording.userActive();
      const text = input.write(bytes);
      const at = recording.now();
      if (recording.keystrokes) lines.beforeInput();
      const recorded = text ? tracker.input(text, at) : '';
      if (recorded) recording.cast.event('i', recorded, at);
      lines.afterInput();
    });
    user.on('close', () => {
      const rest = tracker.input(input.end());
      const unfinished = tracker.close();
      if (rest || unfinished) recording.cast.event('i', rest + unfinished);
      lines.release();
    });
  }

  #relaySftp(user: ServerChannel, target: ClientChannel, recording: SessionRecording): void {
    const watcher = new SftpWatcher({
      now: () => recording.now(),
      emit: (event) => {
        recording.event(event);
        recording.cast.event('m', `sftp ${event.direction} ${event.path} (${event.size} bytes)`);
      },
    });
    relay(user, target, (bytes) => {
      recording.userActive();
      watcher.fromClient(bytes);
    });
    relay(target, user, (bytes) => watcher.fromServer(bytes));
    const stderr = recording.cast.stream('o');
    relay(target.stderr, user.stderr, (bytes) => stderr.write(bytes));
    user.on('close', () => watcher.close());
  }

  #relayScp(
    user: ServerChannel,
    target: ClientChannel,
    recording: SessionRecording,
    command: NonNullable<ReturnType<typeof parseScpCommand>>,
  ): void {
    const watcher = new ScpWatcher({
      command,
      now: () => recording.now(),
      emit: (event) => {
        recording.event(event);
        recording.cast.event('m', `scp ${event.direction} ${event.path} (${event.size} bytes)`);
      },
    });
    const upload = command.direction === 'upload';
    relay(user, target, (bytes) => {
      recording.userActive();
      if (upload) watcher.source(bytes);
    });
    relay(target, user, (bytes) => {
      if (!upload) watcher.source(bytes);
    });
    const stderr = recording.cast.stream('o');
    relay(target.stderr, user.stderr, (bytes) => stderr.write(bytes));
  }

  #fail(user: ServerChannel, message: string): void {
    this.#log.warn(message);
    user.stderr.write(`witness: ${showEscapes(message)}\r\n`);
    user.exit(1);
    user.end();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#target?.close();
    this.onClose();
  }
}

/**
 * Pipes `from` into `to`, then shows each chunk to `tap` (relay first, record after: nothing sits between a
 * keystroke or an echo and its forwarding), with backpressure: `from` is paused while `to` is full, and SSH
 * flow control holds the sender.
 */
function relay(from: NodeJS.ReadableStream, to: NodeJS.WritableStream, tap: (bytes: Buffer) => void): void {
  from.on('data', (bytes: Buffer) => {
    const flowing = to.write(bytes);
    tap(bytes);
    if (!flowing) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
}

function clamp(value: number): number {
  return Math.min(1000, Math.max(1, Math.round(value) || 1));
}
