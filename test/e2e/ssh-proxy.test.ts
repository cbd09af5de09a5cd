/**
 * The SSH proxy against the real server (`npm start`): a real sshd, the proxy's CLI, the OpenSSH client.
 * Commands typed are searchable at their offsets, recording.cast replays what the client saw, terminate ends
 * the client with the admin's message on its terminal.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseCast } from '../../protocol/asciicast.ts';
import { api, session } from './helpers.ts';
import { type RunningProxy, startProxy } from './ssh-proxy-cli.ts';
import { waitFor } from '../support/wait-for.ts';

const marker = `zq${Math.random().toString(36).slice(2, 10)}`;

async function json<T>(pathname: string, init?: RequestInit): Promise<T> {
  const res = await api(pathname, init);
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${pathname}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<T>;
}

/** The newest session for the target, once the proxy launched it. */
async function newestSession(target: string, notIn: Set<string>): Promise<string> {
  return waitFor('the proxy to launch a session', async () => {
    const { sessions } = await json<{ sessions: { id: string }[] }>(`/sessions?target=${target}`);
    return sessions.find((s) => !notIn.has(s.id))?.id;
  });
}

describe('SSH proxy end to end', () => {
  let proxy: RunningProxy;

  beforeAll(async () => {
    proxy = await startProxy('alice', 'db-e2e');
  });

  afterAll(async () => {
    await proxy?.stop();
  });

  test('commands typed are found at their offsets; recording.cast replays what the client saw', async () => {
    const before = new Set(
      (await json<{ sessions: { id: string }[] }>('/sessions?target=db-e2e')).sessions.map((s) => s.id),
    );
    const client = proxy.login(['-tt']);
    client.type(`PS1='$ '; echo first-$((2+3))-${marker}\r`);
    await client.waitFor(`first-5-${marker}`);
    // A fixed pause, kept on purpose: the pause is the input under test (the second command must be found
    // at least 2.4 s after the first), and nothing in the system marks 2.5 s passing.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    client.type(`echo $((6*7))-${marker}-second\r`);
    await client.waitFor(`42-${marker}-second`);
    client.type('exit\r');
    expect(await client.exited).toBe(0);
    const id = await newestSession('db-e2e', before);

    const ended = await waitFor(
      'the recording to be sealed',
      async () => {
        const view = await session(id);
        return view.status === 'ended' && view.recording.status === 'ready' && view;
      },
      { timeoutMs: 90_000 },
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

  test('a secret typed on a command line is in neither the cast, the transcript, the activity nor search', async () => {
    const before = new Set(
      (await json<{ sessions: { id: string }[] }>('/sessions?target=db-e2e')).sessions.map((s) => s.id),
    );
    const secret = `Pw${marker}9`;
    const client = proxy.login(['-tt']);
    client.type("PS1='$ '; echo ready-$((5+5))\r");
    await client.waitFor('ready-10');
    // Key by key, each echoed before the next, as a person types.
    const line = `mysql -p${secret} -e status; echo done-$((1+1))`;
    for (let i = 0; i < line.length; i++) {
      client.type(line[i] as string);
      await client.waitFor(new RegExp(`${line.slice(0, i + 1).replace(/[$()+]/g, '\\$&')}$`));
    }
    client.type('\r');
    await client.waitFor('done-2');
    client.type('exit\r');
    expect(await client.exited).toBe(0);
    const id = await newestSession('db-e2e', before);
    await waitFor('the recording to be sealed', async () => (await session(id)).recording.status === 'ready', {
      timeoutMs: 90_000,
    });

    const cast = await (await api(`/sessions/${id}/recording.cast`)).text();
    expect(cast).not.toContain(secret);
    const { events } = parseCast(cast);
    const data = (code: string) =>
      events
        .filter(([, c]) => c === code)
        .map(([, , d]) => d)
        .join('');
    expect(data('i')).toContain('mysql -p<redacted:password> -e status; echo done-$((1+1))\r');
    expect(data('o')).toContain('mysql -p<redacted:password> -e status; echo done-$((1+1))');
    expect(data('o')).toBe(client.stdout().replaceAll(secret, '<redacted:password>'));

    const view = await json<{ recordingRedactions: Record<string, number>; redactions: Record<string, number> }>(
      `/sessions/${id}`,
    );
    // One marker in the input, one in the echo; and the activity's own.
    expect(view.recordingRedactions).toEqual({ password: 2 });
    expect(view.redactions.password).toBeGreaterThan(0);
    const transcript = await (await api(`/sessions/${id}/transcript.txt`)).text();
    expect(transcript).toContain('>>> ');
    expect(transcript).toContain('input: mysql -p<redacted:password> -e status; echo done-$((1+1))');
    expect(transcript).not.toContain(secret);

    for (const query of [`/sessions/${id}/activity?q=${secret}`, `/sessions/${id}/activity`]) {
      expect(JSON.stringify(await json(query))).not.toContain(secret);
    }
    const search = await json<{ sessions: { id: string }[] }>(`/sessions?q=${secret}&in=ssh`);
    expect(search.sessions.map((s) => s.id)).not.toContain(id);
    // The command is found by what is left of it.
    const found = await json<{ events: { type: string; text: string }[] }>(`/sessions/${id}/activity?q=mysql`);
    expect(found.events.filter((e) => e.type === 'ssh.command').map((e) => e.text)).toEqual([
      'mysql -p<redacted:password> -e status; echo done-$((1+1))',
    ]);
  });

  test('terminate ends the ssh client with the message on its terminal', async () => {
    const before = new Set(
      (await json<{ sessions: { id: string }[] }>('/sessions?target=db-e2e')).sessions.map((s) => s.id),
    );
    const client = proxy.login(['-tt']);
    client.type(`echo live-$((1+2))\r`);
    await client.waitFor('live-3');
    const id = await newestSession('db-e2e', before);
    await waitFor('the session to be active', async () => (await session(id)).status === 'active');
    const reply = await json<{ delivered: boolean }>(`/sessions/${id}/terminate`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'terminate', message: `e2e goodbye ${marker}` }),
    });
    expect(reply.delivered).toBe(true);
    expect(await client.exited).not.toBe(0);
    expect(client.stdout()).toContain(`*** Session terminated by administrator: e2e goodbye ${marker} ***`);
    const ended = await waitFor(
      'the recording to be sealed',
      async () => {
        const view = await session(id);
        return view.status === 'ended' && view.recording.status === 'ready' && view;
      },
      { timeoutMs: 90_000 },
    );
    expect(ended.endReason).toBe('terminated_by_admin');
    const cast = await (await api(`/sessions/${id}/recording.cast`)).text();
    expect(cast).toContain(`e2e goodbye ${marker}`);
  });
});
