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

export const Protocol = z.enum(['desktop', 'rdp', 'ssh', 'vnc', 'web', 'other']);
export type Protocol = z.infer<typeof Protocol>;

/**
 * What a session's recording is made of: `webm`, a live WebM video cut at Clusters (the launcher), or
 * `asciicast`, an asciicast v2 terminal log cut at line boundaries (the SSH proxy).
 */
export const RecordingFormat = z.enum(['webm', 'asciicast']);
export type RecordingFormat = z.infer<typeof RecordingFormat>;

/** The format a launch gets when it does not ask for one: SSH sessions are terminal logs, the rest video. */
export function defaultFormat(protocol: Protocol): RecordingFormat {
  return protocol === 'ssh' ? 'asciicast' : 'webm';
}

const MINUTE_MS = 60_000;

/** What a session must obey, copied from the settings at launch time (the snapshot never changes afterwards). */
export const Policy = z.strictObject({
  recordingEnabled: z.boolean(),
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
  keystrokesEnabled: true,
  inactivityTimeoutMs: 15 * MINUTE_MS,
  maxSessionLengthMs: 8 * 60 * MINUTE_MS,
};
