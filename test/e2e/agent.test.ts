/**
 * witness-agent against the real server (`npm start`): Debian's sshd on a loopback port with the agent installed
 * into its own configuration, and the real `ssh` client logging in straight to it (not through the proxy).
 * The login is in Active marked as recorded by the agent, a live viewer gets its terminal, what was typed is
 * searchable, a process it started is in its activity, terminate closes it with the admin's message, the sealed
 * .cast replays what the client saw; a login while the server cannot be reached is uploaded, complete, once it
 * is back; uninstall leaves that sshd configuration as it was. Needs root (sshd's privilege separation; CI runs
 * as root).
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { parseCast } from '../../protocol/asciicast.ts';
import { decodeMediaFrame } from '../../protocol/viewer.ts';
import { type AgentHost, runAgent, startAgentHost } from '../unit/agent/agent-host.ts';
import { waitFor } from '../support/wait-for.ts';
import { launchChromium, openConsole, screenshot, signIn } from './console.ts';
import { adminPassword, api, apiKey, baseUrl, session } from './helpers.ts';

const marker = `ag${Math.random().toString(36).slice(2, 10)}`;
const HOST = `agent-e2e-${marker}`;

async function json<T>(pathname: string, init?: RequestInit): Promise<T> {
  const res = await api(pathname, init);
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${pathname}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<T>;
}

async function agentKey(host: string): Promise<string> {
  const { secret } = await json<{ secret: string }>('/keys', {
    method: 'POST',
    body: JSON.stringify({ name: `witness-agent ${host}`, scopes: ['agent'], host }),
  });
  return secret;
}

interface Listed {
  id: string;
  origin: string;
  status: string;
}

/** The newest session on `target` that is not in `notIn`. */
async function newSession(target: string, notIn: Set<string>): Promise<Listed> {
  return waitFor('the agent to launch a session', async () => {
    const { sessions } = await json<{ sessions: Listed[] }>(`/sessions?target=${encodeURIComponent(target)}`);
    return sessions.find((s) => !notIn.has(s.id));
  });
}

async function sessionIds(target: string): Promise<Set<string>> {
  const { sessions } = await json<{ sessions: Listed[] }>(`/sessions?target=${encodeURIComponent(target)}`);
  return new Set(sessions.map((s) => s.id));
}

async function sealed(id: string) {
  return waitFor(
    'the recording to be sealed',
    async () => {
      const view = await session(id);
      return view.status === 'ended' && view.recording.status === 'ready' && view;
    },
    { timeoutMs: 90_000 },
  );
}

/** Watches a terminal session live; `text()` is the terminal output its media frames carried. */
function watchTerminal(id: string) {
  const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/api/v1/sessions/${id}/live`, {
    headers: { authorization: `Bearer ${apiKey}` },
  });
  let cast = '';
  ws.on('message', (data, isBinary) => {
    if (!isBinary) return;
    cast += new TextDecoder().decode(decodeMediaFrame(new Uint8Array(data as Buffer)).media);
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`live socket refused: ${res.statusCode}`)));
  });
  /** The `o` data of the event lines received (the header line, if any, is skipped). */
  const text = () =>
    cast
      .split('\n')
      .filter((line) => line.startsWith('['))
      .map((line) => JSON.parse(line) as [number, string, string])
      .filter(([, code]) => code === 'o')
      .map(([, , data]) => data)
      .join('');
  return { opened, text, close: () => ws.close() };
}

describe('witness-agent end to end', () => {
  let host: AgentHost;

  beforeAll(async () => {
    host = await startAgentHost({ server: baseUrl, apiKey: await agentKey(HOST), host: HOST });
  });

  afterAll(async () => {
    await host?.stop();
  });

  test('a direct SSH login: Active as agent-recorded, watched live, searchable, its processes, sealed .cast', async () => {
    const before = await sessionIds(HOST);
    const client = await host.shell();
    client.type(`PS1='$ '; echo first-$((2+3))-${marker}\n`);
    await client.waitFor(`first-5-${marker}`);
    const listed = await newSession(HOST, before);
    expect(listed.origin).toBe('agent');
    const active = await json<{ sessions: Listed[] }>(`/sessions?status=active&target=${HOST}`);
    expect(active.sessions.find((s) => s.id === listed.id)?.origin).toBe('agent');
    const view = await json<{ agentLogin: { tty: string | null; remoteAddress: string | null }; protocol: string }>(
      `/sessions/${listed.id}`,
    );
    expect(view.protocol).toBe('ssh');
    expect(view.agentLogin.remoteAddress).toBe('127.0.0.1');
    expect(view.agentLogin.tty).toMatch(/^\/dev\/pts\/\d+$/);

    const viewer = watchTerminal(listed.id);
    await viewer.opened;
    client.type(`sleep 1.5; echo live-$((6*7))-${marker}\n`);
    await client.waitFor(`live-42-${marker}`);
    await waitFor('the viewer to receive the output', () => viewer.text().includes(`live-42-${marker}`), {
      timeoutMs: 20_000,
      detail: () => viewer.text().slice(-300),
    });
    viewer.close();
    client.type('exit\n');
    expect(await client.exited).toBe(0);

    const ended = await sealed(listed.id);
    expect(ended.endReason).toBe('ended_by_user');
    expect(ended.recording.missingPieces).toEqual([]);
    const { header, events } = parseCast(await (await api(`/sessions/${listed.id}/recording.cast`)).text());
    expect(header.version).toBe(2);
    const output = events
      .filter(([, code]) => code === 'o')
      .map(([, , data]) => data)
      .join('');
    expect(output).toBe(client.stdout());

    const search = await json<{ sessions: { id: string; matches: { type: string }[] }[] }>(
      `/sessions?q=${marker}&in=ssh`,
    );
    expect(search.sessions.find((s) => s.id === listed.id)?.matches.length).toBeGreaterThan(0);
    const commands = await json<{ events: { type: string; text: string }[] }>(
      `/sessions/${listed.id}/activity?q=${marker}&type=ssh.command`,
    );
    expect(commands.events.map((e) => e.text)).toEqual([
      `PS1='$ '; echo first-$((2+3))-${marker}`,
      `sleep 1.5; echo live-$((6*7))-${marker}`,
    ]);
    // The activity API shows a process's command line as its `text`.
    const processes = await json<{ events: { type: string; path: string; text: string; user: string }[] }>(
      `/sessions/${listed.id}/activity?type=process.start`,
    );
    expect(processes.events.find((e) => e.text === 'sleep 1.5')).toMatchObject({ path: '/usr/bin/sleep' });
  });

  test('the console lists the live login marked as recorded by the agent', async () => {
    const before = await sessionIds(HOST);
    const client = await host.shell();
    client.type(`echo console-$((3+4))\n`);
    await client.waitFor('console-7');
    const listed = await newSession(HOST, before);
    const browser = await launchChromium();
    try {
      const tab = await openConsole(browser);
      await signIn(tab.page, 'admin', adminPassword);
      await tab.page.goto(`${baseUrl}/#/sessions?status=active&target=${encodeURIComponent(HOST)}`);
      const row = tab.page.locator('tbody', { hasText: HOST }).first();
      await row.getByText('recorded by agent (not launched)').waitFor();
      expect(await row.locator('.badge.agent').count()).toBe(1);
      await screenshot(tab.page, 'agent-session-listed');
      expect(tab.problems).toEqual([]);
    } finally {
      await browser.close();
    }
    client.type('exit\n');
    expect(await client.exited).toBe(0);
    await sealed(listed.id);
  });

  test('terminate closes the login with the admin message on its terminal', async () => {
    const before = await sessionIds(HOST);
    const client = await host.shell();
    client.type(`echo up-$((1+2))\n`);
    await client.waitFor('up-3');
    const listed = await newSession(HOST, before);
    await waitFor('the session to be active', async () => (await session(listed.id)).status === 'active');
    const reply = await json<{ delivered: boolean }>(`/sessions/${listed.id}/terminate`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'terminate', message: `agent goodbye ${marker}` }),
    });
    expect(reply.delivered).toBe(true);
    expect(await client.exited).not.toBe(0);
    expect(client.stdout()).toContain(`*** Session terminated by administrator: agent goodbye ${marker} ***`);
    const ended = await sealed(listed.id);
    expect(ended.endReason).toBe('terminated_by_admin');
    expect(await (await api(`/sessions/${listed.id}/recording.cast`)).text()).toContain(`agent goodbye ${marker}`);
  });
});

