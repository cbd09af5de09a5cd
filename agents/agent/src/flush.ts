/**
 * `witness-agent flush` — uploads the logins recorded while Witness could not be reached (offline.ts): for
 * each finished `pending-*` folder in the spool, asks for the session (the agent key), opens its control
 * socket, uploads every spooled piece and activity batch with the launcher's uploaders (acknowledged only
 * when stored, retried with backoff), sends `end`, and removes the folder only when everything is stored.
 * A folder another flush is working on (its lock file names a live process) is left to it. It runs as root
 * (the broker, or `witness-agent flush`): the user a folder is uploaded as is its owner's account, not what
 * its `login.json` (written by the user's recorder) says, and its target is this host.
 */
import { closeSync, openSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PIECE_CONTENT_TYPE } from '../../../protocol/ingest.ts';
import { PROTOCOL_VERSION } from '../../../protocol/version.ts';
import { eventBatchUploader } from '../../launcher/src/activity-log.ts';
import { ControlChannel } from '../../launcher/src/control.ts';
import { requestLaunch } from '../../launcher/src/launch.ts';
import type { Logger } from '../../launcher/src/log.ts';
import { EventSpool } from '../../launcher/src/spool.ts';
import { IngestToken } from '../../launcher/src/token.ts';
import { PieceUploader } from '../../launcher/src/uploader.ts';
import { CastSpool } from '../../ssh-proxy/src/cast-spool.ts';
import { thisHost } from '../../shared/host.ts';
import type { AgentConfig } from './config.ts';
import { printableName } from './login.ts';
import { LOGIN_FILE, PENDING_PREFIX, PendingLogin } from './offline.ts';
import { accountName } from './peer-credentials.ts';

const LOCK_FILE = 'flush.lock';
/** How long one folder's uploads are tried in one pass. */
const UPLOAD_TIMEOUT_MS = 5 * 60_000;

export interface FlushResult {
  uploaded: string[];
  /** Folders left for a later pass, with why. */
  left: { dir: string; why: string }[];
}

/** The finished offline recordings in the spool. */
export function pendingDirs(spoolDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(spoolDir);
  } catch {
    return [];
  }
  return names.filter((name) => name.startsWith(PENDING_PREFIX)).map((name) => join(spoolDir, name));
}

/** One pass over the spool. */
export async function flushOnce(
  config: AgentConfig,
  apiKey: string,
  log: Logger,
  version: string,
): Promise<FlushResult> {
  const result: FlushResult = { uploaded: [], left: [] };
  for (const dir of pendingDirs(config.spoolDir)) {
    let meta: PendingLogin;
    try {
      meta = PendingLogin.parse(JSON.parse(readFileSync(join(dir, LOGIN_FILE), 'utf8')));
    } catch (error) {
      result.left.push({ dir, why: `cannot read ${LOGIN_FILE}: ${(error as Error).message}` });
      continue;
    }
    if (!meta.finished && alive(meta.pid)) {
      result.left.push({ dir, why: 'the login is still being recorded' });
      continue;
    }
    const unlock = lock(dir);
    if (!unlock) {
      result.left.push({ dir, why: 'another witness-agent flush is uploading it' });
      continue;
    }
    try {
      const why = await uploadPending(config, apiKey, dir, await ownedBy(dir, meta, log), log, version);
      if (why === null) result.uploaded.push(dir);
      else result.left.push({ dir, why });
    } finally {
      unlock();
    }
  }
  return result;
}

