/**
 * Text from outside (a server's reply, a manifest, an administrator's message, an SSH login name) as the
 * command-line tools print it: every character that a terminal would act on or that shows nothing is written
 * as an escape you can read, so such text can neither clear the screen nor fake a line of output.
 */
import { HIDDEN_CHARACTERS } from '../../protocol/identifier.ts';

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** One hidden character as an escape: `\n`, `\x1b`, `\x7f` for C0 and DEL, `\u{9b}`, `\u{202e}` for the rest. */
function escapeOf(char: string): string {
  const named = NAMED[char];
  if (named) return named;
  const code = char.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, '0')}`;
  return `\\u{${code.toString(16)}}`;
}

/**
 * `text` with its control, bidi and invisible characters (protocol/identifier.ts, HIDDEN_CHARACTERS) shown as
 * escapes. A backslash already in the text is left as it is: the output is for people, not for parsing back.
 * Use it on whole lines the tool composes from outside text: its own text has no such characters to lose.
 */
export function showEscapes(text: string): string {
  return text.replace(HIDDEN_CHARACTERS, escapeOf);
}
