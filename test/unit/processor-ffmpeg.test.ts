/** witness-processor's ffmpeg parts: its arguments, progress lines and stderr tail (agents/processor/src/ffmpeg.ts). */
import { describe, expect, it } from 'vitest';
import { conversionArgs, progressMs, StderrTail } from '../../agents/processor/src/ffmpeg.ts';
import { STDERR_TAIL_BYTES } from '../../protocol/processing.ts';

describe('conversionArgs', () => {
  it('reads WebM from stdin and writes one yuv420p track with +faststart', () => {
    const args = conversionArgs('h264', '/tmp/out.mp4');
    const argAfter = (flag: string) => args[args.indexOf(flag) + 1];
    expect(argAfter('-i')).toBe('pipe:0');
    expect(argAfter('-map')).toBe('0:v:0');
    expect(argAfter('-c:v')).toBe('libx264');
    expect(argAfter('-pix_fmt')).toBe('yuv420p');
    expect(argAfter('-movflags')).toBe('+faststart');
    expect(args.at(-1)).toBe('/tmp/out.mp4');
    expect(conversionArgs('hevc', 'o.mp4')).toEqual(expect.arrayContaining(['libx265', 'hvc1']));
  });
});

describe('progressMs', () => {
  it('reads out_time_us lines only', () => {
    expect(progressMs('out_time_us=1500000')).toBe(1500);
    expect(progressMs('out_time_ms=1500000')).toBeNull();
    expect(progressMs('progress=continue')).toBeNull();
  });
});

describe('StderrTail', () => {
  it('keeps the last lines, at most its limit', () => {
    const tail = new StderrTail();
    for (let i = 0; i < 500; i++) tail.push(`line ${i}: something went on\n`);
    tail.push('the real error\n');
    const text = tail.toString();
    expect(text.length).toBeLessThanOrEqual(STDERR_TAIL_BYTES);
    expect(text.endsWith('the real error')).toBe(true);
    expect(text.startsWith('line ')).toBe(true);
    const short = new StderrTail();
    short.push('only this\n');
    expect(short.toString()).toBe('only this');
  });
});