/** Uploads one offline recording; null when all of it is stored (and the folder is gone), else why not. */
async function uploadPending(
  config: AgentConfig,
  apiKey: string,
  dir: string,
  meta: PendingLogin,
  log: Logger,
  version: string,
): Promise<string | null> {
  const spool = new CastSpool(dir, 0);
  const events = new EventSpool(dir);
  const pieces = spool.list();
  const batches = events.list();
  // A recorder that died before it finished: what it spooled is the recording, up to its last piece.
  const lastSeq = meta.finished ? meta.lastSeq : (pieces.at(-1)?.seq ?? null);
  if (!meta.finished) log.warn(`${dir}: its recorder (pid ${meta.pid}) ended before finishing; uploading what it kept`);
  let launch: Awaited<ReturnType<typeof requestLaunch>>;
  try {
    launch = await requestLaunch({
      server: config.server,
      apiKey,
      user: meta.user,
      target: config.host,
      protocol: meta.protocol,
      format: 'asciicast',
      login: meta.login,
    });
  } catch (error) {
    return (error as Error).message;
  }
  const session = launch.sessionId;
  log.info(`session ${session}: uploading the login recorded offline in ${dir} (${meta.why})`);
  const token = new IngestToken(launch.token, launch.expiresAt);
  let control: ControlChannel | null = null;
  const common = { server: config.server, session, token, log, onTokenRejected: () => control?.renewNow() };
  const uploader = new PieceUploader({ ...common, spool, contentType: PIECE_CONTENT_TYPE.asciicast });
  const eventUploader = eventBatchUploader({ ...common, spool: events });
  let over: string | null = null;
  const channel = new ControlChannel({
    server: config.server,
    session,
    token,
    log,
    hello: {
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      launcher: { name: 'witness-agent', version, platform: `${process.platform}-${process.arch}` },
      reportsActivity: false,
      ...(thisHost() && { host: thisHost() }),
    },
    handlers: {
      welcome: (message) => uploader.markStored(message.storedSeqs),
      // The login is over already: a message or terminate has no terminal to reach.
      message: (message) => channel.send({ type: 'delivered', id: message.id }, true),
      terminate: (message) => channel.send({ type: 'delivered', id: message.id }, true),
      ended: (reason) => {
        over = `the server ended the session (${reason ?? 'closed'})`;
      },
      fatal: (reason) => {
        over = reason;
      },
    },
  });
  control = channel;
  channel.start();
  const deadline = Date.now() + UPLOAD_TIMEOUT_MS;
  if (!(await channel.whenReady(UPLOAD_TIMEOUT_MS))) {
    await channel.close();
    return `session ${session}: the control socket did not open${over ? ` (${over})` : ''}`;
  }
  for (const piece of pieces) uploader.add(piece);
  for (const batch of batches) {
    const body = events.read(batch);
    const count = (JSON.parse(body.toString('utf8')) as { events: unknown[] }).events.length;
    eventUploader.add({ batch, events: count, size: body.byteLength });
  }
  await Promise.all([uploader.whenIdle(deadline), eventUploader.whenIdle(deadline)]);
  const left =
    uploader.pending.length + uploader.refused.size + eventUploader.pending.length + eventUploader.refused.size;
  if (left === 0) {
    channel.send({
      type: 'end',
      lastSeq,
      ...(!meta.finished && { error: 'witness-agent stopped before the login ended; recorded up to here' }),
    });
  }
  await channel.close();
  uploader.stop();
  eventUploader.stop();
  if (left > 0) {
    return `session ${session}: ${left} piece(s) or batch(es) not stored yet; they stay in ${dir}`;
  }
  rmSync(dir, { recursive: true, force: true });
  log.info(`session ${session}: ${pieces.length} piece(s) and ${batches.length} batch(es) uploaded`);
  return null;
}

/**
 * The login as its folder's owner recorded it: a user's recorder can write any name into login.json, so the
 * name is the owner's account (root's folders keep theirs: root may record as anyone anyway).
 */
async function ownedBy(dir: string, meta: PendingLogin, log: Logger): Promise<PendingLogin> {
  const uid = statSync(dir).uid;
  if (uid === 0) return meta;
  const account = await accountName(uid);
  const user = account === null ? `uid ${uid}` : printableName(account);
  if (user !== meta.user)
    log.warn(`${dir}: says it is ${JSON.stringify(meta.user)}'s login but ${user} owns it: uploaded as ${user}`);
  return { ...meta, user };
}

/** Takes the folder's lock (a file naming this process); a lock whose process is gone is taken over. */
function lock(dir: string): (() => void) | null {
  const file = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      // The folder itself is gone once everything is stored: then so is the lock.
      return () => rmSync(file, { force: true });
    } catch {
      const holder = Number(readFileSync(file, 'utf8').trim());
      if (holder > 0 && alive(holder)) return null;
      unlinkSync(file);
    }
  }
  return null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
