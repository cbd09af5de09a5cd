/**
 * A session's lifecycle: its phases, the transitions between them, and one predicate per question callers ask.
 * The session object (durable/) and the Worker (worker/) both decide through this module alone; nothing else
 * compares statuses. A phase is derived from what is stored — the session's `status` and its recording's
 * `recordingStatus` (protocol/session.ts), in the object's record and in D1 alike — so the two can never disagree
 * about what a pair of them means.
 *
 *   launched ──start──▶ live ──end──▶ ended ──beginSeal──▶ sealing ──sealed──▶ sealed
 *       └────────end─────────┘          ▲                     │ └──sealFailed──▶ failed
 *                                       └────retrySeal────────┘
 *   sealed, failed ──archive──▶ archived;  sealed, failed, archived ──delete──▶ deleted ──finishDelete──▶ deleted
 *
 * A session recorded with recording off has nothing to seal: `end` takes it straight to `sealed`.
 * A sealed recording's derived MP4 is not a phase of the session but a status beside it (`ProcessingStatus`,
 * below): the session stays sealed, and its WebM stays the evidence, whatever its MP4 is doing.
 * `archived` and `deleted` are retention's (worker/retention/), stored in D1 only (`retention`): the session object never holds them, D1 is the directory of sealed sessions. `delete`
 * marks the media as going (reads are refused from then on) and `finishDelete` as gone, so an interrupted sweep
 * knows what to finish. A legal hold is not a phase but a flag beside it (a held session is still sealed or
 * archived): `holdAllows` decides hold and release, and a held session may not be deleted.
 */
import { z } from 'zod';
import type { RecordingStatus, SessionStatus } from './session.ts';

/**
 * What retention did to a sealed session's media, as D1 stores it (null: nothing). `archived`: moved to the
 * archive bucket; `deleting`: deletion decided and under way; `deleted`: media and activity gone.
 */
export const RetentionMark = z.enum(['archived', 'deleting', 'deleted']);
export type RetentionMark = z.infer<typeof RetentionMark>;

export const Phase = z.enum(['launched', 'live', 'ended', 'sealing', 'sealed', 'failed', 'archived', 'deleted']);
export type Phase = z.infer<typeof Phase>;

/** What the phase is derived from, as the session object and D1 both store it. */
export interface LifecycleFields {
  status: SessionStatus;
  recordingStatus: RecordingStatus;
  /** Retention's mark (D1 only; absent in the session object's record, which retention never touches). */
  retention?: RetentionMark | null;
}

/**
 * The phase of a stored session. `sealing` is never stored: only the session object knows a seal is running, and
 * says so with `sealing`.
 */
export function phaseOf(fields: LifecycleFields, sealing = false): Phase {
  if (fields.status === 'pending') return 'launched';
  if (fields.status === 'active') return 'live';
  if (fields.retention === 'deleting' || fields.retention === 'deleted') return 'deleted';
  if (fields.retention === 'archived') return 'archived';
  switch (fields.recordingStatus) {
    case 'recording':
    case 'finalizing':
      return sealing ? 'sealing' : 'ended';
    case 'failed':
      return 'failed';
    case 'disabled':
    case 'ready':
    case 'empty':
      return 'sealed';
  }
}

/** Every transition: from which phases it may be taken, and to which phase it leads. */
export const TRANSITIONS = {
  start: { from: ['launched'], to: 'live' },
  end: { from: ['launched', 'live'], to: 'ended' },
  endUnrecorded: { from: ['launched', 'live'], to: 'sealed' },
  beginSeal: { from: ['ended'], to: 'sealing' },
  sealed: { from: ['sealing'], to: 'sealed' },
  retrySeal: { from: ['sealing'], to: 'ended' },
  sealFailed: { from: ['sealing'], to: 'failed' },
  // A failed recording's pieces are media too: they are archived and deleted like a sealed file.
  archive: { from: ['sealed', 'failed'], to: 'archived' },
  delete: { from: ['sealed', 'failed', 'archived'], to: 'deleted' },
  finishDelete: { from: ['deleted'], to: 'deleted' },
} as const satisfies Record<string, { from: readonly Phase[]; to: Phase }>;
export type Transition = keyof typeof TRANSITIONS;

/** A transition asked for in a phase it may not be taken from. A bug, never a client's mistake: it is thrown. */
export class TransitionRefused extends Error {
  readonly transition: Transition;
  readonly phase: Phase;

  constructor(transition: Transition, phase: Phase) {
    super(`a session cannot ${transition} while ${phase}`);
    this.name = 'TransitionRefused';
    this.transition = transition;
    this.phase = phase;
  }
}

/** Whether `transition` may be taken in `phase`. */
export function allows(phase: Phase, transition: Transition): boolean {
  return (TRANSITIONS[transition].from as readonly Phase[]).includes(phase);
}