/** A TCP relay to the server that can be stopped and started again on the same port: "the server is down". */
async function relayToServer() {
  const target = new URL(baseUrl);
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  const start = (port: number) =>
    new Promise<number>((resolve) => {
      const listening = net.createServer((client) => {
        const upstream = net.connect(Number(target.port), target.hostname);
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const done = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', done).on('close', done);
        upstream.on('error', done).on('close', done);
      });
      server = listening;
      listening.listen(port, '127.0.0.1', () => resolve((listening.address() as net.AddressInfo).port));
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      if (!server) return resolve();
      server.close(() => resolve());
    });
  return { start, stop };
}

describe('witness-agent while the server cannot be reached', () => {
  test('a login is recorded to the spool and appears complete once the server is back', async () => {
    const offlineHost = `${HOST}-offline`;
    const relay = await relayToServer();
    const port = await relay.start(0);
    const host = await startAgentHost({
      server: `http://127.0.0.1:${port}`,
      apiKey: await agentKey(offlineHost),
      host: offlineHost,
    });
    try {
      await relay.stop();
      const client = await host.shell();
      client.type(`echo offline-$((40+2))-${marker}\n`);
      await client.waitFor(`offline-42-${marker}`);
      client.type('exit\n');
      expect(await client.exited).toBe(0);
      expect((await sessionIds(offlineHost)).size).toBe(0);
      await relay.start(port);
      const listed = await waitFor(
        'the offline login to reach the server',
        async () => (await json<{ sessions: Listed[] }>(`/sessions?target=${offlineHost}`)).sessions[0],
        { timeoutMs: 60_000, detail: () => host.log() },
      );
      expect(listed.origin).toBe('agent');
      const ended = await sealed(listed.id);
      expect(ended.recording.missingPieces).toEqual([]);
      const cast = await (await api(`/sessions/${listed.id}/recording.cast`)).text();
      expect(
        parseCast(cast)
          .events.filter(([, code]) => code === 'o')
          .map(([, , data]) => data)
          .join(''),
      ).toBe(client.stdout());
    } finally {
      await relay.stop();
      await host.stop();
    }
  });

  test('uninstall leaves that sshd configuration as it was', async () => {
    const other = await startAgentHost({ server: baseUrl, apiKey: await agentKey(`${HOST}-u`), host: `${HOST}-u` });
    try {
      const result = await runAgent([
        'uninstall',
        '--config',
        other.configPath,
        '--sshd-config',
        other.sshdConfig,
        '--systemd-unit',
        other.systemdUnit,
      ]);
      expect(result.code).toBe(0);
      expect(readFileSync(other.sshdConfig, 'utf8')).toBe(other.sshdConfigBefore);
    } finally {
      await other.stop();
    }
  });
});
