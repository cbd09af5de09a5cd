/**
 * A Durable Object has one alarm, but a session has several deadlines. Keep them all, set the alarm for the
 * earliest, and when it fires decide from the state which (if any) is really due: the alarm is only a wake-up.
 */
import { type LifecycleFields, phaseOf } from '../protocol/lifecycle.ts';
import type { EndReason, Policy } from '../protocol/session.ts';

export interface DeadlineState extends LifecycleFields {
  policy: Policy;
  /** Epoch ms. */
  createdAt: number;
  startedAt: number | null;
  lastActivityAt: number | null;
  /** A pending session ends if no launcher connects by then. */
  launchExpiresAt: number;
  /** Set while the launcher's control socket is gone (its close was seen). */
  launcherLostAt: number | null;
  /**
   * When the launcher was last heard from (hello, a control message, a heartbeat, a stored piece). A launcher
   * silent for `launcherGraceMs` is lost even when no close was ever seen: a crash of the server, or of the
   * host and network with it, ends sockets without one.
   */
  lastHeardAt: number | null;
  launcherGraceMs: number;
  /** Set once the session ended and the recording still has to be sealed. */
  sealAt: number | null;
  /** The end the user was last warned of: a warning is given once per reason and end time. */
  warnedFor: { reason: WarnedReason; endsAt: number } | null;
}

/** The ends the user is warned of in advance (the others are sudden: an admin, a lost launcher). */
export type WarnedReason = Extract<EndReason, 'inactivity_timeout' | 'maximum_length'>;

export type Deadline =
  | { kind: 'end'; reason: EndReason; at: number }
  | { kind: 'warn'; reason: WarnedReason; endsAt: number; at: number }
  | { kind: 'seal'; at: number };

/** How long before an inactivity timeout or the maximum length the user is warned: 60 s, or half a shorter limit. */
export function warningLead(limitMs: number): number {
  return Math.min(60_000, Math.floor(limitMs / 2));
}

/** Every deadline the state implies, in no particular order. */
export function deadlines(state: DeadlineState): Deadline[] {
  const out: Deadline[] = [];
  const phase = phaseOf(state);
  if (phase === 'launched') {
    out.push({ kind: 'end', reason: 'launch_expired', at: state.launchExpiresAt });
  } else if (phase === 'live' && state.startedAt !== null) {
    const { maxSessionLengthMs, inactivityTimeoutMs } = state.policy;
    const warnAhead = (reason: WarnedReason, endsAt: number, limitMs: number) => {
      const warned = state.warnedFor?.reason === reason && state.warnedFor.endsAt === endsAt;
      if (!warned) out.push({ kind: 'warn', reason, endsAt, at: endsAt - warningLead(limitMs) });
    };
    if (maxSessionLengthMs > 0) {
      const endsAt = state.startedAt + maxSessionLengthMs;
      out.push({ kind: 'end', reason: 'maximum_length', at: endsAt });
      warnAhead('maximum_length', endsAt, maxSessionLengthMs);
    }
    if (inactivityTimeoutMs > 0) {
      const last = state.lastActivityAt ?? state.startedAt;
      out.push({ kind: 'end', reason: 'inactivity_timeout', at: last + inactivityTimeoutMs });
      warnAhead('inactivity_timeout', last + inactivityTimeoutMs, inactivityTimeoutMs);
    }
    if (state.launcherLostAt !== null) out.push({ kind: 'end', reason: 'launcher_lost', at: state.launcherLostAt });
    const heard = state.lastHeardAt ?? state.startedAt;
    if (state.launcherGraceMs > 0)
      out.push({ kind: 'end', reason: 'launcher_lost', at: heard + state.launcherGraceMs });
  }
  if (phase === 'ended' && state.sealAt !== null) out.push({ kind: 'seal', at: state.sealAt });
  return out;
}

/** When the alarm should next fire, or null for no alarm. */
export function nextAlarm(state: DeadlineState): number | null {
  let next: number | null = null;
  for (const d of deadlines(state)) if (next === null || d.at < next) next = d.at;
  return next;
}

/**
 * What is due at `now`. Several end deadlines may have passed at once (an object woken late): the earliest
 * one is the true reason. A warning is due only when no end is.
 */
export function dueDeadline(state: DeadlineState, now: number): Deadline | null {
  const due = deadlines(state).filter((d) => d.at <= now);
  const earliest = (list: Deadline[]) =>
    list.reduce<Deadline | null>((a, b) => (a === null || b.at < a.at ? b : a), null);
  // An end (or the seal) that is due wins over a warning of it.
  return earliest(due.filter((d) => d.kind !== 'warn')) ?? earliest(due.filter((d) => d.kind === 'warn'));
}
