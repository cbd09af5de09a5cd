/**
 * Sessions recorded by witness-agent: an agent key (bound to its host) launches them with the login it found;
 * they are stored as `origin: agent` with that login and shown so in the session API and list.
 */
import { describe, expect, it } from 'vitest';
import { api, errorCode } from './helpers.ts';

async function agentKey(host: string): Promise<string> {
  const res = await api('/keys', {
    method: 'POST',
    body: JSON.stringify({ name: `agent-${host}`, scopes: ['agent'], host }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { secret: string }).secret;
}

function launchWith(key: string, body: Record<string, unknown>): Promise<Response> {
  return api('/launches', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
}

describe('agent-recorded sessions', () => {
  it('an agent key launches a session marked as recorded by the agent, with its login', async () => {
    const key = await agentKey('db-agent-01');
    const res = await launchWith(key, {
      user: 'root',
      target: 'db-agent-01',
      protocol: 'ssh',
      login: { tty: '/dev/pts/3', remoteAddress: '192.0.2.7' },
    });
    expect(res.status).toBe(201);
    const { sessionId, format } = (await res.json()) as { sessionId: string; format: string };
    expect(format).toBe('asciicast');
    const session = (await (await api(`/sessions/${sessionId}`)).json()) as Record<string, unknown>;
    expect(session).toMatchObject({
      origin: 'agent',
      agentLogin: { tty: '/dev/pts/3', remoteAddress: '192.0.2.7' },
      protocol: 'ssh',
      target: 'db-agent-01',
    });
    const list = (await (await api('/sessions?target=db-agent-01')).json()) as {
      sessions: { id: string; origin: string }[];
    };
    expect(list.sessions.find((s) => s.id === sessionId)?.origin).toBe('agent');
    const audit = (await (await api(`/audit?action=session.launched&target=${sessionId}`)).json()) as {
      entries: { details: Record<string, unknown> }[];
    };
    expect(audit.entries).toHaveLength(1);
    expect(audit.entries[0]?.details).toMatchObject({ origin: 'agent', login: { tty: '/dev/pts/3' } });
  });

  it('a console login is a terminal recording too', async () => {
    const key = await agentKey('console-host');
    const res = await launchWith(key, {
      user: 'operator',
      target: 'console-host',
      protocol: 'console',
      login: { tty: '/dev/tty1', remoteAddress: null },
    });
    expect(res.status).toBe(201);
    const { sessionId, format } = (await res.json()) as { sessionId: string; format: string };
    expect(format).toBe('asciicast');
    const session = (await (await api(`/sessions/${sessionId}`)).json()) as Record<string, unknown>;
    expect(session).toMatchObject({ protocol: 'console', origin: 'agent', agentLogin: { tty: '/dev/tty1' } });
  });

  it('a launched session says so', async () => {
    const res = await api('/launches', { method: 'POST', body: JSON.stringify({ user: 'alice', target: 'web-01' }) });
    const { sessionId } = (await res.json()) as { sessionId: string };
    const session = (await (await api(`/sessions/${sessionId}`)).json()) as Record<string, unknown>;
    expect(session).toMatchObject({ origin: 'launched', agentLogin: null });
  });

  it('refuses a login from a key that is not an agent key, and a host key used for another host', async () => {
    const notAgent = await api('/launches', {
      method: 'POST',
      body: JSON.stringify({ user: 'alice', target: 'web-01', login: { tty: null, remoteAddress: null } }),
    });
    expect(notAgent.status).toBe(400);
    expect(await errorCode(notAgent)).toBe('login_needs_agent_key');
    const key = await agentKey('host-a');
    const elsewhere = await launchWith(key, { user: 'root', target: 'host-b', protocol: 'ssh' });
    expect(elsewhere.status).toBe(403);
    expect(await errorCode(elsewhere)).toBe('wrong_host');
  });

  it('refuses a user or tty with control characters, or one too long, with a 400 naming the field', async () => {
    const key = await agentKey('host-c');
    const cases: Record<string, unknown>[] = [
      { user: 'ro\u001b[2Jot', target: 'host-c', protocol: 'ssh' },
      { user: 'x'.repeat(201), target: 'host-c', protocol: 'ssh' },
      { user: 'root', target: 'host-c', protocol: 'ssh', login: { tty: '/dev/pts/1\n', remoteAddress: null } },
      {
        user: 'root',
        target: 'host-c',
        protocol: 'ssh',
        login: { tty: `/dev/${'p'.repeat(80)}`, remoteAddress: null },
      },
    ];
    for (const body of cases) {
      const res = await launchWith(key, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const error = (await res.json()) as { error: { code: string; message: string } };
      expect(error.error.code).toBe('invalid_json');
    }
  });
});

describe('the agent policy: record all sessions, per host pattern', () => {
  it('tells an agent key whether its host is recorded, and the policy a launch would get', async () => {
    const db = await agentKey('db-policy-01');
    const web = await agentKey('web-policy-01');
    const ask = async (key: string) => {
      const res = await api('/agent/policy', { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      return (await res.json()) as { host: string; record: boolean; rule: string | null; policy: unknown };
    };
    expect(await ask(db)).toMatchObject({ host: 'db-policy-01', record: true, rule: null });
    expect((await ask(db)).policy).toMatchObject({ recordingEnabled: true });

    const put = await api('/settings/agent', {
      method: 'PUT',
      body: JSON.stringify({
        rules: [
          { hosts: 'DB-*', record: false },
          { hosts: '*', record: true },
        ],
      }),
    });
    expect(put.status).toBe(200);
    try {
      expect(await ask(db)).toMatchObject({ host: 'db-policy-01', record: false, rule: 'DB-*' });
      expect(await ask(web)).toMatchObject({ host: 'web-policy-01', record: true, rule: '*' });
      const audit = (await (await api('/audit?action=settings.changed&target=agent')).json()) as {
        entries: { details: Record<string, unknown> }[];
      };
      expect(audit.entries[0]?.details).toMatchObject({
        before: { rules: [] },
        after: {
          rules: [
            { hosts: 'DB-*', record: false },
            { hosts: '*', record: true },
          ],
        },
      });
    } finally {
      await api('/settings/agent', { method: 'PUT', body: JSON.stringify({ rules: [] }) });
    }
  });

  it('refuses a key that is not an agent key, and rules it cannot read', async () => {
    const notAgent = await api('/agent/policy');
    expect(notAgent.status).toBe(403);
    expect(await errorCode(notAgent)).toBe('not_an_agent_key');
    for (const rules of [[{ hosts: 'db-(01|02)', record: false }], [{ hosts: '', record: true }], [{ hosts: 'x' }]]) {
      const res = await api('/settings/agent', { method: 'PUT', body: JSON.stringify({ rules }) });
      expect(res.status, JSON.stringify(rules)).toBe(400);
    }
  });
});
