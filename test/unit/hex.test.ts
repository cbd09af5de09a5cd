import { describe, expect, it } from 'vitest';
import { fromHex, hex } from '../../protocol/hex.ts';

describe('hex', () => {
  it('spells bytes as two lowercase digits each, from a Uint8Array or an ArrayBuffer', () => {
    expect(hex(new Uint8Array([0, 1, 0x0f, 0x10, 0xab, 0xff]))).toBe('00010f10abff');
    expect(hex(new Uint8Array([0xde, 0xad]).buffer)).toBe('dead');
    expect(hex(new Uint8Array())).toBe('');
  });

  it('spells only a view, not the rest of its buffer', () => {
    expect(hex(new Uint8Array([1, 2, 3, 4]).subarray(1, 3))).toBe('0203');
  });

  it('reads back what it writes, and refuses anything but lowercase hex pairs', () => {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    expect(fromHex(hex(bytes))).toEqual(bytes);
    for (const bad of ['ABCD', 'abc', 'zz', '0x00']) expect(() => fromHex(bad)).toThrow(TypeError);
  });
});
