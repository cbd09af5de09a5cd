/** The session object's stored record (durable/session-record.ts): validated on every read, older shapes migrated. */
import { describe, expect, it } from 'vitest';
import { RECORD_VERSION, RecordUnreadable, readRecord, type SessionRecord } from '../../durable/session-record.ts';
import { DEFAULT_POLICY } from '../../protocol/session.ts';

const current: SessionRecord = {
  version: RECORD_VERSION,
  sessionId: 'ses_1',
  user: 'alice',
  target: 'db-1',
  protocol: 'ssh',
  format: 'asciicast',
  status: 'active',
  endReason: null,
  policy: DEFAULT_POLICY,
  createdAt: 1_000,
  launchExpiresAt: 901_000,
  startedAt: 2_000,
  endedAt: null,
  lastActivityAt: 3_000,
  reportsActivity: true,
  launcherLostAt: null,
  lastHeardAt: 3_000,
  recordingStatus: 'recording',
  declaredLastSeq: null,
  launcherFinished: false,
  sealAt: null,
  sealAttempts: 0,
  recordingError: null,
};

describe('readRecord', () => {
  it('reads the current version as stored', () => {
    expect(readRecord(JSON.stringify(current))).toEqual(current);
  });

  it('migrates a version-1 record: no version, and no format or lastHeardAt from before they existed', () => {
    const { version: _version, format: _format, lastHeardAt: _heard, ...v1 } = current;
    expect(readRecord(JSON.stringify(v1))).toEqual({ ...current, format: 'webm', lastHeardAt: null });
    const { version: _v, ...v1WithFields } = current;
    expect(readRecord(JSON.stringify(v1WithFields))).toEqual(current);
  });

  it('refuses a record it cannot trust, naming what is wrong', () => {
    const cases: Array<[string, RegExp]> = [
      ['{not json', /not JSON/],
      [JSON.stringify({ ...current, status: 'paused' }), /status/],
      [JSON.stringify({ ...current, sealAt: 'soon' }), /sealAt/],
      [
        JSON.stringify({ ...current, policy: { ...DEFAULT_POLICY, recordingEnabled: 'yes' } }),
        /policy\.recordingEnabled/,
      ],
      [JSON.stringify({ ...current, unknownField: 1 }), /unknownField|record/],
      [JSON.stringify({ ...current, version: 3 }), /version 3/],
      [JSON.stringify((({ sessionId: _s, ...rest }) => rest)(current)), /sessionId/],
    ];
    for (const [json, message] of cases) {
      expect(() => readRecord(json), json.slice(0, 60)).toThrow(RecordUnreadable);
      expect(() => readRecord(json)).toThrow(message);
    }
  });
});
