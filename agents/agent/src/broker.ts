/**
 * `witness-agent broker` — the root daemon that holds the agent key (docs/agent.md, "The broker"). Each
 * login's recorder runs as the user and connects to its unix socket (mode 0666: any account may ask); the
 * broker reads who connected from the kernel (SO_PEERCRED), asks Witness whether the host is recorded, and
 * launches a session for that user only, answering with the session's ingest token — never the key. It also
 * uploads what logins recorded to the spool while Witness could not be reached (flush.ts), when asked, at its
 * start, and every few minutes, retrying with backoff until nothing is left.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import { type BrokerReply, BrokerRequest, MAX_BROKER_LINE } from '../../../protocol/agent-broker.ts';
import { LaunchError, requestLaunch } from '../../launcher/src/launch.ts';
import type { Logger } from '../../launcher/src/log.ts';
import type { AgentConfig } from './config.ts';
import { flushOnce } from './flush.ts';
import { printableName } from './login.ts';
import { accountName, type PeerCredentials, peerCredentials } from './peer-credentials.ts';
import { askPolicy, cachedPolicy, keepPolicy } from './policy.ts';

/** A flush pass runs this often even when nobody asks (a login whose recorder died leaves a folder). */
const FLUSH_EVERY_MS = 5 * 60_000;
const RETRY_FIRST_MS = 2_000;
const RETRY_MAX_MS = 60_000;
/** A client that sends no full line in this time is dropped. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface BrokerOptions {
  config: AgentConfig;
  apiKey: string;
  log: Logger;
  version: string;
}

export interface Broker {
  /** Resolves once no flush pass runs any more. */
  close(): Promise<void>;
}

export async function startBroker(options: BrokerOptions): Promise<Broker> {
  const { config, log } = options;
  const flusher = new Flusher(options);
  const server = net.createServer((socket) => {
    void serve(socket, options, flusher).catch((error: unknown) => {
      log.warn(`broker: a request failed: ${(error as Error).message}`);
      socket.destroy();
    });
  });
  mkdirSync(dirname(config.brokerSocket), { recursive: true, mode: 0o755 });
  // A socket left by a broker that was killed: nobody listens on it any more (a live one would be refused).
  if (await answers(config.brokerSocket)) {
    throw new Error(`another witness-agent broker already listens on ${config.brokerSocket}`);
  }
  rmSync(config.brokerSocket, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.brokerSocket, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Every account connects; who they are comes from the kernel, not from the request.
  chmodSync(config.brokerSocket, 0o666);
  log.info(`broker: listening on ${config.brokerSocket} for ${config.host}'s logins (server ${config.server})`);
  flusher.start();
  return {
    async close() {
      await new Promise((resolve) => server.close(resolve));
      rmSync(config.brokerSocket, { force: true });
      await flusher.stop();
    },
  };
}

async function serve(socket: net.Socket, options: BrokerOptions, flusher: Flusher): Promise<void> {
  const line = await readLine(socket);
  const reply = (message: BrokerReply) => socket.end(`${JSON.stringify(message satisfies BrokerReply)}\n`);
  if (line === null) {
    reply({ type: 'refused', code: 'bad_request', message: 'send one JSON line' });
    return;
  }
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    json = undefined;
  }
  const request = BrokerRequest.safeParse(json);
  if (!request.success) {
    reply({ type: 'refused', code: 'bad_request', message: request.error.issues.map((i) => i.message).join('; ') });
    return;
  }
  if (request.data.type === 'flush') {
    flusher.asked();
    reply({ type: 'flushing' });
    return;
  }
  const peer = await peerCredentials(socket);
  reply(await launchFor(peer, request.data, options));
}

async function launchFor(
  peer: PeerCredentials,
  request: Extract<BrokerRequest, { type: 'login' }>,
  options: BrokerOptions,
): Promise<BrokerReply> {
  const { config, apiKey, log } = options;
  const account = await accountName(peer.uid);
  if (account === null) {
    return { type: 'refused', code: 'unknown_user', message: `uid ${peer.uid} has no account on this host` };
  }
  const user = printableName(account);
  if (request.user !== user) {
    log.warn(
      `broker: uid ${peer.uid} (${user}, pid ${peer.pid}) asked for a session as ${JSON.stringify(request.user)}`,
    );
    return {
      type: 'refused',
      code: 'wrong_user',
      message: `this process runs as ${user}: it cannot ask for a session of ${printableName(request.user)}`,
    };
  }
  const answer = await askPolicy(config, apiKey);
  if (answer.kind === 'answered') {
    keepPolicy(config.spoolDir, answer.reply);
    if (!answer.reply.record) return { type: 'not_recorded', rule: answer.reply.rule };
  } else if (answer.kind === 'unreachable') {
    return { type: 'offline', why: answer.why, policy: cachedPolicy(config.spoolDir) };
  }
  // A refused policy request is asked again as a launch, whose refusal says the same (or the launch works:
  // a server without the policy route).
  try {
    const launch = await requestLaunch({
      server: config.server,
      apiKey,
      user,
      target: config.host,
      protocol: request.protocol,
      format: 'asciicast',
      login: request.login,
    });
    log.info(`broker: session ${launch.sessionId} for ${user} (pid ${peer.pid}, ${request.login.tty ?? 'no tty'})`);
    return {
      type: 'launched',
      server: config.server,
      sessionId: launch.sessionId,
      token: launch.token,
      expiresAt: launch.expiresAt,
    };
  } catch (error) {
    const why = error instanceof LaunchError ? error.message : String(error);
    return { type: 'offline', why, policy: cachedPolicy(config.spoolDir) };
  }
}

/** The first line the client sends, or null (none in time, too long, or the client left). */
function readLine(socket: net.Socket): Promise<string | null> {
  return new Promise((resolve) => {
    let text = '';
    const done = (line: string | null) => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve(line);
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const end = text.indexOf('\n');
      if (end !== -1) done(text.slice(0, end));
      else if (text.length > MAX_BROKER_LINE) done(null);
    };
    const timer = setTimeout(() => done(null), REQUEST_TIMEOUT_MS);
    socket.on('data', onData);
    socket.once('end', () => done(null));
    socket.once('error', () => done(null));
  });
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** One flush pass at a time; after a pass that left something, another after a backoff. */
class Flusher {
  readonly #options: BrokerOptions;
  #running: Promise<void> | null = null;
  #again = false;
  #timer: NodeJS.Timeout | null = null;
  #delay = RETRY_FIRST_MS;
  #stopped = false;

  constructor(options: BrokerOptions) {
    this.#options = options;
  }

  start(): void {
    this.asked();
  }

  /** A login recorded offline has ended: try now (and again with backoff until it is uploaded). */
  asked(): void {
    this.#delay = RETRY_FIRST_MS;
    this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  #run(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    const { config, apiKey, log, version } = this.#options;
    this.#running = flushOnce(config, apiKey, log, version)
      .then(
        (result) => {
          for (const { dir, why } of result.left) log.warn(`${dir}: not uploaded yet: ${why}`);
          return result.left.length;
        },
        (error: unknown) => {
          log.warn(`broker: flush failed: ${(error as Error).message}`);
          return 1;
        },
      )
      .then((left) => {
        this.#running = null;
        if (this.#again) {
          this.#again = false;
          this.#run();
          return;
        }
        const delay = left > 0 ? this.#delay : FLUSH_EVERY_MS;
        if (left > 0) this.#delay = Math.min(this.#delay * 2, RETRY_MAX_MS);
        if (!this.#stopped) this.#timer = setTimeout(() => this.#run(), delay);
        this.#timer?.unref();
      });
  }
}