/** The phase `transition` leads to from `phase`; throws TransitionRefused where it may not be taken. */
export function transition(phase: Phase, name: Transition): Phase {
  if (!allows(phase, name)) throw new TransitionRefused(name, phase);
  return TRANSITIONS[name].to;
}

/**
 * The stored fields each transition writes, given the phase it leads to; `recordingStatus` after a seal says how
 * it went. Transitions that change nothing stored (`beginSeal`, `retrySeal`) keep the fields as they are.
 */
export function apply<T extends LifecycleFields>(
  fields: T,
  name: Transition,
  sealing = false,
  outcome?: Extract<RecordingStatus, 'ready' | 'empty'>,
): T {
  transition(phaseOf(fields, sealing), name);
  switch (name) {
    case 'start':
      return { ...fields, status: 'active' };
    case 'end':
      return { ...fields, status: 'ended', recordingStatus: 'finalizing' };
    case 'endUnrecorded':
      return { ...fields, status: 'ended', recordingStatus: 'disabled' };
    case 'sealed':
      return { ...fields, recordingStatus: outcome ?? 'ready' };
    case 'sealFailed':
      return { ...fields, recordingStatus: 'failed' };
    case 'beginSeal':
    case 'retrySeal':
      return fields;
    case 'archive':
      return { ...fields, retention: 'archived' };
    case 'delete':
      return { ...fields, retention: 'deleting' };
    case 'finishDelete':
      // Only a deletion under way finishes; one that finished already is not finished again.
      if (fields.retention !== 'deleting') throw new TransitionRefused(name, phaseOf(fields, sealing));
      return { ...fields, retention: 'deleted' };
    default:
      throw new TransitionRefused(name, phaseOf(fields, sealing)); // not stored yet (see the module's note)
  }
}

/** Hold and release: a legal hold is a flag beside the phase, not a phase. */
export type HoldAction = 'hold' | 'release';

/**
 * Whether a hold may be placed or released. A hold may be placed in any phase whose media still exists (a
 * session under investigation may be held while it is still recorded), once; only a held session is released.
 */
export function holdAllows(phase: Phase, held: boolean, action: HoldAction): boolean {
  return action === 'hold' ? !held && phase !== 'deleted' : held;
}

/** Whether retention may take `name` now: a held session is archived like any other, but never deleted. */
export function retentionAllows(phase: Phase, held: boolean, name: 'archive' | 'delete'): boolean {
  return allows(phase, name) && !(name === 'delete' && held);
}

/** Whether the session is still going: a launcher may connect, viewers may watch it live, it may be terminated. */
export function isOngoing(phase: Phase): boolean {
  return phase === 'launched' || phase === 'live';
}

/** Whether pieces and activity may still be stored: until the seal starts (the grace after the end included). */
export function acceptsRecording(phase: Phase): boolean {
  return phase === 'launched' || phase === 'live' || phase === 'ended';
}

/**
 * Whether the record is closed: nothing will ever be added to it, and its evidence (manifest, sealed file or the
 * cause it failed) is final and may be served. A failed recording is sealed too: its failure is the evidence.
 */
export function isSealed(phase: Phase): boolean {
  return phase === 'sealed' || phase === 'failed' || phase === 'archived' || phase === 'deleted';
}

/**
 * Whether the recorded media (pieces, sealed file, MP4) and activity are gone or going, by retention: reads of
 * them answer 410; the session, its manifest and its audit trail stay.
 */
export function isMediaDeleted(phase: Phase): boolean {
  return phase === 'deleted';
}

/** Whether what the session object holds live (sockets, the piece count so far) can still change. */
export function hasLiveState(phase: Phase): boolean {
  return !isSealed(phase);
}

// ── MP4 processing: the status of a sealed recording's derived MP4, beside the session's phase ──────────────

/**
 * A derived MP4's status. `queued` → `processing` (a processor holds the lease) → `ready` or `failed`; a lease
 * that runs out, or a failure the processor calls retryable, puts the job back in the queue (with backoff);
 * `retry` puts a failed job back.
 *
 *   none ──request──▶ queued ──lease──▶ processing ──complete──▶ ready
 *                       ▲  ▲               │ └──────fail──────▶ failed ──retry──┐
 *                       │  └─leaseLost, retryLater─┘                            │
 *                       └───────────────────────────────────────────────────────┘
 */
export const ProcessingStatus = z.enum(['queued', 'processing', 'ready', 'failed']);
export type ProcessingStatus = z.infer<typeof ProcessingStatus>;
/** A recording's processing state: `none` until an MP4 is asked for (or made automatically). */
export type ProcessingState = ProcessingStatus | 'none';

