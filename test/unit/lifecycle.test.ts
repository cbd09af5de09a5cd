/** The session lifecycle (protocol/lifecycle.ts): every phase, every transition taken and refused. */
import { describe, expect, it } from 'vitest';
import {
  acceptsRecording,
  allows,
  apply,
  hasLiveState,
  holdAllows,
  isMediaDeleted,
  isOngoing,
  isSealed,
  type LifecycleFields,
  Phase,
  phaseOf,
  RetentionMark,
  retentionAllows,
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
  archive: ['sealed', 'failed'],
  delete: ['sealed', 'failed', 'archived'],
  finishDelete: ['deleted'],
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
});

describe('retention', () => {
  const sealed: LifecycleFields = { status: 'ended', recordingStatus: 'ready' };

  it('derives archived and deleted from the retention mark, over the recording status', () => {
    const marks: Array<[RetentionMark | null | undefined, Phase]> = [
      [undefined, 'sealed'],
      [null, 'sealed'],
      ['archived', 'archived'],
      ['deleting', 'deleted'],
      ['deleted', 'deleted'],
    ];
    for (const [retention, phase] of marks) expect(phaseOf({ ...sealed, retention }), String(retention)).toBe(phase);
    expect(phaseOf({ status: 'ended', recordingStatus: 'failed', retention: 'archived' })).toBe('archived');
    expect(RetentionMark.options).toEqual(['archived', 'deleting', 'deleted']);
  });

  it('archives, deletes and finishes a deletion, writing the mark and keeping the rest', () => {
    const row = { ...sealed, other: 'kept' };
    const archived = apply(row, 'archive');
    expect(archived).toEqual({ ...row, retention: 'archived' });
    const deleting = apply(archived, 'delete');
    expect(deleting).toEqual({ ...row, retention: 'deleting' });
    expect(phaseOf(deleting)).toBe('deleted');
    expect(apply(deleting, 'finishDelete')).toEqual({ ...row, retention: 'deleted' });
    // Straight from sealed, and from a failed recording (its pieces are media too).
    expect(apply(row, 'delete').retention).toBe('deleting');
    const failed: LifecycleFields = { status: 'ended', recordingStatus: 'failed' };
    expect(apply(failed, 'archive').retention).toBe('archived');
  });

  it('refuses to archive or delete twice, to finish a deletion not under way, and to touch a live session', () => {
    const archived: LifecycleFields = { ...sealed, retention: 'archived' };
    const deleted: LifecycleFields = { ...sealed, retention: 'deleted' };
    expect(() => apply(archived, 'archive')).toThrow('a session cannot archive while archived');
    expect(() => apply(deleted, 'delete')).toThrow('a session cannot delete while deleted');
    expect(() => apply(deleted, 'finishDelete')).toThrow('a session cannot finishDelete while deleted');
    expect(() => apply(sealed, 'finishDelete')).toThrow('a session cannot finishDelete while sealed');
    expect(() => apply({ status: 'active', recordingStatus: 'recording' }, 'delete')).toThrow(TransitionRefused);
    expect(() => apply({ status: 'ended', recordingStatus: 'finalizing' }, 'archive')).toThrow(TransitionRefused);
  });

  it('places a hold in every phase whose media exists, once, and releases only a held session', () => {
    for (const phase of Phase.options) {
      expect(holdAllows(phase, false, 'hold'), `hold ${phase}`).toBe(phase !== 'deleted');
      expect(holdAllows(phase, true, 'hold'), `hold held ${phase}`).toBe(false);
      expect(holdAllows(phase, true, 'release'), `release ${phase}`).toBe(true);
      expect(holdAllows(phase, false, 'release'), `release unheld ${phase}`).toBe(false);
    }
  });

  it('never deletes a held session, and archives it like any other', () => {
    for (const phase of Phase.options) {
      expect(retentionAllows(phase, true, 'delete'), `held ${phase}`).toBe(false);
      expect(retentionAllows(phase, false, 'delete'), phase).toBe(ALLOWED.delete.includes(phase));
      expect(retentionAllows(phase, true, 'archive'), `held ${phase}`).toBe(ALLOWED.archive.includes(phase));
      expect(retentionAllows(phase, false, 'archive'), phase).toBe(ALLOWED.archive.includes(phase));
    }
  });
});

describe('predicates', () => {
  it('answers each question for every phase', () => {
    type Answers = [ongoing: boolean, accepts: boolean, sealed: boolean, live: boolean, mediaDeleted: boolean];
    const table: Record<Phase, Answers> = {
      launched: [true, true, false, true, false],
      live: [true, true, false, true, false],
      ended: [false, true, false, true, false],
      sealing: [false, false, false, true, false],
      sealed: [false, false, true, false, false],
      failed: [false, false, true, false, false],
      archived: [false, false, true, false, false],
      // Deleted media leaves a closed record: its manifest and audit trail stay.
      deleted: [false, false, true, false, true],
    };
    for (const phase of Phase.options) {
      expect(
        [isOngoing(phase), acceptsRecording(phase), isSealed(phase), hasLiveState(phase), isMediaDeleted(phase)],
        phase,
      ).toEqual(table[phase]);
    }
  });
});
