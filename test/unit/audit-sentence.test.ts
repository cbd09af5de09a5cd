/** The audit log's sentences: one per action, the actor and the session linked, the row's own words quoted. */
import { describe, expect, it } from 'vitest';
import { AUDIT_ACTIONS } from '../../protocol/audit.ts';
import {
  ACTIONS_WITH_SENTENCES,
  type AuditRow,
  auditSentence,
  auditSentenceText,
} from '../../protocol/audit-sentence.ts';

const row = (action: string, extra: Partial<AuditRow> = {}): AuditRow => ({
  action,
  actorName: 'alice',
  actorKind: 'user',
  targetType: 'session',
  targetId: 'f3a1',
  details: null,
  session: { user: 'bob', target: 'db-01' },
  ...extra,
});

describe('audit sentences', () => {
  it('has a sentence of its own for every action the server writes', () => {
    for (const action of AUDIT_ACTIONS) expect(ACTIONS_WITH_SENTENCES, action).toContain(action);
  });

  it('links the actor and the session, and quotes what was typed', () => {
    expect(auditSentence(row('session.terminated', { details: { message: 'Stop now.', delivered: true } }))).toEqual([
      { actor: 'alice' },
      ' terminated ',
      { session: 'f3a1', label: 'session bob@db-01' },
      ' with the message “Stop now.”',
    ]);
    expect(auditSentenceText(row('session.watched_live'))).toBe('alice watched session bob@db-01 live');
    expect(
      auditSentenceText(row('sessions.searched', { targetType: null, targetId: null, details: { q: 'passwd' } })),
    ).toBe('alice searched sessions for “passwd”');
  });

  it('names what a settings change changed, old and new', () => {
    const details = {
      before: { keystrokesEnabled: false, maxLengthSeconds: 3600 },
      after: { keystrokesEnabled: true, maxLengthSeconds: 3600 },
    };
    expect(auditSentenceText(row('settings.changed', { targetType: 'settings', targetId: 'recording', details }))).toBe(
      'alice changed the recording settings: keystrokesEnabled false → true',
    );
  });

  it('names what a change of the rules by target changed, rule by rule', () => {
    const rules = (before: unknown, after: unknown) =>
      auditSentenceText(
        row('settings.changed', {
          targetType: 'settings',
          targetId: 'recording-rules',
          details: { before, after },
        }),
      );
    const dbAdvanced = { targets: 'db-*', recordingLevel: 'advanced' };
    const dbBasic = { targets: 'db-*', recordingLevel: 'basic' };
    const eu = { targets: '*.eu', storage: 'RECORDINGS_EU' };
    expect(rules({ storage: 'RECORDINGS', rules: [dbAdvanced] }, { storage: 'RECORDINGS', rules: [dbBasic] })).toBe(
      'alice changed Session Recording: recording level advanced → basic for db-*',
    );
    expect(rules({ storage: 'RECORDINGS', rules: [dbBasic] }, { storage: 'RECORDINGS_EU', rules: [eu] })).toBe(
      'alice changed Session Recording: save recordings to RECORDINGS → RECORDINGS_EU; ' +
        'added a rule for *.eu (storage RECORDINGS_EU); removed the rule for db-*',
    );
    expect(
      rules({ storage: 'RECORDINGS', rules: [dbBasic, eu] }, { storage: 'RECORDINGS', rules: [eu, dbBasic] }),
    ).toBe('alice changed Session Recording: reordered the rules (*.eu, db-*)');
  });

  it('tells a session the server no longer knows by its id, and an action it has no sentence for', () => {
    expect(auditSentenceText(row('recording.viewed', { session: null }))).toBe(
      'alice played the recording of session f3a1',
    );
    expect(auditSentenceText(row('something.new'))).toBe('alice something.new session bob@db-01');
    expect(auditSentenceText(row('something.else', { targetType: 'user', targetId: 'user:7' }))).toBe(
      'alice something.else user user:7',
    );
  });

  it('survives details of the wrong shape, and keeps long quotes short', () => {
    expect(auditSentenceText(row('session.messaged', { details: 'not an object' }))).toBe(
      'alice sent session bob@db-01 the message ',
    );
    const long = auditSentenceText(row('session.messaged', { details: { message: 'x'.repeat(500) } }));
    expect(long.length).toBeLessThan(260);
    expect(long).toMatch(/x…”$/);
  });
});
