/**
 * Names that come from outside (a session's user and target, API key names, display names): printable text
 * only. A name is shown in the console, in terminals (`witness verify`, the launcher, the SSH proxy) and in
 * evidence manifests, so a character that moves the cursor, clears the screen or reorders what follows would
 * let the name forge what an auditor reads.
 */
import { z } from 'zod';

/**
 * Characters that are not seen as themselves: C0 controls (NUL, BEL, ESC, CR, LF, TAB…), DEL and C1 controls
 * (U+009B is a one-byte CSI); the soft hyphen; bidi marks, embeddings, overrides and isolates (U+061C,
 * U+200E–U+200F, U+202A–U+202E, U+2066–U+2069); zero-width characters and the word joiner family
 * (U+200B–U+200D, U+2060–U+2064, U+FEFF, U+180E); the other format characters up to U+206F; the line and
 * paragraph separators U+2028–U+2029; interlinear annotation marks (U+FFF9–U+FFFB); tag characters
 * (U+E0000–U+E007F, invisible "ASCII smuggling"); and lone surrogates.
 *
 * Global: use it with `replace`/`matchAll` only (they do not depend on `lastIndex`).
 */
export const HIDDEN_CHARACTERS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\u{e0000}-\u{e007f}]|\p{Cs}/gu;

/** One character of HIDDEN_CHARACTERS (not global, so `test` keeps no state). */
const HIDDEN_CHARACTER = new RegExp(`^(?:${HIDDEN_CHARACTERS.source})$`, 'u');
const ZERO_WIDTH_JOINERS = new Set(['\u200c', '\u200d']);
const BIDI_CONTROLS = new Set([
  0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069,
]);
const isAscii = (char: string) => char.charCodeAt(0) < 0x80;

/** What kind of hidden character `char` is, for an error message. */
function kind(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) return 'a control character';
  if (code >= 0x80 && code <= 0x9f) return 'a C1 control character';
  if (code === 0x2028 || code === 0x2029) return 'a line separator';
  if (BIDI_CONTROLS.has(code)) return 'a bidirectional control';
  if (code >= 0xd800 && code <= 0xdfff) return 'a lone surrogate';
  return 'an invisible character';
}

/** `U+001B`, `U+202E`, `U+E0041`. */
export function codePointName(char: string): string {
  return `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Why `value` is not a name, or null when it is one. ZWNJ and ZWJ (U+200C, U+200D) are allowed between two
 * non-ASCII characters: Persian and Indic scripts need them inside words, and emoji sequences (👩‍💻) are built
 * with ZWJ; next to ASCII (`al\u200dice`) or at either end they only hide something, and are refused.
 */
export function identifierProblem(value: string): string | null {
  const chars = Array.from(value);
  for (const [index, char] of chars.entries()) {
    if (!HIDDEN_CHARACTER.test(char)) continue;
    if (ZERO_WIDTH_JOINERS.has(char)) {
      const before = chars[index - 1];
      const after = chars[index + 1];
      const joins = before && after && !isAscii(before) && !isAscii(after);
      if (joins && !HIDDEN_CHARACTER.test(before) && !HIDDEN_CHARACTER.test(after)) continue;
    }
    return `must not contain ${kind(char)} (${codePointName(char)} at character ${index + 1})`;
  }
  return null;
}

/**
 * A name from outside, trimmed, 1..`max` characters, without hidden characters (see `identifierProblem`). The
 * check runs before trimming, so a trailing CR or LF is refused rather than quietly dropped. Reading old rows
 * stays lenient (`z.string()`): names stored before this rule still load, and are escaped where printed.
 */
export function identifier(max: number) {
  return z
    .string()
    .superRefine((value, ctx) => {
      const problem = identifierProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, input: value });
    })
    .trim()
    .min(1)
    .max(max);
}
