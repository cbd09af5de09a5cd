/** The session lifecycle (protocol/lifecycle.ts): every phase, every transition taken and refused. */
import { describe, expect, it } from 'vitest';
import {
  acceptsRecording,
  allows,
  apply,
  hasLiveState,
  isOngoing,
  isSealed,
  type LifecycleFields,
  Phase,
  phaseOf,
  TRANSITIONS,
  type Transition,
  TransitionRefused,
  transition,
} from '../../protocol/lifecycle.ts';
import { RecordingStatus, SessionStatus } from '../../protocol/session.ts';

/** The phase of every stored pair, written out by hand. */
const STORED: Array<[SessionStatus, RecordingStatus, Phase]> = [
  ['pending', 'disabled', 'launched'],
  ['pending', 'recording', 'launched'],
  ['active', 'disabled', 'live'],
  ['active', 'recording', 'live'],
  ['ended', 'recording', 'ended'],
  ['ended', 'finalizing', 'ended'],
  ['ended', 'disabled', 'sealed'],
  ['ended', 'ready', 'sealed'],
  ['ended', 'empty', 'sealed'],
  ['ended', 'failed', 'failed'],
];

/** Where each transition may be taken from, written out by hand (not read from TRANSITIONS). */
const ALLOWED: Record<Transition, Phase[]> = {
  start: ['launched'],
  end: ['launched', 'live'],
  endUnrecorded: ['launched', 'live'],
  beginSeal: ['ended'],
  sealed: ['sealing'],
  retrySeal: ['sealing'],
  sealFailed: ['sealing'],
  beginProcessing: ['sealed'],
  processed: ['processing'],
  archive: ['sealed'],
  delete: ['sealed', 'failed', 'archived'],
  hold: ['sealed', 'failed', 'processing', 'archived'],
};

describe('phaseOf', () => {
  it('names the phase of every status and recording status as stored', () => {
    for (const [status, recordingStatus, phase] of STORED) {
      expect(phaseOf({ status, recordingStatus }), `${status}/${recordingStatus}`).toBe(phase);
    }
    // Every stored pair the enums allow is covered above, except the ones the object never writes.
    const covered = new Set(STORED.map(([s, r]) => `${s}/${r}`));
    for (const status of SessionStatus.options) {
      for (const recordingStatus of RecordingStatus.options) {
        const phase = phaseOf({ status, recordingStatus });
        expect(Phase.options).toContain(phase);
        if (!covered.has(`${status}/${recordingStatus}`)) expect(status).not.toBe('ended');
      }
    }
  });

  it('says sealing only while the object runs a seal, and only of an ended session', () => {
    expect(phaseOf({ status: 'ended', recordingStatus: 'finalizing' }, true)).toBe('sealing');
    expect(phaseOf({ status: 'ended', recordingStatus: 'ready' }, true)).toBe('sealed');
    expect(phaseOf({ status: 'active', recordingStatus: 'recording' }, true)).toBe('live');
  });
});

describe('transitions', () => {
  it('allows each transition from exactly its phases and refuses it from every other', () => {
    for (const name of Object.keys(TRANSITIONS) as Transition[]) {
      for (const phase of Phase.options) {
        if (ALLOWED[name].includes(phase)) {
          expect(allows(phase, name), `${name} from ${phase}`).toBe(true);
          expect(transition(phase, name)).toBe(TRANSITIONS[name].to);
        } else {
          expect(allows(phase, name), `${name} from ${phase}`).toBe(false);
          expect(() => transition(phase, name)).toThrow(TransitionRefused);
        }
      }
    }
  });

  it('writes the stored fields of a recorded session through launch, end and seal', () => {
    const launched: LifecycleFields & { other: string } = {
      status: 'pending',
      recordingStatus: 'recording',
      other: 'kept',
    };
    const live = apply(launched, 'start');
    expect(live).toEqual({ status: 'active', recordingStatus: 'recording', other: 'kept' });
    const ended = apply(live, 'end');
    expect(phaseOf(ended)).toBe('ended');
    expect(ended.recordingStatus).toBe('finalizing');
    expect(apply(ended, 'beginSeal')).toEqual(ended);
    expect(phaseOf(apply(ended, 'retrySeal', true), false)).toBe('ended');
    expect(apply(ended, 'sealed', true, 'ready').recordingStatus).toBe('ready');
    expect(apply(ended, 'sealed', true, 'empty').recordingStatus).toBe('empty');
    expect(phaseOf(apply(ended, 'sealFailed', true))).toBe('failed');
  });

  it('seals a session recorded with recording off as it ends', () => {
    const sealed = apply({ status: 'active', recordingStatus: 'disabled' }, 'endUnrecorded');
    expect(phaseOf(sealed)).toBe('sealed');
  });

  it('refuses what the phase does not allow, naming both', () => {
    const sealed: LifecycleFields = { status: 'ended', recordingStatus: 'ready' };
    expect(() => apply(sealed, 'end')).toThrow('a session cannot end while sealed');
    expect(() => apply({ status: 'ended', recordingStatus: 'finalizing' }, 'sealed')).toThrow(TransitionRefused);
    expect(() => apply({ status: 'active', recordingStatus: 'recording' }, 'start')).toThrow(TransitionRefused);
  });

  it('does not yet store the phases of the recording lifecycle', () => {
    expect(() => apply({ status: 'ended', recordingStatus: 'ready' }, 'archive')).toThrow(TransitionRefused);
  });
});

describe('predicates', () => {
  it('answers each question for every phase', () => {
    const table: Record<Phase, [ongoing: boolean, accepts: boolean, sealed: boolean, live: boolean]> = {
      launched: [true, true, false, true],
      live: [true, true, false, true],
      ended: [false, true, false, true],
      sealing: [false, false, false, true],
      sealed: [false, false, true, false],
      failed: [false, false, true, false],
      processing: [false, false, true, false],
      archived: [false, false, true, false],
      deleted: [false, false, false, false],
      held: [false, false, true, false],
    };
    for (const phase of Phase.options) {
      expect([isOngoing(phase), acceptsRecording(phase), isSealed(phase), hasLiveState(phase)], phase).toEqual(
        table[phase],
      );
    }
  });
});
