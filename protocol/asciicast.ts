/**
 * asciicast v2, the recording format of SSH sessions (https://docs.asciinema.org/manual/asciicast/v2/):
 * a header line (a JSON object), then one JSON array `[seconds, code, data]` per line. Pieces are cut at line
 * boundaries, so concatenating pieces 0, 1, 2, … gives a `.cast` file asciinema plays.
 *
 * The Worker checks every piece with these functions before it is stored; the console and the SSH proxy use
 * the same types.
 */
import { z } from 'zod';

/** Largest header piece (seq 0). */
export const MAX_CAST_HEADER_BYTES = 64 * 1024;
/** Largest event piece; the proxy cuts a piece every second or at 512 KiB. */
export const MAX_CAST_PIECE_BYTES = 1024 * 1024;

export const CastHeader = z.looseObject({
  version: z.literal(2),
  width: z.number().int().min(1).max(1000),
  height: z.number().int().min(1).max(1000),
  timestamp: z.number().int().min(0).optional(),
  title: z.string().max(4096).optional(),
  env: z.record(z.string(), z.string().max(4096)).optional(),
});
export type CastHeader = z.infer<typeof CastHeader>;

/** `o` output the server printed, `i` input the client sent, `r` resize (`COLSxROWS`), `m` marker. */
export const CastCode = z.enum(['o', 'i', 'r', 'm']);
export type CastCode = z.infer<typeof CastCode>;

/** No upper bound on time: a session with no maximum length may run for weeks. */
export const CastEvent = z.tuple([z.number().min(0), CastCode, z.string()]);
export type CastEvent = z.infer<typeof CastEvent>;

const RESIZE = /^\d{1,4}x\d{1,4}$/;

/** What a valid event piece holds: its span on the session clock, read from its own lines. */
export interface CastPieceSummary {
  events: number;
  /** Time of the first event, ms, rounded down. */
  startMs: number;
  /** Time of the last event, ms, rounded up. */
  endMs: number;
}

/**
 * Seconds to milliseconds without binary floating-point noise: 1.001 s is 1000.9999999999999 ms when
 * multiplied out, which `Math.floor` would make 1000. Rounding at the microsecond first keeps it 1001.
 */
export function castMs(seconds: number): number {
  return Math.round(seconds * 1e6) / 1e3;
}

/** Splits a piece into its lines; a piece must end with "\n" and hold no empty line. */
function lines(text: string): string[] | string {
  if (!text.endsWith('\n')) return 'the piece must end with a newline';
  const parts = text.slice(0, -1).split('\n');
  if (parts.some((line) => line.trim() === '')) return 'the piece holds an empty line';
  return parts;
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/** Checks the header piece (seq 0). Returns a problem, or null when it is a valid asciicast v2 header. */
export function checkCastHeader(text: string): string | null {
  const parts = lines(text);
  if (typeof parts === 'string') return parts;
  if (parts.length !== 1) return 'piece 0 must be exactly one line: the asciicast v2 header';
  const header = CastHeader.safeParse(parseJson(parts[0] as string));
  if (!header.success) return 'piece 0 is not an asciicast v2 header ({"version": 2, "width", "height", …})';
  return null;
}

/**
 * Checks an event piece (seq ≥ 1): every line an event, times never going back, resize data well formed, and
 * no keystroke input (`i`) when the session does not record keystrokes (`input: false`). Returns the summary,
 * or a problem naming the first bad line.
 */
export function checkCastEvents(text: string, { input = true }: { input?: boolean } = {}): CastPieceSummary | string {
  const parts = lines(text);
  if (typeof parts === 'string') return parts;
  let previous = 0;
  let first = 0;
  for (const [index, line] of parts.entries()) {
    const event = CastEvent.safeParse(parseJson(line));
    if (!event.success) return `line ${index + 1} is not an asciicast event [seconds, "o"|"i"|"r"|"m", text]`;
    const [time, code, data] = event.data;
    if (index === 0) first = time;
    else if (time < previous) return `line ${index + 1} goes back in time (${time} s after ${previous} s)`;
    if (code === 'r' && !RESIZE.test(data)) return `line ${index + 1}: a resize must read COLSxROWS`;
    if (code === 'i' && !input) {
      return `line ${index + 1} is keystroke input ("i"), and keystroke recording is off for this session`;
    }
    previous = time;
  }
  return { events: parts.length, startMs: Math.floor(castMs(first)), endMs: Math.ceil(castMs(previous)) };
}

/** Parses a whole `.cast` file (header + events) for players; throws on the first malformed line. */
export function parseCast(text: string): { header: CastHeader; events: CastEvent[] } {
  const [head = '', ...rest] = text.split('\n');
  const header = CastHeader.parse(JSON.parse(head));
  const events: CastEvent[] = [];
  for (const line of rest) {
    if (line.trim() === '') continue;
    events.push(CastEvent.parse(JSON.parse(line)));
  }
  return { header, events };
}
