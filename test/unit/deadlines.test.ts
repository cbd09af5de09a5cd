import { describe, expect, it } from 'vitest';
import { type DeadlineState, dueDeadline, nextAlarm, warningLead } from '../../durable/deadlines.ts';
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
  warnedFor: null,
};

describe('session deadlines', () => {
  it('sets the alarm at the earliest deadline, warnings included', () => {
    // Inactivity ends at 61 s; its warning comes half its 60 s earlier (a limit under 2 min is warned at half).
    expect(nextAlarm(base)).toBe(31_000);
    expect(nextAlarm({ ...base, warnedFor: { reason: 'inactivity_timeout', endsAt: 61_000 } })).toBe(61_000);
    // The maximum length (601 s) is warned 60 s ahead.
    expect(nextAlarm({ ...base, lastActivityAt: 590_000 })).toBe(541_000);
    expect(nextAlarm({ ...base, launcherLostAt: 30_000 })).toBe(30_000);
  });

  it('warns once of each end, again when activity moves it, and an end that is due wins over a warning', () => {
    expect(warningLead(15 * 60_000)).toBe(60_000);
    expect(warningLead(60_000)).toBe(30_000);
    expect(dueDeadline(base, 31_000)).toEqual({
      kind: 'warn',
      reason: 'inactivity_timeout',
      endsAt: 61_000,
      at: 31_000,
    });
    const warned = { ...base, warnedFor: { reason: 'inactivity_timeout' as const, endsAt: 61_000 } };
    expect(dueDeadline(warned, 40_000)).toBeNull();
    // The user came back at 50 s: the end moved to 110 s, and its warning is due again at 80 s.
    expect(dueDeadline({ ...warned, lastActivityAt: 50_000 }, 79_999)).toBeNull();
    expect(dueDeadline({ ...warned, lastActivityAt: 50_000 }, 80_000)).toMatchObject({ kind: 'warn', endsAt: 110_000 });
    // Woken after the end: the end, not its warning.
    expect(dueDeadline(base, 70_000)).toEqual({ kind: 'end', reason: 'inactivity_timeout', at: 61_000 });
    expect(dueDeadline({ ...base, lastActivityAt: 590_000 }, 545_000)).toMatchObject({
      kind: 'warn',
      reason: 'maximum_length',
      endsAt: 601_000,
    });
  });

  it('a launcher not heard from for the grace period is lost, whether or not its socket was seen to close', () => {
    const heard = {
      ...base,
      lastHeardAt: 5_000,
      launcherGraceMs: 30_000,
      policy: { ...base.policy, inactivityTimeoutMs: 600_000 },
    };
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
    expect(dueDeadline(base, 30_999)).toBeNull();
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
