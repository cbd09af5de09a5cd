/**
 * The SSH proxy against the real server (`npm start`): a real sshd, the proxy's CLI, the OpenSSH client.
 * Commands typed are searchable at their offsets, recording.cast replays what the client saw, terminate ends
 * the client with the admin's message on its terminal.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PROXY_NODE_FLAGS } from '../../agents/ssh-proxy/src/node-flags.ts';
import { parseCast } from '../../protocol/asciicast.ts';
import { keygen, type Sshd, ssh, sshOptions, startSshd } from '../unit/ssh/openssh.ts';
import { api, apiKey, baseUrl, root, session, waitUntil } from './helpers.ts';

const marker = `zq${Math.random().toString(36).slice(2, 10)}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function json<T>(pathname: string, init?: RequestInit): Promise<T> {
  const res = await api(pathname, init);
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${pathname}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<T>;
}

/** The newest session for the target, once the proxy launched it. */
async function newestSession(target: string, notIn: Set<string>): Promise<string> {
  return waitUntil('the proxy to launch a session', async () => {
    const { sessions } = await json<{ sessions: { id: string }[] }>(`/sessions?target=${target}`);
    return sessions.find((s) => !notIn.has(s.id))?.id;
  });
}

describe('SSH proxy end to end', () => {
  let sshd: Sshd;
  let proxy: ChildProcess;
  let proxyOutput = '';
  let port = 0;
  let dir = '';
  let aliceKey = '';

  beforeAll(async () => {
    sshd = await startSshd();
    dir = mkdtempSync(path.join(tmpdir(), 'witness-e2e-ssh-proxy-'));
    const alice = keygen(path.join(dir, 'alice'), 'alice@e2e');
    aliceKey = alice.path;
    const config = path.join(dir, 'ssh-proxy.json');
    writeFileSync(
      config,
      JSON.stringify({
        listen: { host: '127.0.0.1', port: 0 },
        server: baseUrl,
        apiKeyEnv: 'E2E_WITNESS_API_KEY',
        hostKey: './host-key',
        spoolDir: './spool',
        users: { alice: { authorizedKeys: [alice.publicKey], targets: ['db-e2e'] } },
        targets: {
          'db-e2e': {
            host: '127.0.0.1',
            port: sshd.port,
            username: sshd.username,
            privateKey: sshd.clientKey.path,
            hostKey: sshd.hostKey.fingerprint,
          },
        },
      }),
    );
    const cli = path.join(root, 'agents/ssh-proxy/bin/witness-ssh-proxy.mjs');
    await new Promise<void>((resolve, reject) => {
      const init = spawn(process.execPath, [cli, '--config', config, '--init'], { stdio: 'ignore' });
      init.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`--init exited ${code}`))));
    });
    proxy = spawn(process.execPath, [...PROXY_NODE_FLAGS, cli, '--config', config, '--verbose'], {
      env: { ...process.env, E2E_WITNESS_API_KEY: apiKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proxy.stderr?.on('data', (d: Buffer) => (proxyOutput += d));
    port = await new Promise<number>((resolve, reject) => {
      let out = '';
      proxy.stdout?.on('data', (d: Buffer) => {
        out += d;
        const match = /listening (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      proxy.once('exit', () => reject(new Error(`the proxy exited:\n${proxyOutput}`)));
    });
  });

  afterAll(async () => {
    if (proxy && proxy.exitCode === null) {
      const exited = new Promise((resolve) => proxy.once('exit', resolve));
      proxy.kill('SIGTERM');
      await exited;
    }
    await sshd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('commands typed are found at their offsets; recording.cast replays what the client saw', async () => {
    const before = new Set(
      (await json<{ sessions: { id: string }[] }>('/sessions?target=db-e2e')).sessions.map((s) => s.id),
    );
    const client = ssh([...sshOptions(port, aliceKey), '-tt', 'alice+db-e2e@127.0.0.1']);
    client.type(`PS1='$ '; echo first-$((2+3))-${marker}\r`);
    await client.waitFor(`first-5-${marker}`);
    await sleep(2_500);
    client.type(`echo $((6*7))-${marker}-second\r`);
    await client.waitFor(`42-${marker}-second`);
    client.type('exit\r');
    expect(await client.exited).toBe(0);
    const id = await newestSession('db-e2e', before);

    const ended = await waitUntil(
      'the recording to be sealed',
      async () => {
        const view = await session(id);
        return view.status === 'ended' && view.recording.status === 'ready' && view;
      },
      90_000,
    );
    expect(ended.endReason).toBe('ended_by_user');
    expect(ended.recording.missingPieces).toEqual([]);

    const res = await api(`/sessions/${id}/recording.cast`);
    expect(res.status).toBe(200);
    const { header, events } = parseCast(await res.text());
    expect(header.version).toBe(2);
    expect(
      events
        .filter(([, code]) => code === 'o')
        .map(([, , data]) => data)
        .join(''),
    ).toBe(client.stdout());
    const typedAt = (text: string) =>
      Math.round(((events.find(([, code, data]) => code === 'i' && data.includes(text)) ?? [-1])[0] as number) * 1000);

    const found = await json<{ events: { type: string; offsetMs: number; text: string }[] }>(
      `/sessions/${id}/activity?q=${marker}`,
    );
    const commands = found.events.filter((e) => e.type === 'ssh.command');
    expect(commands.map((e) => e.text)).toEqual([
      `PS1='$ '; echo first-$((2+3))-${marker}`,
      `echo $((6*7))-${marker}-second`,
    ]);
    expect(commands[0]?.offsetMs).toBe(typedAt(`first-$((2+3))-${marker}`));
    expect(commands[1]?.offsetMs).toBe(typedAt(`-second`));
    expect((commands[1]?.offsetMs ?? 0) - (commands[0]?.offsetMs ?? 0)).toBeGreaterThanOrEqual(2_400);

    const search = await json<{ sessions: { id: string; matches: { type: string; offsetMs: number }[] }[] }>(
      `/sessions?q=${marker}&in=ssh`,
    );
    const hit = search.sessions.find((s) => s.id === id);
    expect(hit?.matches.length).toBeGreaterThan(0);
  });

  test('terminate ends the ssh client with the message on its terminal', async () => {
    const before = new Set(
      (await json<{ sessions: { id: string }[] }>('/sessions?target=db-e2e')).sessions.map((s) => s.id),
    );
    const client = ssh([...sshOptions(port, aliceKey), '-tt', 'alice+db-e2e@127.0.0.1']);
    client.type(`echo live-$((1+2))\r`);
    await client.waitFor('live-3');
    const id = await newestSession('db-e2e', before);
    await waitUntil('the session to be active', async () => (await session(id)).status === 'active');
    const reply = await json<{ delivered: boolean }>(`/sessions/${id}/terminate`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'terminate', message: `e2e goodbye ${marker}` }),
    });
    expect(reply.delivered).toBe(true);
    expect(await client.exited).not.toBe(0);
    expect(client.stdout()).toContain(`*** Session terminated by administrator: e2e goodbye ${marker} ***`);
    const ended = await waitUntil(
      'the recording to be sealed',
      async () => {
        const view = await session(id);
        return view.status === 'ended' && view.recording.status === 'ready' && view;
      },
      90_000,
    );
    expect(ended.endReason).toBe('terminated_by_admin');
    const cast = await (await api(`/sessions/${id}/recording.cast`)).text();
    expect(cast).toContain(`e2e goodbye ${marker}`);
  });
});
