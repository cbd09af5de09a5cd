/**
 * Activity: what happened in a session, on the session clock (ms since the recording's first frame, the
 * same clock as the video). Sent by launchers and the SSH proxy in sequence-numbered batches
 * (`POST /ingest/v1/sessions/{id}/events/{batch}`), stored in D1 with a full-text index.
 */
import { z } from 'zod';

/** Longest text one event may carry (a keystroke run, a command line, a title). */
export const MAX_EVENT_TEXT = 64 * 1024;
/** Most events in one batch. */
export const MAX_BATCH_EVENTS = 500;
/** Largest batch body. */
export const MAX_BATCH_BYTES = 2 * 1024 * 1024;
/** An event may be stamped this far past the session's known media end (clocks and buffering differ). */
export const EVENT_CLOCK_SLACK_MS = 5 * 60_000;

const text = z.string().max(MAX_EVENT_TEXT);
const short = z.string().max(4096);
const ms = z
  .number()
  .int()
  .min(0)
  .max(7 * 24 * 3_600_000);

/** A run of typed text split at pauses; special keys spelled out (`<Enter>`, `<Ctrl+C>`, `<BackSpace>`). */
export const KeysEvent = z.strictObject({
  type: z.literal('keys'),
  atMs: ms,
  endMs: ms,
  text,
  /** The window the keys went to. */
  window: z.strictObject({ title: short, app: short }).optional(),
  /** True when the text was typed into a password prompt and replaced by `<redacted>`. */
  redacted: z.boolean().optional(),
});

export const ProcessStartEvent = z.strictObject({
  type: z.literal('process.start'),
  atMs: ms,
  pid: z.number().int().min(0),
  ppid: z.number().int().min(0).optional(),
  name: short,
  path: short,
  commandLine: text,
  user: short,
});

export const ProcessStopEvent = z.strictObject({
  type: z.literal('process.stop'),
  atMs: ms,
  pid: z.number().int().min(0),
  name: short,
  path: short,
  user: short,
  /** When the process started, if the launcher saw it start. */
  startedAtMs: ms.optional(),
});

export const WindowFocusEvent = z.strictObject({
  type: z.literal('window.focus'),
  atMs: ms,
  title: short,
  app: short,
  pid: z.number().int().min(0).optional(),
});

/** Bytes an SSH client sent (as typed), from the SSH proxy. */
export const SshInputEvent = z.strictObject({
  type: z.literal('ssh.input'),
  atMs: ms,
  endMs: ms,
  text,
  redacted: z.boolean().optional(),
});

/** A command line entered in an SSH shell (best effort: the line as typed and edited, at Enter). */
export const SshCommandEvent = z.strictObject({
  type: z.literal('ssh.command'),
  atMs: ms,
  text,
});

/** A file copied over SFTP or scp through the SSH proxy. */
export const FileTransferEvent = z.strictObject({
  type: z.literal('file.transfer'),
  atMs: ms,
  endMs: ms,
  /** `upload`: client → target; `download`: target → client. */
  direction: z.enum(['upload', 'download']),
  path: short,
  size: z.number().int().min(0),
  protocol: z.enum(['sftp', 'scp']),
});

/**
 * witness-agent saw something that could stop it recording while the session ran (tamper signal): it was sent
 * a signal to stop, or its configuration or sshd's changed. `text` says what.
 */
export const AgentTamperEvent = z.strictObject({
  type: z.literal('agent.tamper'),
  atMs: ms,
  text: short,
});

export const ActivityEvent = z.discriminatedUnion('type', [
  KeysEvent,
  ProcessStartEvent,
  ProcessStopEvent,
  WindowFocusEvent,
  SshInputEvent,
  SshCommandEvent,
  FileTransferEvent,
  AgentTamperEvent,
]);
export type ActivityEvent = z.infer<typeof ActivityEvent>;
export type ActivityType = ActivityEvent['type'];
export const ACTIVITY_TYPES = [
  'keys',
  'process.start',
  'process.stop',
  'window.focus',
  'ssh.input',
  'ssh.command',
  'file.transfer',
  'agent.tamper',
] as const;

/**
 * A batch. Each event is checked on its own: a bad event is refused alone (and listed in the reply), the
 * others are stored. Retrying a batch number with the same body is acknowledged again; another body is a
 * conflict.
 */
export const ActivityBatch = z.strictObject({
  events: z.array(z.unknown()).min(1).max(MAX_BATCH_EVENTS),
});

export const ActivityAck = z.strictObject({
  batch: z.number().int(),
  stored: z.number().int(),
  rejected: z.array(z.strictObject({ index: z.number().int(), reason: z.string() })),
  duplicate: z.boolean(),
});
export type ActivityAck = z.infer<typeof ActivityAck>;

/** The categories the search API's `in=` takes, and the event types each covers. */
export const SEARCH_IN = {
  keystrokes: ['keys'],
  ssh: ['ssh.input', 'ssh.command', 'file.transfer'],
  apps: ['window.focus', 'keys'],
  processes: ['process.start', 'process.stop'],
  windows: ['window.focus', 'keys'],
} as const satisfies Record<string, readonly ActivityType[]>;
export type SearchIn = keyof typeof SEARCH_IN;

/** The text a password prompt's input is replaced with. */
export const REDACTED = '<redacted>';
