/** MP4 processing in the lifecycle module (protocol/lifecycle.ts): every transition taken and refused. */
import { describe, expect, it } from 'vitest';
import {
  afterFailure,
  MAX_PROCESSING_ATTEMPTS,
  Phase,
  PROCESSING_TRANSITIONS,
  type ProcessingState,
  type ProcessingTransition,
  ProcessingTransitionRefused,
  processingAllows,
  processingBackoffMs,
  processingRefusal,
  processingStatusOf,
  processingTransition,
} from '../../protocol/lifecycle.ts';
import type { RecordingStatus } from '../../protocol/session.ts';

const STATES: ProcessingState[] = ['none', 'queued', 'processing', 'ready', 'failed'];

/** Written out by hand, not read from PROCESSING_TRANSITIONS: from where, to what. */
const EXPECTED: Record<ProcessingTransition, [ProcessingState[], ProcessingState]> = {
  request: [['none'], 'queued'],
  lease: [['queued'], 'processing'],
  progress: [['processing'], 'processing'],
  leaseLost: [['processing'], 'queued'],
  retryLater: [['processing'], 'queued'],
  fail: [['processing'], 'failed'],
  complete: [['processing'], 'ready'],
  retry: [['failed'], 'queued'],
};

describe('processing transitions', () => {
  it('takes each transition from exactly its states and refuses it from every other', () => {
    expect(Object.keys(PROCESSING_TRANSITIONS).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [name, [from, to]] of Object.entries(EXPECTED) as Array<
      [ProcessingTransition, [ProcessingState[], ProcessingState]]
    >) {
      for (const state of STATES) {
        if (from.includes(state)) {
          expect(processingAllows(state, name), `${name} from ${state}`).toBe(true);
          expect(processingTransition(state, name)).toBe(to);
        } else {
          expect(processingAllows(state, name), `${name} from ${state}`).toBe(false);
          expect(() => processingTransition(state, name)).toThrow(ProcessingTransitionRefused);
          expect(() => processingTransition(state, name)).toThrow(`processing cannot ${name} while ${state}`);
        }
      }
    }
  });

  it('ready is final: nothing leaves it', () => {
    for (const name of Object.keys(EXPECTED) as ProcessingTransition[])
      expect(processingAllows('ready', name)).toBe(false);
  });
});

describe('processingStatusOf', () => {
  const now = 1_000_000;
  it('is the stored status, but a lapsed lease is queued again, or failed on the last attempt', () => {
    expect(processingStatusOf(null, now)).toBe('none');
    expect(processingStatusOf({ status: 'queued', attempts: 0, leaseExpiresAt: null }, now)).toBe('queued');
    expect(processingStatusOf({ status: 'processing', attempts: 1, leaseExpiresAt: now + 1 }, now)).toBe('processing');
    expect(processingStatusOf({ status: 'processing', attempts: 1, leaseExpiresAt: now }, now)).toBe('queued');
    expect(
      processingStatusOf({ status: 'processing', attempts: MAX_PROCESSING_ATTEMPTS, leaseExpiresAt: now - 1 }, now),
    ).toBe('failed');
    expect(processingStatusOf({ status: 'ready', attempts: 1, leaseExpiresAt: null }, now)).toBe('ready');
    expect(processingStatusOf({ status: 'failed', attempts: 2, leaseExpiresAt: null }, now)).toBe('failed');
  });
});

describe('failures', () => {
  it('retries a retryable failure until the last attempt, never a deterministic one', () => {
    for (let attempts = 1; attempts < MAX_PROCESSING_ATTEMPTS; attempts++) {
      expect(afterFailure(attempts, true)).toBe('retryLater');
      expect(afterFailure(attempts, false)).toBe('fail');
    }
    expect(afterFailure(MAX_PROCESSING_ATTEMPTS, true)).toBe('fail');
  });

  it('backs off 15 s, doubling, at most 10 minutes', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map(processingBackoffMs)).toEqual([
      15_000, 30_000, 60_000, 120_000, 240_000, 480_000, 600_000,
    ]);
  });
});

describe('processingRefusal', () => {
  it('allows a sealed, ready video only; names why for every other', () => {
    const codes: Record<Phase, string | null> = {
      launched: 'session_live',
      live: 'session_live',
      ended: 'not_sealed',
      sealing: 'not_sealed',
      sealed: null,
      failed: 'recording_failed',
      archived: 'recording_archived',
      deleted: 'media_deleted',
    };
    for (const phase of Phase.options) {
      expect(processingRefusal({ phase, format: 'webm', recordingStatus: 'ready' })?.code ?? null, phase).toBe(
        codes[phase],
      );
      expect(processingRefusal({ phase, format: 'asciicast', recordingStatus: 'ready' })?.code).toBe('not_a_video');
    }
    const sealedAs: Partial<Record<RecordingStatus, string>> = {
      disabled: 'recording_disabled',
      empty: 'recording_empty',
    };
    for (const recordingStatus of ['disabled', 'empty'] as const) {
      expect(processingRefusal({ phase: 'sealed', format: 'webm', recordingStatus })?.code).toBe(
        sealedAs[recordingStatus],
      );
    }
    expect(processingRefusal({ phase: 'deleted', format: 'webm', recordingStatus: 'ready' })?.status).toBe(410);
  });
});
