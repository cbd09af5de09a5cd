/**
 * From X key presses to readable text: keycode → keysym with the keyboard's current mapping and the held
 * modifiers and locks, then keysym → a character (`a`, `A`, `é`) or a spelled-out key (`<Enter>`,
 * `<Ctrl+C>`, `<Alt+F4>`). Pure, so it is tested without a display.
 */
import { LEGACY_KEYSYM_RUNS } from './keysym-table.ts';
import type { KeyboardMapping } from './x11-connection.ts';

/** Keys that change the state of others and type nothing themselves. */
const SHIFT = new Set([0xffe1, 0xffe2]);
const CONTROL = new Set([0xffe3, 0xffe4]);
const ALT = new Set([0xffe7, 0xffe8, 0xffe9, 0xffea]); // Meta_L/R, Alt_L/R
const SUPER = new Set([0xffeb, 0xffec, 0xffed, 0xffee]); // Super_L/R, Hyper_L/R
const ALT_GR = new Set([0xfe03, 0xff7e]); // ISO_Level3_Shift, Mode_switch
const CAPS_LOCK = new Set([0xffe5, 0xffe6]); // Caps_Lock, Shift_Lock
const NUM_LOCK = 0xff7f;

function isModifierKeysym(keysym: number): boolean {
  return (
    (keysym >= 0xffe1 && keysym <= 0xffee) ||
    (keysym >= 0xfe01 && keysym <= 0xfe0f) ||
    keysym === 0xff7e ||
    keysym === NUM_LOCK
  );
}

/** Keys spelled out by name, the way a reader of the run expects them. */
const SPECIAL_NAMES = new Map<number, string>([
  [0xff08, 'BackSpace'],
  [0xff09, 'Tab'],
  [0xfe20, 'Shift+Tab'], // ISO_Left_Tab: what Shift+Tab yields
  [0xff0d, 'Enter'],
  [0xff0a, 'Enter'], // Linefeed: what xdotool types for "\n"
  [0xff8d, 'Enter'],
  [0xff1b, 'Esc'],
  [0xffff, 'Delete'],
  [0xff9f, 'Delete'],
  [0xff50, 'Home'],
  [0xff95, 'Home'],
  [0xff51, 'Left'],
  [0xff96, 'Left'],
  [0xff52, 'Up'],
  [0xff97, 'Up'],
  [0xff53, 'Right'],
  [0xff98, 'Right'],
  [0xff54, 'Down'],
  [0xff99, 'Down'],
  [0xff55, 'PageUp'],
  [0xff9a, 'PageUp'],
  [0xff56, 'PageDown'],
  [0xff9b, 'PageDown'],
  [0xff57, 'End'],
  [0xff9c, 'End'],
  [0xff58, 'Begin'],
  [0xff9d, 'Begin'],
  [0xff63, 'Insert'],
  [0xff9e, 'Insert'],
  [0xff61, 'Print'],
  [0xff13, 'Pause'],
  [0xff6b, 'Break'],
  [0xff14, 'Scroll_Lock'],
  [0xff15, 'Sys_Req'],
  [0xff67, 'Menu'],
  [0xff6a, 'Help'],
  [0xff89, 'Tab'],
]);

/** Keypad keys that type a character (with Num Lock on, for the digits). */
const KEYPAD_CHARS = new Map<number, string>([
  [0xff80, ' '],
  [0xffaa, '*'],
  [0xffab, '+'],
  [0xffac, ','],
  [0xffad, '-'],
  [0xffae, '.'],
  [0xffaf, '/'],
  [0xffbd, '='],
]);

/** The character a keysym types, or null for function and modifier keys. */
export function keysymToChar(keysym: number): string | null {
  if ((keysym >= 0x20 && keysym <= 0x7e) || (keysym >= 0xa0 && keysym <= 0xff)) return String.fromCharCode(keysym);
  if (keysym >= 0x01000100 && keysym <= 0x0110ffff) return String.fromCodePoint(keysym - 0x01000000);
  if (keysym >= 0xffb0 && keysym <= 0xffb9) return String(keysym - 0xffb0); // KP_0..KP_9
  const keypad = KEYPAD_CHARS.get(keysym);
  if (keypad !== undefined) return keypad;
  if (keysym < 0x100 || keysym > 0x20ff) return null;
  for (const [start, chars] of LEGACY_KEYSYM_RUNS) {
    if (keysym >= start && keysym < start + chars.length) return chars[keysym - start] ?? null;
  }
  return null;
}

/** `Enter`, `Left`, `F5`... for keys that type no character; null otherwise. */
export function specialKeyName(keysym: number): string | null {
  if (keysym >= 0xffbe && keysym <= 0xffe0) return `F${keysym - 0xffbe + 1}`;
  return SPECIAL_NAMES.get(keysym) ?? null;
}

export interface ModifierState {
  shift: boolean;
  ctrl: boolean;
  alt: boolean;
  super: boolean;
  altGr: boolean;
  capsLock: boolean;
  numLock: boolean;
}

