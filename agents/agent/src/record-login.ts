/**
 * `witness-agent session` — what sshd's ForceCommand runs for every SSH login, as the user: ask the root
 * broker for a session (broker.ts: it holds the agent key; this process gets only the session's ingest token),
 * record the login through the SSH proxy's recording (recording.ts: control socket, spool, uploads), obey
 * messages and terminate, and end with the shell's exit code. When Witness or the broker cannot be reached
 * the login is recorded to the spool and uploaded later by the broker (offline.ts), unless the configuration
 * says to refuse it (`failClosed`).
 */
import { join } from 'node:path';
import type { Logger } from '../../launcher/src/log.ts';
import { SessionRecording } from '../../ssh-proxy/src/recording.ts';
import type { AgentConfig } from './config.ts';
import type { Login } from './login.ts';
import { rawTerminal } from './raw-terminal.ts';
import { watchForTamper } from './tamper.ts';
import { OfflineRecording } from './offline.ts';
import { askBroker } from './broker-client.ts';
import { cachedPolicy } from './policy.ts';
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
  env?: NodeJS.ProcessEnv;
  heartbeatMs?: number;
}

export async function recordLogin(options: RecordLoginOptions): Promise<number> {
  const { config, login, log } = options;
  const env = options.env ?? process.env;
  // Raw at once: what the user types while the session is being set up waits, unechoed, for the recorder
  // (the terminal would otherwise echo it where the recording does not see it).
  const restoreTerminal = rawTerminal();
  const agentLogin = { tty: login.tty, remoteAddress: login.remote?.address ?? null };
  // The root broker holds the agent key: it asks Witness whether this host is recorded and launches a session
  // for this account only (it knows who we are from the socket), answering with that session's ingest token.
  const answer = await askBroker(config.brokerSocket, {
    type: 'login',
    user: login.user,
    protocol: login.protocol,
    login: agentLogin,
  });
  if (answer.type === 'not_recorded') {
    restoreTerminal();
    log.info(`${login.user}'s login is not recorded: the rule for ${answer.rule ?? config.host} says so`);
    return runUnrecorded(login, env);
  }
  if (answer.type === 'refused' || answer.type === 'flushing') {
    // The broker refuses only what no honest recorder sends: nothing is recorded, so the login is closed.
    restoreTerminal();
    const why = answer.type === 'refused' ? `${answer.message} (${answer.code})` : 'unexpected broker answer';
    log.warn(`the broker refused this login: ${why}`);
    process.stderr.write(`witness: this login cannot be recorded, so it is refused: ${why}\r\n`);
    return ExitCode.refused;
  }
  // Offline (Witness or the broker unreachable): the last policy the broker kept says whether to record.
  const known =
    answer.type === 'offline' ? answer.policy : answer.type === 'unreachable' ? cachedPolicy(config.spoolDir) : null;
  if (answer.type !== 'launched' && known && !known.record) {
    restoreTerminal();
    log.info(`${login.user}'s login is not recorded: the rule for ${known.rule ?? config.host} says so`);
    return runUnrecorded(login, env);
  }
  const launch = answer.type === 'launched' ? answer : null;
  let offlineWhy = answer.type === 'launched' ? '' : answer.why;
  let online: SessionRecording | null = null;
  if (launch) {
    online = new SessionRecording({
      server: launch.server,
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
    // The broker uploads it (it alone has the key); if it is down, it does so when it starts again.
    const asked = await askBroker(config.brokerSocket, { type: 'flush' }, 5_000);
    if (asked.type !== 'flushing')
      log.warn(`${offline.dir} waits in the spool: ${'why' in asked ? asked.why : asked.type}`);
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
