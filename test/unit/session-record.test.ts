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
  storage: 'RECORDINGS_EU',
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
  endpoints: {
    host: { name: 'db-jump-1', addresses: ['10.0.0.7', 'fd00::7'] },
    client: { address: '203.0.113.9', port: 51022 },
    seenFrom: '10.0.0.7',
  },
  warnedFor: { reason: 'inactivity_timeout', endsAt: 903_000 },
};

describe('readRecord', () => {
  it('reads the current version as stored', () => {
    expect(readRecord(JSON.stringify(current))).toEqual(current);
  });

  it('reads a record from before recording levels and storage locations as advanced, in the default bucket', () => {
    const { storage: _s, ...rest } = current;
    const { recordingLevel: _l, ...policy } = current.policy;
    expect(readRecord(JSON.stringify({ ...rest, policy }))).toEqual({
      ...current,
      storage: 'RECORDINGS',
      policy: { ...current.policy, recordingLevel: 'advanced' },
    });
  });

  it('migrates a version-1 record: no version, and no format or lastHeardAt from before they existed', () => {
    const { version: _version, format: _format, lastHeardAt: _heard, endpoints: _e, warnedFor: _w, ...v1 } = current;
    expect(readRecord(JSON.stringify(v1))).toEqual({
      ...current,
      format: 'webm',
      lastHeardAt: null,
      endpoints: null,
      warnedFor: null,
    });
    const { version: _v, endpoints: _e2, warnedFor: _w2, ...v1WithFields } = current;
    expect(readRecord(JSON.stringify(v1WithFields))).toEqual({ ...current, endpoints: null, warnedFor: null });
  });

  it('migrates a version-2 record: no endpoints or warnings yet', () => {
    const { endpoints: _e, warnedFor: _w, ...rest } = current;
    expect(readRecord(JSON.stringify({ ...rest, version: 2 }))).toEqual({
      ...current,
      endpoints: null,
      warnedFor: null,
    });
    // A version-2 record may not carry what only version 3 has.
    expect(() => readRecord(JSON.stringify({ ...current, version: 2 }))).toThrow(RecordUnreadable);
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
      [JSON.stringify({ ...current, version: 4 }), /version 4/],
      [
        JSON.stringify({ ...current, endpoints: { ...current.endpoints, client: { address: 'not-an-ip', port: 1 } } }),
        /endpoints\.client\.address/,
      ],
      [JSON.stringify((({ sessionId: _s, ...rest }) => rest)(current)), /sessionId/],
    ];
    for (const [json, message] of cases) {
      expect(() => readRecord(json), json.slice(0, 60)).toThrow(RecordUnreadable);
      expect(() => readRecord(json)).toThrow(message);
    }
  });
});
