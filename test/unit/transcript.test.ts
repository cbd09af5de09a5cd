import { describe, expect, it } from 'vitest';
import type { CastEvent } from '../../protocol/asciicast.ts';
import { TranscriptWriter } from '../../worker/exports/transcript.ts';

function transcript(events: CastEvent[]): string {
  const writer = new TranscriptWriter();
  return events.map((e) => writer.event(e)).join('') + writer.end();
}

describe('transcript of a terminal recording', () => {
  it('removes escape sequences even when an event cuts one in two', () => {
    expect(
      transcript([
        [0.1, 'o', '\x1b]0;window tit'],
        [0.2, 'o', 'le\x07$ '],
        [0.3, 'i', 'ls\r'],
        [0.4, 'o', 'ls\r\n\x1b[3'],
        [0.5, 'o', '1mred\x1b[0m file\r\n'],
      ]),
    ).toBe('$ ls\n>>> [0:00:00.300] input: ls\nred file\n');
  });

  it('marks each entered line after the output line it was typed on, as edited, with its first key’s time', () => {
    expect(
      transcript([
        [1, 'o', '$ '],
        [1.5, 'i', 'l'],
        [1.6, 'o', 'l'],
        [1.7, 'i', 'x\x7f'],
        [1.8, 'o', 'x\b \b'],
        [2, 'i', 's\r'],
        [2.1, 'o', 's\r\nfile\r\n'],
        [3661.25, 'm', 'sftp upload /a (1 bytes)'],
      ]),
    ).toBe('$ ls\n>>> [0:00:01.500] input: ls\nfile\n--- [1:01:01.250] marker: sftp upload /a (1 bytes)\n');
  });

  it('keeps what was typed but not entered when the recording ends', () => {
    expect(
      transcript([
        [0, 'o', '$ '],
        [1, 'i', 'half'],
      ]),
    ).toBe('$ \n>>> [0:00:01.000] input: half\n');
  });
});
