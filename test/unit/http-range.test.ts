import { describe, expect, it } from 'vitest';
import { parseRange } from '../../worker/http-range.ts';

describe('parseRange', () => {
  it.each([
    ['bytes=0-99', { kind: 'range', offset: 0, length: 100 }],
    ['bytes=100-', { kind: 'range', offset: 100, length: 900 }],
    ['bytes=-100', { kind: 'range', offset: 900, length: 100 }],
    ['bytes=-5000', { kind: 'range', offset: 0, length: 1000 }],
    ['bytes=990-5000', { kind: 'range', offset: 990, length: 10 }],
    ['bytes=1000-', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=0-1,5-9', { kind: 'none' }],
    ['bytes=9-1', { kind: 'none' }],
    ['items=0-1', { kind: 'none' }],
    [undefined, { kind: 'none' }],
  ])('%s of 1000 bytes', (header, expected) => {
    expect(parseRange(header, 1000)).toEqual(expected);
  });
});
