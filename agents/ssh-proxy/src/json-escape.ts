/**
 * JSON string escaping done on UTF-8 bytes: recorded output goes from the SSH packet into the cast piece
 * without becoming a JS string. The result is byte for byte what `JSON.stringify(text)` (without its quotes)
 * encodes to in UTF-8, where `text` is the bytes decoded — JSON escapes only `"`, `\` and characters below
 * U+0020, which in UTF-8 are single bytes that never occur inside a multi-byte character (and valid UTF-8
 * holds no lone surrogates, the only other characters JSON.stringify escapes).
 */

/** At most this many bytes are written per input byte (`\u001b`). */
export const MAX_ESCAPED_BYTES_PER_BYTE = 6;

/** For each byte: 0 copied as is, 1 escaped. */
const ESCAPED = new Uint8Array(256);
/** The letter of a two-character escape (`\n`), 0 for the `\u00XX` form. */
const SHORT = new Uint8Array(256);
for (let byte = 0; byte < 0x20; byte++) ESCAPED[byte] = 1;
ESCAPED[0x22] = ESCAPED[0x5c] = 1;
for (const [byte, letter] of [
  [0x08, 'b'],
  [0x09, 't'],
  [0x0a, 'n'],
  [0x0c, 'f'],
  [0x0d, 'r'],
  [0x22, '"'],
  [0x5c, '\\'],
] as const) {
  SHORT[byte] = letter.charCodeAt(0);
}
/** Lower-case, as JSON.stringify writes them. */
const HEX = Buffer.from('0123456789abcdef');

/**
 * Writes `src[start, end)` — valid UTF-8 (check with `buffer.isUtf8`), whole characters — JSON-escaped into
 * `dst` at `at` (`dstView` is a DataView over `dst`); returns where it ended. `dst` needs room for
 * MAX_ESCAPED_BYTES_PER_BYTE × (end − start) bytes.
 */
export function escapeUtf8(
  src: Uint8Array,
  start: number,
  end: number,
  dst: Uint8Array,
  dstView: DataView,
  at: number,
): number {
  const srcView = new DataView(src.buffer, src.byteOffset, src.byteLength);
  let i = start;
  // Four bytes at a time while none of them needs escaping (bit tricks: a byte below 0x20, or equal to 0x22
  // or 0x5c, sets its top bit in the test word; other bytes, 0x80 and up included, never do).
  while (i + 4 <= end) {
    const word = srcView.getInt32(i, true);
    const quote = word ^ 0x22222222;
    const backslash = word ^ 0x5c5c5c5c;
    const marked =
      (((word - 0x20202020) & ~word) | ((quote - 0x01010101) & ~quote) | ((backslash - 0x01010101) & ~backslash)) &
      0x80808080;
    if (marked === 0) {
      dstView.setInt32(at, word, true);
      at += 4;
      i += 4;
      continue;
    }
    for (const stop = i + 4; i < stop; i++) at = escapeByte(src[i] as number, dst, at);
  }
  for (; i < end; i++) at = escapeByte(src[i] as number, dst, at);
  return at;
}

function escapeByte(byte: number, dst: Uint8Array, at: number): number {
  if (ESCAPED[byte] === 0) {
    dst[at] = byte;
    return at + 1;
  }
  dst[at] = 0x5c;
  const letter = SHORT[byte] as number;
  if (letter !== 0) {
    dst[at + 1] = letter;
    return at + 2;
  }
  dst[at + 1] = 0x75; // u
  dst[at + 2] = 0x30;
  dst[at + 3] = 0x30;
  dst[at + 4] = HEX[byte >> 4] as number;
  dst[at + 5] = HEX[byte & 0xf] as number;
  return at + 6;
}

/**
 * How many leading bytes of `bytes` end on a character boundary: all of them, less a last character that
 * has begun but not ended (its lead byte says it needs more bytes than follow it). A streaming decoder
 * holds exactly those bytes back for the next chunk.
 */
export function completeLength(bytes: Uint8Array): number {
  const length = bytes.length;
  for (let back = 1; back <= 4 && back <= length; back++) {
    const byte = bytes[length - back] as number;
    if ((byte & 0xc0) === 0x80) continue;
    const needs = (byte & 0xe0) === 0xc0 ? 2 : (byte & 0xf0) === 0xe0 ? 3 : (byte & 0xf8) === 0xf0 ? 4 : 1;
    return needs > back ? length - back : length;
  }
  return length;
}
