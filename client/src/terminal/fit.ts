/**
 * The terminal's size on the page: xterm always has the recorded columns and rows (the cast header, then its
 * resize events), and its font size is chosen so that all of them fit the pane — never a column cut off.
 * "Fit" scales the font to the pane (up or down); "1:1" keeps the base font and lets the pane scroll.
 */

export type TerminalScale = 'fit' | '1:1';

/** The font size xterm opens with; "1:1" keeps it. */
export const BASE_FONT_PX = 14;
const MIN_FONT_PX = 4;
const MAX_FONT_PX = 48;

export interface Box {
  width: number;
  height: number;
}

/**
 * The font size at which a terminal measuring `measured` at `fontPx` fits `box`, to half a pixel, rounded
 * down (cells grow with the font in about a straight line; the caller measures again and steps down if the
 * font's hinting made it a little wider).
 */
export function fitFontPx(fontPx: number, measured: Box, box: Box): number {
  if (measured.width <= 0 || measured.height <= 0 || box.width <= 0) return fontPx;
  const byWidth = (fontPx * box.width) / measured.width;
  const byHeight = box.height > 0 ? (fontPx * box.height) / measured.height : byWidth;
  const size = Math.floor(Math.min(byWidth, byHeight) * 2) / 2;
  return Math.min(MAX_FONT_PX, Math.max(MIN_FONT_PX, size));
}

/** One step down when a measured terminal is still wider or taller than its box. */
export function smallerFontPx(fontPx: number): number {
  return Math.max(MIN_FONT_PX, fontPx - 0.5);
}

export function fits(measured: Box, box: Box): boolean {
  return measured.width <= box.width + 0.5 && (box.height <= 0 || measured.height <= box.height + 0.5);
}

export const MIN_FONT = MIN_FONT_PX;
