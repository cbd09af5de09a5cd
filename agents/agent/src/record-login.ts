/**
 * `witness-agent session` — what sshd's ForceCommand runs for every SSH login: ask Witness for a session (the
 * agent key, bound to this host), record the login through the SSH proxy's recording (recording.ts: control
 * socket, spool, uploads), obey messages and terminate, and end with the shell's exit code. When Witness
 * cannot be reached the login is recorded to the spool and uploaded later (offline.ts), unless the
 * configuration says to refuse it (`failClosed`).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { LaunchReply } from '../../../protocol/ingest.ts';
import { LaunchError, requestLaunch } from '../../launcher/src/launch.ts';
import type { Logger } from '../../launcher/src/log.ts';
import { SessionRecording } from '../../ssh-proxy/src/recording.ts';
import type { AgentConfig } from './config.ts';
import type { Login } from './login.ts';
import { rawTerminal } from './raw-terminal.ts';
import { watchForTamper } from './tamper.ts';
import { OfflineRecording } from './offline.ts';
import { askPolicy, cachedPolicy, keepPolicy } from './policy.ts';
import { type LoginRecording, type RunningLogin, runLogin, runUnrecorded } from './terminal.ts';

/** How long the login waits for the server's welcome before recording offline. */
const WELCOME_TIMEOUT_MS = 10_000;
/** How long the user's ssh waits, after the shell ended, for the last pieces to reach the server. */
const DRAIN_MS = 15_000;

export const ExitCode = { refused: 1 } as const;

/** Where a login's diagnostics go (not to the user's terminal): one file per account in the spool. */
export function agentLogFile(spoolDir: string): string {
  return join(spoolDir, `agent-${process.getuid?.() ?? 'user'}.log`);
}

/** Signals someone sends to stop the recorder (sshd sends SIGHUP when the client goes: that is a normal end). */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export interface RecordLoginOptions {
  config: AgentConfig;
  configPath: string;
  /** The sshd configuration the agent is installed in (watched for the tamper signal). */
  sshdConfig: string | null;
  login: Login;
  log: Logger;
  version: string;
  /** The witness-agent command line that runs `flush` (process.execPath and the CLI). */
  agentCommand: readonly string[];
  env?: NodeJS.ProcessEnv;
  heartbeatMs?: number;
}