export const PROCESSING_TRANSITIONS = {
  request: { from: ['none'], to: 'queued' },
  lease: { from: ['queued'], to: 'processing' },
  /** Progress renews the lease; only the lease's holder reports it. */
  progress: { from: ['processing'], to: 'processing' },
  /** The lease ran out (the processor was killed, or lost the server): queued again, the attempt counted. */
  leaseLost: { from: ['processing'], to: 'queued' },
  /** A failure the processor calls transient (network, a signal to ffmpeg): queued again after a backoff. */
  retryLater: { from: ['processing'], to: 'queued' },
  /** A failure the same input would meet again, or the last attempt: no more tries until someone retries. */
  fail: { from: ['processing'], to: 'failed' },
  complete: { from: ['processing'], to: 'ready' },
  retry: { from: ['failed'], to: 'queued' },
} as const satisfies Record<string, { from: readonly ProcessingState[]; to: ProcessingStatus }>;
export type ProcessingTransition = keyof typeof PROCESSING_TRANSITIONS;

/** Leases a job gets before it fails for good, whatever the failures were. */
export const MAX_PROCESSING_ATTEMPTS = 5;

/** Whether `name` may be taken from `state`. */
export function processingAllows(state: ProcessingState, name: ProcessingTransition): boolean {
  return (PROCESSING_TRANSITIONS[name].from as readonly ProcessingState[]).includes(state);
}

/** The status `name` leads to from `state`; throws where it may not be taken. */
export function processingTransition(state: ProcessingState, name: ProcessingTransition): ProcessingStatus {
  if (!processingAllows(state, name)) throw new ProcessingTransitionRefused(name, state);
  return PROCESSING_TRANSITIONS[name].to;
}

export class ProcessingTransitionRefused extends Error {
  readonly transition: ProcessingTransition;
  readonly state: ProcessingState;

  constructor(transition: ProcessingTransition, state: ProcessingState) {
    super(`processing cannot ${transition} while ${state}`);
    this.name = 'ProcessingTransitionRefused';
    this.transition = transition;
    this.state = state;
  }
}

/** What a stored job's status is derived from. */
export interface ProcessingJobFields {
  status: ProcessingStatus;
  attempts: number;
  leaseExpiresAt: number | null;
}

/**
 * A job's status now. A `processing` job whose lease has run out is queued (the next lease takes it), or
 * failed when that was its last attempt: what the queue will do with it, shown before it does.
 */
export function processingStatusOf(job: ProcessingJobFields | null | undefined, now: number): ProcessingState {
  if (!job) return 'none';
  if (job.status === 'processing' && job.leaseExpiresAt !== null && job.leaseExpiresAt <= now) {
    return job.attempts >= MAX_PROCESSING_ATTEMPTS ? 'failed' : 'queued';
  }
  return job.status;
}

/** Where a job goes after a failure (or a lost lease) on attempt `attempts`. */
export function afterFailure(
  attempts: number,
  retryable: boolean,
): Extract<ProcessingTransition, 'retryLater' | 'fail'> {
  return retryable && attempts < MAX_PROCESSING_ATTEMPTS ? 'retryLater' : 'fail';
}

/** Backoff before a retryable failure's next attempt: 15 s, 30 s, 1 min, … at most 10 min. */
export function processingBackoffMs(attempts: number): number {
  return Math.min(15_000 * 2 ** Math.max(0, attempts - 1), 600_000);
}

/** What a recording must be for an MP4 to be made of it. */
export interface ProcessingSubject {
  phase: Phase;
  format: 'webm' | 'asciicast';
  recordingStatus: RecordingStatus;
}

/** Why an MP4 cannot be made of a recording (null: it can): the API's status, code and message. */
export function processingRefusal(
  subject: ProcessingSubject,
): { status: 409 | 410 | 422; code: string; message: string } | null {
  const { phase, format, recordingStatus } = subject;
  if (format !== 'webm') {
    return {
      status: 422,
      code: 'not_a_video',
      message: 'This session is a terminal log; there is no video to convert.',
    };
  }
  if (isOngoing(phase)) {
    return { status: 409, code: 'session_live', message: 'The session is still going; its recording is not sealed.' };
  }
  if (phase === 'ended' || phase === 'sealing') {
    return { status: 409, code: 'not_sealed', message: 'The recording is not sealed yet.' };
  }
  if (phase === 'deleted') {
    return { status: 410, code: 'media_deleted', message: "The session's media has been deleted." };
  }
  if (phase === 'archived') {
    return { status: 409, code: 'recording_archived', message: 'The recording is archived.' };
  }
  if (phase === 'failed') {
    return { status: 409, code: 'recording_failed', message: 'Sealing failed; there is no recording to convert.' };
  }
  if (recordingStatus === 'disabled') {
    return { status: 409, code: 'recording_disabled', message: 'The session was not recorded (recording off).' };
  }
  if (recordingStatus !== 'ready') {
    return { status: 409, code: 'recording_empty', message: 'The recording holds no video.' };
  }
  return null;
}
