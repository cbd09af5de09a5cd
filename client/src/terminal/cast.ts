/**
 * An SSH session's terminal log (asciicast v2, protocol/asciicast.ts) as the console reads it: live pieces,
 * the minutes the log is cut into, and the quiet stretches "skip inactivity" jumps over. Recorded text is
 * hostile: it only ever reaches the page through xterm.js or as text.
 */
import { CastEvent, CastHeader } from '../../../protocol/asciicast.ts';
import type { IdleStretch } from '../player/idle.ts';

export type { CastEvent, CastHeader };

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A live header piece (seq 0); throws when it is not one. */
export function parseHeaderPiece(bytes: Uint8Array): CastHeader {
  return CastHeader.parse(JSON.parse(decoder.decode(bytes)));
}

/** A live event piece (seq ≥ 1): one event per line; throws on the first line that is not one. */
export function parseEventPiece(bytes: Uint8Array): CastEvent[] {
  const events: CastEvent[] = [];
  for (const line of decoder.decode(bytes).split('\n')) {
    if (line.trim() !== '') events.push(CastEvent.parse(JSON.parse(line)));
  }
  return events;
}

/** Milliseconds on the session clock. */
export function eventMs(event: CastEvent): number {
  return Math.round(event[0] * 1000);
}

/** `COLSxROWS` of a resize event, within what a terminal can show; null when malformed. */
export function resizeTo(data: string): { cols: number; rows: number } | null {
  const match = /^(\d{1,4})x(\d{1,4})$/.exec(data);
  if (!match) return null;
  const clamp = (n: number) => Math.max(1, Math.min(1000, n));
  return { cols: clamp(Number(match[1])), rows: clamp(Number(match[2])) };
}

const MINUTE_MS = 60_000;
/** Characters of a minute's first printed line shown beside it. */
const PREVIEW_CHARS = 80;

// Escape sequences (CSI, OSC, two-byte) and control characters: what a line preview leaves out.
// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences are control characters
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]|[\x00-\x09\x0b-\x1f\x7f]/g;

/** Printed text without escape sequences, as plain lines. */
export function plainLines(text: string): string[] {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(ESCAPES, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

export interface MinuteSegment {
  /** 1-based, as people count minutes. */
  number: number;
  fromMs: number;
  toMs: number;
  /** Characters printed in the minute. */
  printed: number;
  /** The first line printed in the minute, escape sequences removed, cut short. */
  preview: string;
}

/** The log cut into one-minute segments over `durationMs` (at least one, so a short session has its start). */
export function minuteSegments(events: readonly CastEvent[], durationMs: number): MinuteSegment[] {
  const count = Math.max(1, Math.ceil(durationMs / MINUTE_MS));
  const output: string[][] = Array.from({ length: count }, () => []);
  for (const event of events) {
    if (event[1] !== 'o') continue;
    output[Math.min(count - 1, Math.floor(eventMs(event) / MINUTE_MS))]?.push(event[2]);
  }
  return output.map((parts, i) => {
    const text = parts.join('');
    return {
      number: i + 1,
      fromMs: i * MINUTE_MS,
      toMs: Math.min(durationMs, (i + 1) * MINUTE_MS),
      printed: text.length,
      preview: (plainLines(text)[0] ?? '').slice(0, PREVIEW_CHARS),
    };
  });
}

/** After the last output before a pause, this much is still played, so the output can be read. */
const LINGER_MS = 1000;

/** Stretches of at least `minMs` with nothing printed or typed, for skip inactivity. */
export function quietStretches(events: readonly CastEvent[], durationMs: number, minMs: number): IdleStretch[] {
  const stretches: IdleStretch[] = [];
  let previous: number | null = null;
  for (const at of [...events.map(eventMs), durationMs]) {
    const fromMs = previous === null ? 0 : previous + LINGER_MS;
    if (at - fromMs >= minMs) stretches.push({ fromMs, toMs: at });
    previous = Math.max(previous ?? 0, at);
  }
  return stretches;
}