export async function recordLogin(options: RecordLoginOptions): Promise<number> {
  const { config, login, log } = options;
  const env = options.env ?? process.env;
  // Raw at once: what the user types while the session is being set up waits, unechoed, for the recorder
  // (the terminal would otherwise echo it where the recording does not see it).
  const restoreTerminal = rawTerminal();
  mkdirSync(config.spoolDir, { recursive: true, mode: 0o1733 });
  const agentLogin = { tty: login.tty, remoteAddress: login.remote?.address ?? null };
  // Whether to record: the server's rule for this host now, or the last one it gave when it cannot be asked.
  const answer = await askPolicy(config);
  if (answer.kind === 'answered') keepPolicy(config.spoolDir, answer.reply);
  const known = answer.kind === 'answered' ? answer.reply : cachedPolicy(config.spoolDir);
  if (known && !known.record) {
    restoreTerminal();
    log.info(`${login.user}'s login is not recorded: the rule for ${known.rule ?? config.host} says so`);
    return runUnrecorded(login, env);
  }
  let launch: LaunchReply | null = null;
  let offlineWhy = answer.kind === 'answered' ? '' : answer.why;
  // A refused policy request is asked again as a launch, whose refusal says the same (or the launch works:
  // a server without the policy route).
  if (answer.kind !== 'unreachable') {
    try {
      launch = await requestLaunch({
        server: config.server,
        apiKey: config.apiKey,
        user: login.user,
        target: config.host,
        protocol: login.protocol,
        format: 'asciicast',
        login: agentLogin,
      });
    } catch (error) {
      offlineWhy = error instanceof LaunchError ? error.message : String(error);
    }
  }
  let online: SessionRecording | null = null;
  if (launch) {
    online = new SessionRecording({
      server: config.server,
      session: launch.sessionId,
      token: launch.token,
      expiresAt: launch.expiresAt,
      spoolRoot: config.spoolDir,
      log,
      version: options.version,
      drainTimeoutMs: DRAIN_MS,
      heartbeatMs: options.heartbeatMs,
      ...(login.remote && { client: login.remote }),
      launcherName: 'witness-agent',
    });
    const refused = await online.open(WELCOME_TIMEOUT_MS);
    if (refused !== null) {
      offlineWhy = `the Witness server did not take session ${launch.sessionId}: ${refused}`;
      await online.finish(refused);
      online = null;
    }
  }
  if (!online && config.failClosed) {
    restoreTerminal();
    process.stderr.write(`witness: this login cannot be recorded, so it is refused: ${offlineWhy}\r\n`);
    return ExitCode.refused;
  }
  if (online && !online.policy?.recordingEnabled) {
    log.info(`session ${online.session}: the policy does not record this login`);
  }
  const offline = online
    ? null
    : new OfflineRecording(
        config.spoolDir,
        {
          user: login.user,
          target: config.host,
          protocol: login.protocol,
          login: agentLogin,
          recordedAt: Date.now(),
          why: offlineWhy,
        },
        log,
        // Offline, the last policy the server gave says whether keystrokes are recorded (recorded if none).
        known?.policy.keystrokesEnabled ?? true,
      );
  if (offline) {
    log.warn(`${offlineWhy}; this login is recorded in ${offline.dir} and uploaded when the server is back`);
  }
  const recording: LoginRecording = online ?? (offline as OfflineRecording);
  const running: RunningLogin = runLogin(
    login,
    recording,
    env,
    online ? online.session : ((offline as OfflineRecording).dir.split('/').at(-1) ?? 'offline'),
  );
  let terminated = false;
  online?.setHooks({
    message: (text) => running.notify(`Message from administrator: ${text}`),
    terminate: (message) => {
      terminated = true;
      running.notify(`Session terminated by administrator: ${message}`);
      running.kill();
    },
    ended: (reason) => {
      running.notify(`Session ended by Witness: ${describeEnd(reason)}`);
      running.kill();
    },
    fatal: (reason) => {
      running.notify(`This session can no longer be recorded, so it is closed: ${reason}`);
      running.kill();
    },
  });
  const tamper = (what: string) => {
    log.warn(`tamper signal: ${what}`);
    recording.event({ type: 'agent.tamper', atMs: recording.now(), text: what });
    recording.cast.event('m', `witness-agent: ${what}`);
  };
  const watch = watchForTamper({ configPath: options.configPath, sshdConfig: options.sshdConfig, report: tamper });
  // Stopping the recorder stops the recording, so it stops the login too (fail closed), and says why.
  const stopped = (signal: NodeJS.Signals) => {
    tamper(`witness-agent was sent ${signal}`);
    running.notify(`witness-agent was stopped (${signal}): this login is closed`);
    running.kill();
  };
  for (const signal of STOP_SIGNALS) process.on(signal, stopped);
  if (offline) {
    offline.onSpoolError = (reason) => {
      running.notify(`This session can no longer be recorded, so it is closed: ${reason}`);
      running.kill();
    };
  }
  const code = await running.exited;
  watch.stop();
  for (const signal of STOP_SIGNALS) process.off(signal, stopped);
  restoreTerminal();
  // The login is over: what the server says from now on (its `ended` after our `end`) has no one to reach.
  online?.setHooks({ message: () => {}, terminate: () => {}, ended: () => {}, fatal: () => {} });
  if (online) await online.finish();
  if (offline) {
    await offline.finish();
    startFlush(options);
  }
  return terminated && code === 0 ? 1 : code;
}

function describeEnd(reason: string | null): string {
  switch (reason) {
    case 'inactivity_timeout':
      return 'inactivity timeout';
    case 'maximum_length':
      return 'maximum session length reached';
    case null:
      return 'closed by the server';
    default:
      return reason.replaceAll('_', ' ');
  }
}

/** Starts `witness-agent flush` on its own (it outlives the login) to upload what was recorded offline. */
function startFlush(options: RecordLoginOptions): void {
  const [command, ...args] = options.agentCommand;
  if (!command) return;
  // Its lines go to the login's log file (it has no terminal: the login is over).
  let out: number | 'ignore' = 'ignore';
  try {
    out = openSync(agentLogFile(options.config.spoolDir), 'a', 0o600);
  } catch {
    // no log file: the flush still runs
  }
  const child = spawn(command, [...args, 'flush', '--config', options.configPath, '--wait'], {
    detached: true,
    stdio: ['ignore', out, out],
  });
  if (typeof out === 'number') closeSync(out);
  child.on('error', (error) => options.log.warn(`cannot start witness-agent flush: ${error.message}`));
  child.unref();
}
