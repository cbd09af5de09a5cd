/**
 * A process's names and arguments as the kernel holds them — bytes, any bytes — made into event text that is
 * faithful (every byte can be read back) and safe (nothing in it can drive a terminal or a console page), and
 * bounded. Shared by both process captures (processes.ts, process-events.ts).
 */
import { MAX_EVENT_TEXT } from '../../../../protocol/activity.ts';
import { HIDDEN_CHARACTERS } from '../../../../protocol/identifier.ts';
import { redactArgv } from '../../../../protocol/redaction.ts';

/** Longest name, path or user (the event schema's `short`). */
export const SHORT = 4096;
/**
 * Each argument is cut to this before redaction: past the event's limit, plus room so a secret that starts
 * inside the shown text is still whole when the rules look at it (the longest rule-bound secret is far shorter).
 */
const ARGUMENT_BOUND = MAX_EVENT_TEXT + 4096;
/** A byte that is not UTF-8 becomes U+DC80+byte (Python's "surrogateescape"): kept, and told apart from text. */
const ESCAPED_BYTE_BASE = 0xdc00;

/** `bytes` as text; each byte of an invalid UTF-8 sequence kept as a lone surrogate (shown as `\xNN` later). */
export function decodeBytes(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // not UTF-8 throughout: decode what is, keep the rest byte by byte
  }
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const length = sequenceLength(bytes, i);
    if (length === 0) {
      out += String.fromCharCode(ESCAPED_BYTE_BASE + (bytes[i] as number));
      i++;
    } else {
      out += new TextDecoder().decode(bytes.subarray(i, i + length));
      i += length;
    }
  }
  return out;
}

/** The length of the valid UTF-8 sequence at `i`, 0 if there is none (RFC 3629: no overlongs, no surrogates). */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i] as number;
  if (b0 < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => {
    const b = bytes[i + k];
    return b !== undefined && b >= lo && b <= hi;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if (b0 === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b0 >= 0xe1 && b0 <= 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b0 === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xf1 && b0 <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\x1b': '\\e' };

/** One hidden character (or kept byte) as an escape bash's `$'…'` reads back: `\e`, `\x07`, `\xff`, `\u202e`. */
function escapeOf(char: string): string {
  const named = NAMED[char];
  if (named) return named;
  const code = char.codePointAt(0) ?? 0;
  if (code >= ESCAPED_BYTE_BASE + 0x80 && code <= ESCAPED_BYTE_BASE + 0xff) {
    return `\\x${(code - ESCAPED_BYTE_BASE).toString(16)}`;
  }
  if (code < 0x80) return `\\x${code.toString(16).padStart(2, '0')}`;
  return code > 0xffff ? `\\U${code.toString(16).padStart(8, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

function hasHidden(text: string): boolean {
  HIDDEN_CHARACTERS.lastIndex = 0;
  const found = HIDDEN_CHARACTERS.test(text);
  HIDDEN_CHARACTERS.lastIndex = 0;
  return found;
}

/**
 * A name or a path to show: its hidden characters and kept bytes as escapes. Text that needs none is
 * unchanged; where there are escapes a backslash is doubled too, so `\e` in the text reads back unambiguously.
 */
export function visibleName(text: string): string {
  if (!hasHidden(text)) return text.slice(0, SHORT);
  return text.replaceAll('\\', '\\\\').replace(HIDDEN_CHARACTERS, escapeOf).slice(0, SHORT);
}

/** One argument as a shell would take it back: bare, single-quoted, or `$'…'` when it holds hidden characters. */
function quoteArgument(arg: string): string {
  if (hasHidden(arg)) {
    return `$'${arg.replaceAll('\\', '\\\\').replaceAll("'", "\\'").replace(HIDDEN_CHARACTERS, escapeOf)}'`;
  }
  return arg === '' || /[\s'"\\$`]/.test(arg) ? `'${arg.replaceAll("'", `'\\''`)}'` : arg;
}

/** argv as a readable command line: arguments with spaces or quotes are single-quoted, hidden characters escaped. */
export function formatCommandLine(argv: readonly string[]): string {
  return argv.map(quoteArgument).join(' ');
}

/**
 * /proc/PID/cmdline (NUL-terminated arguments) as argv. Trailing empty arguments are padding (a program that
 * rewrote its title, like sshd or postgres, leaves NULs behind it) and are dropped.
 */
export function argvOf(cmdline: Uint8Array): string[] {
  const argv: string[] = [];
  for (let start = 0; start < cmdline.length; ) {
    let end = cmdline.indexOf(0, start);
    if (end < 0) end = cmdline.length;
    argv.push(decodeBytes(cmdline.subarray(start, Math.min(end, start + ARGUMENT_BOUND))));
    start = end + 1;
  }
  while (argv.at(-1) === '') argv.pop();
  return argv;
}

/**
 * The event's `commandLine`: redacted argument by argument (protocol/redaction.ts) while an option and its
 * value are still apart, then quoted, then cut to the event's limit. `cmdlineBytes` is the size of the whole
 * cmdline and `complete` whether all of it was read; a cut line says how long it was.
 */
export function commandLineOf(
  argv: readonly string[],
  fallbackName: string,
  cmdlineBytes: number,
  complete = true,
): string {
  if (argv.length === 0) return `[${visibleName(fallbackName)}]`;
  const line = formatCommandLine(redactArgv(argv.map((arg) => arg.slice(0, ARGUMENT_BOUND))).argv);
  if (line.length <= MAX_EVENT_TEXT && complete) return line;
  const note = ` [cut: the command line is ${cmdlineBytes} bytes]`;
  let cut = MAX_EVENT_TEXT - note.length;
  const last = line.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--; // not half a character
  return `${line.slice(0, cut)}${note}`;
}
