import { describe, expect, it } from 'vitest';
import { type DeadlineState, dueDeadline, nextAlarm } from '../../durable/deadlines.ts';
import { DEFAULT_POLICY } from '../../protocol/session.ts';

const base: DeadlineState = {
  status: 'active',
  recordingStatus: 'recording',
  policy: { ...DEFAULT_POLICY, inactivityTimeoutMs: 60_000, maxSessionLengthMs: 600_000 },
  createdAt: 0,
  startedAt: 1_000,
  lastActivityAt: 1_000,
  launchExpiresAt: 900_000,
  launcherLostAt: null,
  lastHeardAt: 1_000,
  launcherGraceMs: 0,
  sealAt: null,
};

describe('session deadlines', () => {
  it('sets the alarm at the earliest deadline', () => {
    expect(nextAlarm(base)).toBe(61_000);
    expect(nextAlarm({ ...base, lastActivityAt: 590_000 })).toBe(601_000);
    expect(nextAlarm({ ...base, launcherLostAt: 30_000 })).toBe(30_000);
  });

  it('a launcher not heard from for the grace period is lost, whether or not its socket was seen to close', () => {
    const heard = { ...base, lastHeardAt: 5_000, launcherGraceMs: 30_000 };
    expect(nextAlarm(heard)).toBe(35_000);
    expect(dueDeadline(heard, 34_999)).toBeNull();
    expect(dueDeadline(heard, 40_000)).toEqual({ kind: 'end', reason: 'launcher_lost', at: 35_000 });
    // With inactivity and maximum length off, silence still ends the session.
    const unbounded = { ...heard, policy: { ...base.policy, inactivityTimeoutMs: 0, maxSessionLengthMs: 0 } };
    expect(dueDeadline(unbounded, 3_600_000)).toEqual({ kind: 'end', reason: 'launcher_lost', at: 35_000 });
    // Never heard (a record from before this was kept): counted from the start.
    expect(nextAlarm({ ...heard, lastHeardAt: null })).toBe(31_000);
    // Only a live session waits for its launcher.
    expect(nextAlarm({ ...heard, status: 'ended' })).toBeNull();
  });

  it('ignores deadlines the policy turns off', () => {
    const off = { ...base, policy: { ...base.policy, inactivityTimeoutMs: 0, maxSessionLengthMs: 0 } };
    expect(nextAlarm(off)).toBeNull();
  });

  it('a pending session only has its launch expiry; an ended one only its sealing', () => {
    expect(nextAlarm({ ...base, status: 'pending', startedAt: null })).toBe(900_000);
    expect(nextAlarm({ ...base, status: 'ended' })).toBeNull();
    expect(nextAlarm({ ...base, status: 'ended', sealAt: 5_000 })).toBe(5_000);
  });

  it('nothing is due before its time: an early alarm changes nothing', () => {
    expect(dueDeadline(base, 60_999)).toBeNull();
  });

  it('names the earliest passed deadline as the reason when several passed', () => {
    const late = { ...base, lastActivityAt: 1_000, launcherLostAt: 500_000 };
    expect(dueDeadline(late, 700_000)).toEqual({ kind: 'end', reason: 'inactivity_timeout', at: 61_000 });
    expect(dueDeadline({ ...late, lastActivityAt: 599_000 }, 700_000)).toEqual({
      kind: 'end',
      reason: 'launcher_lost',
      at: 500_000,
    });
    expect(dueDeadline({ ...late, lastActivityAt: 599_000, launcherLostAt: null }, 700_000)).toEqual({
      kind: 'end',
      reason: 'maximum_length',
      at: 601_000,
    });
  });
});
