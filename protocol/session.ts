import { z } from 'zod';

/** Lifecycle of a recorded session. */
export const SessionStatus = z.enum(['pending', 'active', 'ended']);
export type SessionStatus = z.infer<typeof SessionStatus>;

/** Why a session ended; spelled the way the console and API show it. */
export const EndReason = z.enum([
  'ended_by_user',
  'terminated_by_admin',
  'inactivity_timeout',
  'maximum_length',
  'launcher_lost',
  'launch_expired',
]);
export type EndReason = z.infer<typeof EndReason>;

/** State of the finished, seekable recording.webm. */
export const RecordingStatus = z.enum(['disabled', 'recording', 'finalizing', 'ready', 'empty', 'failed']);
export type RecordingStatus = z.infer<typeof RecordingStatus>;

/** `console`: a login at a host's own terminal (a tty, `su`), recorded by witness-agent. */
export const Protocol = z.enum(['desktop', 'rdp', 'ssh', 'console', 'vnc', 'web', 'other']);
export type Protocol = z.infer<typeof Protocol>;

/**
 * How a session came to be recorded: `launched` by someone who asked for it (a vault, the launcher, the SSH
 * proxy), or `agent`, a login witness-agent found on its host and recorded without anyone launching it.
 */
export const SessionOrigin = z.enum(['launched', 'agent']);
export type SessionOrigin = z.infer<typeof SessionOrigin>;

/**
 * The login an agent recorded, as the host saw it: its terminal (`/dev/pts/3`, `/dev/tty1`; null for an
 * `ssh host command` without one) and the address it came from (null at the console).
 */
export const AgentLogin = z.strictObject({
  tty: z
    .string()
    .regex(/^\/dev\/[A-Za-z0-9/._-]{1,58}$/, 'a terminal device path such as /dev/pts/3')
    .nullable(),
  remoteAddress: z.union([z.ipv4(), z.ipv6()]).nullable(),
});
export type AgentLogin = z.infer<typeof AgentLogin>;

/**
 * What a session's recording is made of: `webm`, a live WebM video cut at Clusters (the launcher), or
 * `asciicast`, an asciicast v2 terminal log cut at line boundaries (the SSH proxy).
 */
export const RecordingFormat = z.enum(['webm', 'asciicast']);
export type RecordingFormat = z.infer<typeof RecordingFormat>;

/** The format a launch gets when it does not ask for one: SSH and console logins are terminal logs, the rest video. */
export function defaultFormat(protocol: Protocol): RecordingFormat {
  return protocol === 'ssh' || protocol === 'console' ? 'asciicast' : 'webm';
}

const MINUTE_MS = 60_000;

/**
 * What a video session records: `basic`, the screen only (activity comes from screen changes); `advanced`, the
 * screen plus keystrokes (when on), processes and windows. Terminal sessions record their terminal either way.
 */
export const RecordingLevel = z.enum(['basic', 'advanced']);
export type RecordingLevel = z.infer<typeof RecordingLevel>;

/** What a session must obey, copied from the settings at launch time (the snapshot never changes afterwards). */
export const Policy = z.strictObject({
  recordingEnabled: z.boolean(),
  /** Basic (screen only) or advanced (plus keystrokes, processes, windows); applied by the launcher at its start. */
  recordingLevel: RecordingLevel,
  keystrokesEnabled: z.boolean(),
  /** End the session after this long without user activity; 0 disables. */
  inactivityTimeoutMs: z
    .number()
    .int()
    .min(0)
    .max(24 * 60 * MINUTE_MS),
  /** End the session this long after it started; 0 disables. */
  maxSessionLengthMs: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 60 * MINUTE_MS),
});
export type Policy = z.infer<typeof Policy>;

export const DEFAULT_POLICY: Policy = {
  recordingEnabled: true,
  recordingLevel: 'advanced',
  keystrokesEnabled: true,
  inactivityTimeoutMs: 15 * MINUTE_MS,
  maxSessionLengthMs: 8 * 60 * MINUTE_MS,
};

/**
 * How a session's policy came about: the settings as they were, the settings made stricter by its launch, or
 * made weaker by a launch whose key may override the administrator's settings (`policy:override`).
 */
export const PolicySource = z.enum(['settings', 'stricter', 'override']);
export type PolicySource = z.infer<typeof PolicySource>;

/** A limit in ms, where 0 means none: as a number that orders by strictness (none is the longest). */
function limit(ms: number): number {
  return ms === 0 ? Number.POSITIVE_INFINITY : ms;
}

/**
 * Which fields of a launch's `requested` policy record less than `settings` (weaker: recording or keystrokes off
 * where they are on, basic where the level is advanced, a longer or no inactivity timeout or maximum length) and
 * which record more (stricter).
 */
export function comparePolicy(
  settings: Policy,
  requested: Partial<Policy>,
): { weaker: Array<keyof Policy>; stricter: Array<keyof Policy> } {
  const weaker: Array<keyof Policy> = [];
  const stricter: Array<keyof Policy> = [];
  const order = (field: keyof Policy, asked: number, set: number) => {
    if (asked < set) weaker.push(field);
    else if (asked > set) stricter.push(field);
  };
  // Larger is stricter for each: on (1) over off (0), a shorter limit over a longer one.
  for (const field of ['recordingEnabled', 'keystrokesEnabled'] as const) {
    const asked = requested[field];
    if (asked !== undefined) order(field, Number(asked), Number(settings[field]));
  }
  if (requested.recordingLevel !== undefined) {
    const rank = (level: RecordingLevel) => (level === 'advanced' ? 1 : 0);
    order('recordingLevel', rank(requested.recordingLevel), rank(settings.recordingLevel));
  }
  for (const field of ['inactivityTimeoutMs', 'maxSessionLengthMs'] as const) {
    const asked = requested[field];
    if (asked !== undefined) order(field, -limit(asked), -limit(settings[field]));
  }
  return { weaker, stricter };
}
