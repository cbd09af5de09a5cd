/**
 * A session's lifecycle: its phases, the transitions between them, and one predicate per question callers ask.
 * The session object (durable/) and the Worker (worker/) both decide through this module alone; nothing else
 * compares statuses. A phase is derived from what is stored — the session's `status` and its recording's
 * `recordingStatus` (protocol/session.ts), in the object's record and in D1 alike — so the two can never disagree
 * about what a pair of them means.
 *
 *   launched ──start──▶ live ──end──▶ ended ──beginSeal──▶ sealing ──sealed──▶ sealed ──▶ processing ⇄
 *       └────────end─────────┘          ▲                     │ └──sealFailed──▶ failed        archived
 *                                       └────retrySeal────────┘                         deleted, held
 *
 * A session recorded with recording off has nothing to seal: `end` takes it straight to `sealed`.
 * `processing`, `archived`, `deleted` and `held` are the recording lifecycle's (MP4 processing, retention, legal
 * hold); their transitions are here so that it has one place to grow, but nothing stores them yet.
 */
import { z } from 'zod';
import type { RecordingStatus, SessionStatus } from './session.ts';

export const Phase = z.enum([
  'launched',
  'live',
  'ended',
  'sealing',
  'sealed',
  'failed',
  'processing',
  'archived',
  'deleted',
  'held',
]);
export type Phase = z.infer<typeof Phase>;

/** What the phase is derived from, as the session object and D1 both store it. */
export interface LifecycleFields {
  status: SessionStatus;
  recordingStatus: RecordingStatus;
}

/**
 * The phase of a stored session. `sealing` is never stored: only the session object knows a seal is running, and
 * says so with `sealing`.
 */
export function phaseOf(fields: LifecycleFields, sealing = false): Phase {
  if (fields.status === 'pending') return 'launched';
  if (fields.status === 'active') return 'live';
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
  beginProcessing: { from: ['sealed'], to: 'processing' },
  processed: { from: ['processing'], to: 'sealed' },
  archive: { from: ['sealed'], to: 'archived' },
  delete: { from: ['sealed', 'failed', 'archived'], to: 'deleted' },
  hold: { from: ['sealed', 'failed', 'processing', 'archived'], to: 'held' },
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
    default:
      throw new TransitionRefused(name, phaseOf(fields, sealing)); // not stored yet (see the module's note)
  }
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
  return phase === 'sealed' || phase === 'failed' || phase === 'processing' || phase === 'archived' || phase === 'held';
}

/** Whether what the session object holds live (sockets, the piece count so far) can still change. */
export function hasLiveState(phase: Phase): boolean {
  return !isSealed(phase) && phase !== 'deleted';
}
