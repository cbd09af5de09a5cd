/**
 * Control socket messages between a launcher and its session's Durable Object (JSON text frames).
 * Heartbeats are the plain text frames in version.ts, not JSON.
 */
import { z } from 'zod';
import { identifier } from './identifier.ts';
import { EndReason, Policy, Protocol, RecordingFormat, RecordingLevel, SessionStatus } from './session.ts';

const text = z.string().max(4096);
const ipAddress = z.union([z.ipv4(), z.ipv6()]);

/** The machine a launcher (or the SSH proxy) runs on, as it names itself. */
export const LauncherHost = z.strictObject({
  name: identifier(255),
  /** Its network addresses, loopback and link-local left out. */
  addresses: z.array(ipAddress).max(16),
});
export type LauncherHost = z.infer<typeof LauncherHost>;

/** The SSH client as the proxy saw its connection. */
export const SshClient = z.strictObject({ address: ipAddress, port: z.number().int().min(0).max(65_535) });
export type SshClient = z.infer<typeof SshClient>;

/** Where a session was recorded from: what its launcher said of itself, and what the server saw. */
export const SessionEndpoints = z.strictObject({
  host: LauncherHost.nullable(),
  client: SshClient.nullable(),
  /** The address the launcher's control socket came from, as the server saw it (CF-Connecting-IP or the peer). */
  seenFrom: z.string().max(64).nullable(),
});
export type SessionEndpoints = z.infer<typeof SessionEndpoints>;

/**
 * How the launcher captured processes, for the session's record: an auditor must know whether a short process
 * could have been missed (`poll`) or not (`netlink`: the kernel's process events), and how many of the user's
 * processes outside the session were counted and not recorded.
 */
export const ProcessCapture = z.strictObject({
  method: z.enum(['netlink', 'poll', 'none']),
  /** `poll`: the interval; a process shorter than it may be missed. */
  pollMs: z.number().int().positive().max(60_000).optional(),
  /** The user's processes that ran outside the session: counted, not recorded. */
  excluded: z.number().int().min(0),
  /** `netlink`: how often the kernel dropped events (a burst overflowed its buffer). */
  lost: z.number().int().min(0).optional(),
  /** Why this method: the helper missing or not permitted, no /proc, recording off by policy. */
  detail: text.max(500).optional(),
});
export type ProcessCapture = z.infer<typeof ProcessCapture>;

/** What the launcher's activity capture did (sent when it starts, when it changes, and when it stops). */
export const CaptureStatus = z.strictObject({ processes: ProcessCapture });
export type CaptureStatus = z.infer<typeof CaptureStatus>;

/** Launcher → server. */
export const LauncherMessage = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('hello'),
    protocol: z.number().int().positive(),
    launcher: z.strictObject({
      name: z.string().max(100),
      version: z.string().max(50),
      platform: z.string().max(50),
    }),
    /** Whether the launcher reports user input with `activity` messages; if not, stored media counts as activity. */
    reportsActivity: z.boolean(),
    /** Where it runs (recorded with the session, beside the address the server saw the socket come from). */
    host: LauncherHost.optional(),
    /** The SSH proxy: the client whose session this is. */
    client: SshClient.optional(),
  }),
  /** User input was seen (at most one every few seconds). */
  z.strictObject({ type: z.literal('activity') }),
  /** How the activity capture runs (recorded with the session; the last one sent counts). */
  z.strictObject({ type: z.literal('capture'), capture: CaptureStatus }),
  /** The launcher delivered a message or terminate command to the user. */
  z.strictObject({ type: z.literal('delivered'), id: z.string().max(64) }),
  /** Ask for a fresh ingest token before the current one expires. */
  z.strictObject({ type: z.literal('renew') }),
  /**
   * The recorded program ended. `lastSeq` is the highest media sequence number the launcher produced
   * (null when it recorded nothing), so the server can seal the recording as soon as all pieces are in.
   */
  z.strictObject({
    type: z.literal('end'),
    lastSeq: z.number().int().min(0).nullable(),
    error: text.optional(),
  }),
]);
export type LauncherMessage = z.infer<typeof LauncherMessage>;

/**
 * The policy as a welcome carries it: the fields every launcher knows, and none it would refuse. Launchers parse
 * it loosely, so a field added later reaches the new ones and passes the old ones by. The recording level came
 * after the first launchers, whose policy parse was strict: it travels beside the policy, not in it.
 */
export const WelcomePolicy = z.object(Policy.omit({ recordingLevel: true }).shape);

/** The session's policy, with the level (absent, from a server older than levels: advanced). */
export function welcomedPolicy(welcome: {
  policy: z.infer<typeof WelcomePolicy>;
  recordingLevel?: RecordingLevel;
}): Policy {
  return { ...welcome.policy, recordingLevel: welcome.recordingLevel ?? 'advanced' };
}

/** What a welcome says of `policy`: its fields every launcher knows, and the level beside them. */
export function welcomePolicy(policy: Policy): {
  policy: z.infer<typeof WelcomePolicy>;
  recordingLevel: RecordingLevel;
} {
  const { recordingLevel, ...known } = policy;
  return { policy: known, recordingLevel };
}

/** Server → launcher. Launchers ignore fields they do not know: the server may add some. */
export const ServerControlMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('welcome'),
    protocol: z.number().int(),
    sessionId: z.string(),
    status: SessionStatus,
    policy: WelcomePolicy,
    /** basic: the screen only; advanced (or absent): keystrokes, processes and windows too. */
    recordingLevel: RecordingLevel.optional(),
    /** Sequence numbers already stored, so a reconnecting launcher can drop them from its spool. */
    storedSeqs: z.array(z.number().int().min(0)),
    /** Who is recorded where, and what the recording is made of (the SSH proxy learns its target here). */
    session: z.object({ user: z.string(), target: z.string(), protocol: Protocol, format: RecordingFormat }).optional(),
  }),
  z.strictObject({ type: z.literal('message'), id: z.string(), text }),
  z.strictObject({ type: z.literal('terminate'), id: z.string(), message: text }),
  z.strictObject({ type: z.literal('token'), token: z.string(), expiresAt: z.string() }),
  /** The session is over: stop recording, upload what is still spooled, then close. */
  z.strictObject({ type: z.literal('ended'), reason: EndReason }),
  z.strictObject({ type: z.literal('error'), code: z.string(), message: text }),
]);
export type ServerControlMessage = z.infer<typeof ServerControlMessage>;
