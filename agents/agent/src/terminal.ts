/**
 * Runs the login's shell (or the command it asked for) on a terminal of the agent's own, between the user's
 * terminal and the shell, and records what passes as the SSH proxy does (input.ts, cast.ts): output as `o`,
 * what was typed as `i` (password answers redacted, nothing when keystrokes are off), window changes as `r`,
 * typed lines as `ssh.command`. Without a terminal (`ssh host command`) the command runs on pipes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import pty from 'node-pty';
import type { ActivityEvent } from '../../../protocol/activity.ts';
import type { CastHeader } from '../../../protocol/asciicast.ts';
import { SESSION_MARKER } from '../../launcher/src/capture/capture.ts';
import { ProcessWatcher } from '../../launcher/src/capture/processes.ts';
import type { SshActivity } from '../../ssh-proxy/src/activity-events.ts';
import type { CastRecorder } from '../../ssh-proxy/src/cast.ts';
import { InputTracker, OUTPUT_TAIL_CHARS } from '../../ssh-proxy/src/input.ts';
import { showEscapes } from '../../shared/terminal-text.ts';
import type { Login } from './login.ts';

/** What the terminal needs of a recording: the proxy's SessionRecording, or an offline one (offline.ts). */
export interface LoginRecording {
  readonly cast: CastRecorder;
  readonly keystrokes: boolean;
  begin(header: Omit<CastHeader, 'version'>): void;
  now(): number;
  /** Typed input and commands (the proxy's events), and the login's processes (the launcher's). */
  event(event: SshActivity | Extract<ActivityEvent, { type: 'process.start' | 'process.stop' | 'agent.tamper' }>): void;
  userActive(): void;
}

/** How long the login's processes get after SIGHUP before SIGKILL, when it is terminated. */
const KILL_AFTER_MS = 2_000;

export interface RunningLogin {
  /** The login's program (its session's leader). */
  pid: number | undefined;
  /** Resolves with the exit code to give sshd. */
  exited: Promise<number>;
  /** Writes a line of Witness's own to the user's terminal (and the recording: the user saw it). */
  notify(text: string): void;
  /** Ends the login: every process of its session gets SIGHUP, then SIGKILL. */
  kill(): void;
}

/** sftp asked for through the ForceCommand: the server's sftp-server, on the client's own pipes. */
const SFTP = /^(internal-sftp|\S*\/sftp-server)(\s|$)/;
const SFTP_SERVER = '/usr/lib/openssh/sftp-server';

/**
 * Starts the login's program under the recorder. `session` names it in the environment (WITNESS_SESSION), so
 * that the processes it starts are told apart from the user's others (capture/processes.ts).
 */
export function runLogin(
  login: Login,
  recording: LoginRecording,
  env: NodeJS.ProcessEnv,
  session: string,
): RunningLogin {
  const stdin = process.stdin;
  const stdout = process.stdout;
  const hasTty = stdin.isTTY === true && stdout.isTTY === true;
  // A client without a terminal of its own (ssh -tt from a pipe) has a 0x0 one: recorded as 80x24.
  const cols = clamp((hasTty && stdout.columns) || 80);
  const rows = clamp((hasTty && stdout.rows) || 24);
  recording.begin({ width: cols, height: rows, ...(env.TERM ? { env: { TERM: env.TERM } } : {}) });
  if (login.command !== null && recording.keystrokes) {
    recording.event({ type: 'ssh.command', atMs: recording.now(), text: login.command });
  }
  const programEnv = { ...env, [SESSION_MARKER]: session, WITNESS_AGENT: '1' };
  if (login.command !== null && SFTP.test(login.command)) return runSftp(recording, programEnv);
  const processes = new ProcessWatcher({
    // On the session clock: the watcher's times are differences from its `now`.
    now: () => recording.now(),
    emit: (event) => {
      if (event.type === 'process.start' || event.type === 'process.stop') recording.event(event);
    },
    uid: process.getuid?.() ?? 0,
    launcherPid: process.pid,
    scope: { display: undefined, session },
  });
  processes.start();
  const running = hasTty
    ? runOnTerminal(login, recording, programEnv, cols, rows)
    : runOnPipes(login, recording, programEnv);
  if (running.pid) processes.programStarted(running.pid);
  void running.exited.then(() => processes.stop());
  return running;
}

/**
 * A login the server's rules do not record (`record: false` for this host): the shell runs on the user's own
 * terminal, nothing in between.
 */
export function runUnrecorded(login: Login, env: NodeJS.ProcessEnv): Promise<number> {
  const args = login.command === null ? ['-l'] : ['-c', login.command];
  const child = spawn(login.shell, args, { cwd: login.home, env, stdio: 'inherit' });
  return exitOf(child);
}