export const NO_MODIFIERS: ModifierState = {
  shift: false,
  ctrl: false,
  alt: false,
  super: false,
  altGr: false,
  capsLock: false,
  numLock: false,
};

const isLetter = (char: string) => char.toLowerCase() !== char.toUpperCase();
const isKeypad = (keysym: number) => keysym >= 0xff80 && keysym <= 0xffbd;

/**
 * What one key press adds to a run, given the key's keysyms (the core mapping's row: level 1, level 2,
 * then group 2, then AltGr levels at 4 and 5) and the modifier state; null for modifier keys.
 * Shift and Caps Lock pick the case of letters the way XKB's ALPHABETIC type does (Shift+Caps = lower),
 * Num Lock turns the keypad into digits, Ctrl/Alt/Super make a chord: `<Ctrl+Shift+T>`, `<Alt+F4>`.
 */
export function keyToken(keysyms: readonly number[], state: ModifierState): string | null {
  const base = keysyms[0] ?? 0;
  if (base === 0 || isModifierKeysym(base)) return null;
  const chord = state.ctrl || state.alt || state.super;
  if (chord) {
    const name = specialKeyName(base) ?? (base === 0x20 ? 'Space' : keysymToChar(base)?.toUpperCase()) ?? hex(base);
    const held = [state.ctrl && 'Ctrl', state.alt && 'Alt', state.super && 'Super', state.shift && 'Shift'];
    return `<${[...held.filter(Boolean), name].join('+')}>`;
  }

  let lower = base;
  let upper = keysyms[1] || 0;
  if (state.altGr && keysyms[4]) {
    lower = keysyms[4];
    upper = keysyms[5] || 0;
  }
  let keysym: number;
  let upperCaseIt = false;
  if (isKeypad(lower) || isKeypad(upper)) {
    // Num Lock swaps the keypad's levels (KP_Home / KP_7); Shift swaps them back.
    keysym = (state.numLock !== state.shift ? upper : lower) || lower;
  } else {
    keysym = state.shift ? upper || lower : lower;
    // A key with one keysym is a letter pair when that keysym has a case (X protocol rule).
    if (state.shift && !upper) upperCaseIt = true;
  }

  const name = specialKeyName(keysym);
  if (name) {
    // On the keypad Shift only undoes Num Lock; it is not part of the key.
    const shifted = state.shift && !isKeypad(keysym) && !name.startsWith('Shift+');
    return shifted ? `<Shift+${name}>` : `<${name}>`;
  }
  let char = keysymToChar(keysym);
  if (char === null) return (keysym >= 0xfe50 && keysym <= 0xfe8f) || keysym === 0 ? null : `<${hex(keysym)}>`;
  if (upperCaseIt) char = char.toUpperCase();
  if (state.capsLock && isLetter(char)) char = state.shift ? char.toLowerCase() : char.toUpperCase();
  return char;
}

function hex(keysym: number): string {
  return `0x${keysym.toString(16)}`;
}

/**
 * Follows raw key presses and releases in order: which modifiers are held, the lock states, and the
 * current keyboard mapping; turns each press into a token.
 */
export class KeyboardState {
  #mapping: KeyboardMapping;
  readonly #held = new Set<number>();
  #capsLock: boolean;
  #numLock: boolean;

  constructor(
    mapping: KeyboardMapping,
    locks: { capsLock: boolean; numLock: boolean } = { capsLock: false, numLock: false },
  ) {
    this.#mapping = mapping;
    this.#capsLock = locks.capsLock;
    this.#numLock = locks.numLock;
  }

  /** The keyboard mapping changed (MappingNotify). */
  setMapping(mapping: KeyboardMapping): void {
    this.#mapping = mapping;
  }

  keysyms(keycode: number): number[] {
    const { firstKeycode, keysymsPerKeycode, keysyms } = this.#mapping;
    const start = (keycode - firstKeycode) * keysymsPerKeycode;
    if (start < 0 || start >= keysyms.length) return [];
    return [...keysyms.subarray(start, start + keysymsPerKeycode)];
  }

  get state(): ModifierState {
    const state = { ...NO_MODIFIERS, capsLock: this.#capsLock, numLock: this.#numLock };
    for (const code of this.#held) {
      const keysym = this.keysyms(code)[0] ?? 0;
      if (SHIFT.has(keysym)) state.shift = true;
      else if (CONTROL.has(keysym)) state.ctrl = true;
      else if (ALT.has(keysym)) state.alt = true;
      else if (SUPER.has(keysym)) state.super = true;
      else if (ALT_GR.has(keysym)) state.altGr = true;
    }
    return state;
  }

  /** A key went down: the token it types (null for modifiers and locks). */
  press(keycode: number): string | null {
    const keysyms = this.keysyms(keycode);
    const base = keysyms[0] ?? 0;
    if (CAPS_LOCK.has(base)) this.#capsLock = !this.#capsLock;
    if (base === NUM_LOCK) this.#numLock = !this.#numLock;
    const token = keyToken(keysyms, this.state);
    this.#held.add(keycode);
    return token;
  }

  release(keycode: number): void {
    this.#held.delete(keycode);
  }
}
