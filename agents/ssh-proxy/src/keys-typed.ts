/**
 * What an SSH client's input bytes mean as keys: printable text as is, control keys and escape sequences
 * spelled out the way the launcher spells keys (`<Enter>`, `<Ctrl+C>`, `<BackSpace>`, `<Up>`, `<F5>`).
 */

export type TypedKey = KeyMeaning & {
  /** The characters the key was sent as. */
  raw: string;
};

type KeyMeaning =
  | { kind: 'text'; text: string }
  | { kind: 'enter' }
  | { kind: 'backspace' }
  /** Ctrl+letter (and the other C0 controls), with the letter: "C" for Ctrl+C. */
  | { kind: 'ctrl'; letter: string }
  /** Anything else spelled out, or '' for what means nothing to a reader (bracketed-paste markers). */
  | { kind: 'special'; name: string };

const TILDE_KEYS: Record<string, string> = {
  '1': 'Home',
  '2': 'Insert',
  '3': 'Delete',
  '4': 'End',
  '5': 'PageUp',
  '6': 'PageDown',
  '7': 'Home',
  '8': 'End',
  '11': 'F1',
  '12': 'F2',
  '13': 'F3',
  '14': 'F4',
  '15': 'F5',
  '17': 'F6',
  '18': 'F7',
  '19': 'F8',
  '20': 'F9',
  '21': 'F10',
  '23': 'F11',
  '24': 'F12',
};
const FINAL_KEYS: Record<string, string> = {
  A: 'Up',
  B: 'Down',
  C: 'Right',
  D: 'Left',
  H: 'Home',
  F: 'End',
  P: 'F1',
  Q: 'F2',
  R: 'F3',
  S: 'F4',
};

/** xterm's modifier parameter (1 + shift + 2·alt + 4·ctrl) as a prefix: "Ctrl+Shift+". */
function modifiers(param: string | undefined): string {
  const value = Number(param ?? '1') - 1;
  if (!Number.isInteger(value) || value <= 0) return '';
  return `${value & 4 ? 'Ctrl+' : ''}${value & 2 ? 'Alt+' : ''}${value & 1 ? 'Shift+' : ''}`;
}

const special = (name: string): KeyMeaning => ({ kind: 'special', name });

/** Splits decoded input into keys. An escape sequence cut at the end of `text` is spelled as far as it goes. */
export function typedKeys(text: string): TypedKey[] {
  const meanings: KeyMeaning[] = [];
  const keys: TypedKey[] = [];
  let plain = '';
  const flushPlain = () => {
    if (plain) keys.push({ kind: 'text', text: plain, raw: plain });
    plain = '';
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    const code = ch.charCodeAt(0);
    if (code >= 0x20 && code !== 0x7f) {
      plain += ch;
      continue;
    }
    flushPlain();
    const start = i;
    i = controlKey(text, i, meanings);
    const meaning = meanings.pop();
    if (meaning) keys.push({ ...meaning, raw: text.slice(start, i + 1) });
    else if (keys.length > 0) (keys[keys.length - 1] as TypedKey).raw += text.slice(start, i + 1);
  }
  flushPlain();
  return keys;
}

/** Reads the control character or escape sequence at `i`, pushes its key (none for the "\n" of "\r\n"). */
function controlKey(text: string, i: number, keys: KeyMeaning[]): number {
  const ch = text[i] as string;
  const code = ch.charCodeAt(0);
  if (ch === '\r' || ch === '\n') {
    if (ch === '\n' && text[i - 1] === '\r') return i;
    keys.push({ kind: 'enter' });
  } else if (ch === '\x7f' || ch === '\b') {
    keys.push({ kind: 'backspace' });
  } else if (ch === '\t') {
    keys.push(special('Tab'));
  } else if (ch === '\x1b') {
    i = escapeSequence(text, i, keys);
  } else if (code === 0) {
    keys.push(special('Ctrl+Space'));
  } else {
    // 0x01–0x1a are Ctrl+A–Z, 0x1c–0x1f Ctrl+\ ] ^ _.
    keys.push({ kind: 'ctrl', letter: String.fromCharCode(0x40 + code) });
  }
  return i;
}

/** Reads the escape sequence at `start`, pushes its key, returns the index of its last character. */
function escapeSequence(text: string, start: number, keys: KeyMeaning[]): number {
  const next = text[start + 1];
  if (next === undefined) {
    keys.push(special('Esc'));
    return start;
  }
  if (next === '[') {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: an escape sequence starts with ESC
    const match = /^\x1b\[([0-9;]*)([@-~])/.exec(text.slice(start, start + 16));
    if (!match) {
      keys.push(special('Esc'));
      return start;
    }
    const [params, final] = [match[1]?.split(';') ?? [], match[2] as string];
    if (final === '~') {
      const first = params[0] ?? '';
      if (first === '200' || first === '201') keys.push(special(''));
      else keys.push(special(`${modifiers(params[1])}${TILDE_KEYS[first] ?? `Esc[${match[1]}~`}`));
    } else if (final === 'Z') {
      keys.push(special('Shift+Tab'));
    } else {
      keys.push(special(`${modifiers(params[1])}${FINAL_KEYS[final] ?? `Esc[${match[1]}${final}`}`));
    }
    return start + match[0].length - 1;
  }
  if (next === 'O') {
    const final = text[start + 2];
    if (final !== undefined && FINAL_KEYS[final]) {
      keys.push(special(FINAL_KEYS[final] as string));
      return start + 2;
    }
    keys.push(special('Alt+O'));
    return start + 1;
  }
  if (next === '\x7f') {
    keys.push(special('Alt+BackSpace'));
    return start + 1;
  }
  if (next === '\x1b') {
    keys.push(special('Esc'));
    return start;
  }
  keys.push(special(next.charCodeAt(0) >= 0x20 ? `Alt+${next}` : 'Esc'));
  return next.charCodeAt(0) >= 0x20 ? start + 1 : start;
}

/** The key as it appears in an `ssh.input` run. */
export function spell(key: KeyMeaning): string {
  switch (key.kind) {
    case 'text':
      return key.text;
    case 'enter':
      return '<Enter>';
    case 'backspace':
      return '<BackSpace>';
    case 'ctrl':
      return `<Ctrl+${key.letter}>`;
    case 'special':
      return key.name ? `<${key.name}>` : '';
  }
}