function runOnTerminal(
  login: Login,
  recording: LoginRecording,
  env: NodeJS.ProcessEnv,
  cols: number,
  rows: number,
): RunningLogin {
  const stdin = process.stdin;
  const stdout = process.stdout;
  const args = login.command === null ? ['-l'] : ['-c', login.command];
  const shell = pty.spawn(login.shell, args, {
    name: env.TERM || 'xterm',
    cols,
    rows,
    cwd: login.home,
    env,
    encoding: null,
  });
  const output = recording.cast.stream('o');
  const tracker = new InputTracker({
    now: () => recording.now(),
    emit: (event) => recording.event(event),
    keystrokes: recording.keystrokes,
  });
  const input = new StringDecoder('utf8');
  // The user's terminal is raw already (raw-terminal.ts): bytes pass as they are.
  stdin.resume();
  // Relay first, record after: nothing sits between a keystroke or an echo and its forwarding.
  shell.onData((data) => {
    const bytes = data as unknown as Buffer;
    if (!stdout.write(bytes)) {
      shell.pause();
      stdout.once('drain', () => shell.resume());
    }
    tracker.output(output.write(bytes, OUTPUT_TAIL_CHARS));
  });
  const onInput = (bytes: Buffer) => {
    shell.write(bytes);
    recording.userActive();
    const text = input.write(bytes);
    const at = recording.now();
    const recorded = text ? tracker.input(text, at) : '';
    if (recorded) recording.cast.event('i', recorded, at);
  };
  stdin.on('data', onInput);
  const onResize = () => {
    const size = { cols: clamp(stdout.columns || 80), rows: clamp(stdout.rows || 24) };
    shell.resize(size.cols, size.rows);
    recording.cast.resize(size.cols, size.rows);
  };
  stdout.on('resize', onResize);
  const exited = new Promise<number>((resolve) => {
    shell.onExit(({ exitCode, signal }) => {
      stdin.off('data', onInput);
      stdout.off('resize', onResize);
      const rest = tracker.input(input.end());
      const unfinished = tracker.close();
      if (rest || unfinished) recording.cast.event('i', rest + unfinished);
      stdin.pause();
      resolve(signal ? 128 + signal : exitCode);
    });
  });
  return {
    pid: shell.pid,
    exited,
    notify: (text) => {
      const line = notice(text);
      stdout.write(line);
      recording.cast.event('o', line);
    },
    kill: () => killSession(shell.pid),
  };
}

function runOnPipes(login: Login, recording: LoginRecording, env: NodeJS.ProcessEnv): RunningLogin {
  const child = spawn(login.shell, ['-c', login.command ?? ''], {
    cwd: login.home,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const stdout = recording.cast.stream('o');
  const stderr = recording.cast.stream('o');
  process.stdin.pipe(child.stdin as NodeJS.WritableStream);
  // The command's input is not typed at a terminal: it is not recorded (it may be a file being piped in).
  child.stdout?.on('data', (bytes: Buffer) => {
    process.stdout.write(bytes);
    stdout.write(bytes);
  });
  child.stderr?.on('data', (bytes: Buffer) => {
    process.stderr.write(bytes);
    stderr.write(bytes);
  });
  return {
    pid: child.pid,
    exited: exitOf(child),
    notify: (text) => {
      const line = notice(text);
      process.stderr.write(line);
      recording.cast.event('o', line);
    },
    kill: () => killSession(child.pid),
  };
}

/** sftp's bytes are file contents, not a terminal: a marker says it ran (its transfers: not yet recorded). */
function runSftp(recording: LoginRecording, env: NodeJS.ProcessEnv): RunningLogin {
  recording.cast.event('m', 'sftp session');
  const child = spawn(SFTP_SERVER, [], { env, stdio: 'inherit', detached: true });
  return {
    pid: child.pid,
    exited: exitOf(child),
    notify: () => {},
    kill: () => killSession(child.pid),
  };
}

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('error', () => resolve(127));
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + signalNumber(signal) : 1)));
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 1;
}

/** `*** text ***` on a line of its own; an administrator's text cannot drive the terminal. */
function notice(text: string): string {
  return `\r\n*** ${showEscapes(text)} ***\r\n`;
}

/**
 * Every process of the login's session (the shell is its leader: node-pty and `detached` both call setsid),
 * whatever process group job control put it in: SIGHUP, then SIGKILL to what is left.
 */
export function killSession(leader: number | undefined): void {
  if (!leader) return;
  const members = () => [leader, ...sessionMembers(leader)];
  for (const pid of members()) signal(pid, 'SIGHUP');
  setTimeout(() => {
    for (const pid of members()) signal(pid, 'SIGKILL');
  }, KILL_AFTER_MS).unref();
}

/** Processes whose session id (field 6 of /proc/PID/stat) is `sid`. */
export function sessionMembers(sid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name (field 2) is in parentheses and may hold spaces: fields are counted after its end.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[3]) === sid) pids.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

function clamp(value: number | undefined): number {
  return Math.min(1000, Math.max(1, Math.round(value ?? 0) || 1));
}
