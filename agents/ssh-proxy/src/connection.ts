/**
 * One user's SSH connection to the proxy: who it is (`user+target` with a key, or a session id with its
 * ingest token), the target connection and the Witness session behind it, admin commands, and the end.
 */
import { readFileSync } from 'node:fs';
import ssh2, { type AuthContext, type AuthenticationType, type Client, type Connection } from 'ssh2';
import { SshClient } from '../../../protocol/control.ts';
import type { EndReason } from '../../../protocol/session.ts';
import { LaunchError, requestLaunch } from '../../launcher/src/launch.ts';
import type { Logger } from '../../launcher/src/log.ts';
import { showEscapes } from '../../shared/terminal-text.ts';
import { RelayedChannel, type Upstream } from './channel.ts';
import type { ProxyConfig, TargetConfig } from './config.ts';
import { fingerprint, isAuthorized, sameFingerprint } from './keys.ts';
import { SessionRecording } from './recording.ts';

export interface ProxyContext {
  config: ProxyConfig;
  log: Logger;
  version: string;
  heartbeatMs?: number;
  /** How long to wait for the Witness server (welcome, launch). */
  serverTimeoutMs?: number;
  /** Keeps a finishing recording, so that shutdown (and tests) can wait for its uploads. */
  track(recording: SessionRecording, done: Promise<void>): void;
}

/** `alice+db-01` logs in by key; a session id (what a vault's launch returned) by its ingest token. */
export type Login =
  | { kind: 'key'; user: string; target: string }
  | { kind: 'token'; session: string }
  | { kind: 'invalid' };

export function parseLogin(username: string): Login {
  const plus = username.indexOf('+');
  if (plus > 0 && plus < username.length - 1) {
    return { kind: 'key', user: username.slice(0, plus), target: username.slice(plus + 1) };
  }
  if (/^[A-Za-z0-9-]{8,64}$/.test(username)) return { kind: 'token', session: username };
  return { kind: 'invalid' };
}

const TITLE = 'Witness SSH proxy';
const HOW_TO =
  'log in as <user>+<target> with your key (ssh alice+db-01@proxy), or as <session id> with the ' +
  "launch's ingest token as the password";

/** End reasons as the user reads them. */
const ENDED: Record<EndReason, string> = {
  ended_by_user: 'Session ended',
  terminated_by_admin: 'Session terminated by administrator',
  inactivity_timeout: 'Session ended by Witness: inactivity timeout',
  maximum_length: 'Session ended by Witness: maximum session length reached',
  launcher_lost: 'Session ended by Witness: the recording proxy lost the server',
  launch_expired: 'Session ended by Witness: the launch expired',
};

export class ProxiedConnection {
  readonly #client: Connection;
  readonly #context: ProxyContext;
  readonly #log: Logger;
  readonly #peer: string;
  /** The client's address as the session records it (null if it is not an IP address, e.g. a test's pipe). */
  readonly #sshClient: SshClient | null;
  #login: Login = { kind: 'invalid' };
  /** Why authentication failed, shown to the user through keyboard-interactive. */
  #reason: string | null = null;
  #targetName: string | null = null;
  #recording: SessionRecording | null = null;
  #target: Client | null = null;
  readonly #channels = new Set<RelayedChannel>();
  #ready: Promise<Upstream | string> | null = null;
  #closing = false;
  #tokenTried = false;

  constructor(client: Connection, peer: { address: string; port: number }, context: ProxyContext) {
    this.#client = client;
    this.#context = context;
    this.#log = context.log;
    this.#peer = peer.address.includes(':') ? `[${peer.address}]:${peer.port}` : `${peer.address}:${peer.port}`;
    this.#sshClient = SshClient.safeParse(peer).data ?? null;
    // Keystrokes are single small packets: Nagle's algorithm would hold each echo for a delayed ACK.
    // ssh2's server connection has setNoDelay; @types/ssh2 leaves it out.
    (client as Connection & { setNoDelay(noDelay: boolean): void }).setNoDelay(true);
    client.on('authentication', (ctx) => void this.#authenticate(ctx));
    client.on('ready', () => {
      this.#ready = this.#setUp();
    });
    client.on('session', (accept) => {
      const ready = this.#ready ?? Promise.resolve('the connection is not ready');
      const channel = new RelayedChannel(accept(), ready, this.#log);
      this.#channels.add(channel);
      channel.onClose = () => this.#channels.delete(channel);
    });
    client.on('error', (error) => this.#log.debug(`${peer}: ${error.message}`));
    client.on('close', () => void this.#closed());
  }

  #methods(): AuthenticationType[] {
    switch (this.#login.kind) {
      case 'key':
        return ['publickey', 'keyboard-interactive'];
      case 'token':
        // One try per connection: each opens a control socket to the server.
        return this.#tokenTried ? ['keyboard-interactive'] : ['keyboard-interactive', 'password'];
      case 'invalid':
        return ['keyboard-interactive'];
    }
  }

  async #authenticate(ctx: AuthContext): Promise<void> {
    this.#login = parseLogin(ctx.username);
    const login = this.#login;
    if (login.kind === 'invalid') this.#reason = `"${ctx.username}" is not a login this proxy knows: ${HOW_TO}`;
    switch (ctx.method) {
      case 'publickey': {
        if (login.kind !== 'key') return ctx.reject(this.#methods());
        const keys = this.#context.config.keys.get(login.user) ?? [];
        if (!isAuthorized(ctx.key.data, keys)) {
          this.#reason ??= `no key you offered is authorized for "${login.user}"`;
          return ctx.reject(this.#methods());
        }
        // The client asks whether a key would do before it signs with it.
        if (!ctx.signature) return ctx.accept();
        const key = ssh2.utils.parseKey(ctx.key.data);
        if (key instanceof Error || !ctx.blob || !key.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) {
          return ctx.reject(this.#methods());
        }
        const problem = this.#targetProblem(login.user, login.target);
        if (problem) {
          this.#reason = problem;
          this.#log.info(`${this.#peer}: ${login.user} refused: ${problem}`);
          return ctx.reject(this.#methods());
        }
        this.#targetName = login.target;
        this.#log.info(`${this.#peer}: ${login.user} logged in for ${login.target}`);
        return ctx.accept();
      }
      case 'password': {
        if (login.kind !== 'token') return ctx.reject(this.#methods());
        return (await this.#checkToken(login.session, ctx.password)) ? ctx.accept() : ctx.reject(this.#methods());
      }
      case 'keyboard-interactive': {
        if (login.kind === 'token' && !this.#tokenTried) {
          ctx.prompt(
            [{ prompt: `Witness ingest token for session ${login.session}: `, echo: false }],
            TITLE,
            '',
            (answers) => {
              const token = Array.isArray(answers) ? (answers[0] ?? '') : '';
              void this.#checkToken(login.session, token).then((ok) => {
                if (ok) ctx.accept();
                else this.#explainAndReject(ctx);
              });
            },
          );
          return;
        }
        return this.#explainAndReject(ctx);
      }
      default:
        return ctx.reject(this.#methods());
    }
  }

  /** Shows why the login failed (an info request without prompts: ssh prints it), then refuses. */
  #explainAndReject(ctx: Extract<AuthContext, { method: 'keyboard-interactive' }>): void {
    const reason = this.#reason ?? `permission denied: ${HOW_TO}`;
    ctx.prompt([], TITLE, `witness: ${showEscapes(reason)}`, () => ctx.reject(this.#methods()));
  }

  #targetProblem(user: string, target: string): string | null {
    const { config } = this.#context;
    if (!(target in config.targets)) return `unknown target "${target}"`;
    const allowed = config.users[user]?.targets ?? [];
    if (!allowed.includes('*') && !allowed.includes(target)) return `"${user}" may not use target "${target}"`;
    return null;
  }

  /** Opens the session's control socket with the token: the server's welcome is the proof it is valid. */
  async #checkToken(session: string, token: string): Promise<boolean> {
    if (this.#tokenTried || this.#recording) return false;
    this.#tokenTried = true;
    const recording = this.#newRecording(session, token, null);
    const problem = await recording.open(this.#context.serverTimeoutMs ?? 15_000);
    if (problem) {
      this.#reason = `the Witness server refused session ${session}: ${problem}`;
      this.#log.info(`${this.#peer}: ${this.#reason}`);
      void recording.finish();
      return false;
    }
    const info = recording.info;
    const targetProblem = !info
      ? 'the Witness server did not say which target the session is for'
      : info.protocol !== 'ssh'
        ? `session ${session} is a ${info.protocol} session, not ssh`
        : !(info.target in this.#context.config.targets)
          ? `the session's target "${info.target}" is not configured on this proxy`
          : null;
    if (targetProblem) {
      this.#reason = targetProblem;
      this.#log.info(`${this.#peer}: session ${session} refused: ${targetProblem}`);
      this.#context.track(recording, recording.finish(targetProblem));
      return false;
    }
    this.#recording = recording;
    this.#targetName = info?.target ?? null;
    this.#log.info(`${this.#peer}: session ${session} (${info?.user} on ${info?.target}) logged in by token`);
    return true;
  }

  #newRecording(session: string, token: string, expiresAt: string | null): SessionRecording {
    const { config, log, version, heartbeatMs } = this.#context;
    return new SessionRecording({
      server: config.server,
      session,
      token,
      expiresAt,
      spoolRoot: config.spoolRoot,
      log,
      version,
      heartbeatMs,
      drainTimeoutMs: config.drainTimeoutMs,
      client: this.#sshClient,
    });
  }

  /** After authentication: the target connection, then (for key logins) the launch. */
  async #setUp(): Promise<Upstream | string> {
    const name = this.#targetName as string;
    const targetConfig = this.#context.config.targets[name] as TargetConfig;
    try {
      this.#target = await connectTarget(name, targetConfig);
    } catch (error) {
      const message = `cannot connect to ${name}: ${(error as Error).message}`;
      if (this.#recording) this.#context.track(this.#recording, this.#recording.finish(message));
      return message;
    }
    this.#target.on('close', () => this.#endAll());
    this.#target.on('error', (error) => this.#log.debug(`target ${name}: ${error.message}`));
    if (this.#closing) return 'the connection closed';
    const login = this.#login;
    if (login.kind === 'key') {
      const { config } = this.#context;
      try {
        const reply = await requestLaunch({
          server: config.server,
          apiKey: config.apiKeyValue ?? '',
          user: login.user,
          target: login.target,
          protocol: 'ssh',
        });
        const recording = this.#newRecording(reply.sessionId, reply.token, reply.expiresAt);
        this.#recording = recording;
        const problem = await recording.open(this.#context.serverTimeoutMs ?? 15_000);
        if (problem) throw new LaunchError(`the Witness server did not accept the session: ${problem}`);
      } catch (error) {
        this.#target.end();
        if (!(error instanceof LaunchError)) throw error;
        const message = `the session cannot be recorded, so it is not opened: ${error.message}`;
        // A control socket still trying to connect stops here.
        if (this.#recording) this.#context.track(this.#recording, this.#recording.finish(message));
        return message;
      }
      if (this.#closing) {
        // The user left while the launch was under way: the session ends at once, with nothing recorded.
        this.#context.track(this.#recording, this.#recording.finish());
        return 'the connection closed';
      }
    }
    const recording = this.#recording as SessionRecording;
    recording.setHooks({
      message: (text) => this.#notify(`Message from administrator: ${text}`),
      terminate: (message) => this.#endAll(`Session terminated by administrator: ${message}`),
      ended: (reason) => this.#endAll(reason ? ENDED[reason] : 'Session ended by Witness'),
      fatal: (reason) => this.#endAll(`Witness cannot record this session any more (${reason}); closing it`),
    });
    this.#log.info(`${this.#peer}: recording session ${recording.session} to ${name}`);
    return { target: this.#target, recording };
  }

  #notify(text: string): void {
    for (const channel of this.#channels) channel.notify(text);
  }

  /** Shows `message` (if any) on every channel, then closes the user's connection and the target's. */
  #endAll(message?: string): void {
    if (this.#closing) return;
    this.#closing = true;
    if (message) this.#notify(message);
    for (const channel of this.#channels) channel.close();
    this.#target?.end();
    // Let the message and the channel closes reach the client before the connection goes.
    setTimeout(() => this.#client.end(), 200).unref();
  }

  async #closed(): Promise<void> {
    this.#closing = true;
    this.#target?.end();
    // Channels see their close first, so their last input is in the cast before it is closed.
    await new Promise((resolve) => setImmediate(resolve));
    const recording = this.#recording;
    if (recording) this.#context.track(recording, recording.finish());
  }
}

/** Connects to the target with its credentials; refuses a host key other than the pinned one. */
export function connectTarget(name: string, target: TargetConfig): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let refusal: string | null = null;
    client.once('ready', () => {
      client.setNoDelay(true);
      resolve(client);
    });
    client.once('error', (error) => reject(new Error(refusal ?? error.message)));
    client.connect({
      host: target.host,
      port: target.port,
      username: target.username,
      ...(target.privateKey ? { privateKey: readFileSync(target.privateKey), passphrase: target.passphrase } : {}),
      ...(target.password !== undefined ? { password: target.password } : {}),
      readyTimeout: 20_000,
      keepaliveInterval: 15_000,
      hostVerifier: (key: Buffer) => {
        const presented = fingerprint(key);
        if (sameFingerprint(presented, target.hostKey)) return true;
        refusal = `${name} presented the host key ${presented}, not the pinned ${target.hostKey}`;
        return false;
      },
    });
  });
}
