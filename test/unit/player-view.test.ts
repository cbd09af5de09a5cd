/** The player frame's pure parts: zoom and pan of the desktop video, and the terminal's fitted font. */
import { describe, expect, it } from 'vitest';
import { fitFontPx, fits, smallerFontPx } from '../../client/src/terminal/fit.ts';
import { clampZoom, MAX_ZOOM, NO_ZOOM, panBy, zoomAt, zoomTransform } from '../../client/src/player/zoom.ts';

const FRAME = { width: 800, height: 450 };

describe('zoom and pan', () => {
  it('zooms about the point asked, keeping that point of the picture under it', () => {
    const zoomed = zoomAt(NO_ZOOM, 2, 200, 100, FRAME);
    expect(zoomed).toEqual({ scale: 2, x: -200, y: -100 });
    // The picture's point (200, 100) is still at (200, 100) of the frame.
    expect(200 * zoomed.scale + zoomed.x).toBe(200);
    expect(100 * zoomed.scale + zoomed.y).toBe(100);
  });

  it('stays within 1× and 8×', () => {
    let zoom = NO_ZOOM;
    for (let i = 0; i < 20; i++) zoom = zoomAt(zoom, 2, 400, 225, FRAME);
    expect(zoom.scale).toBe(MAX_ZOOM);
    for (let i = 0; i < 20; i++) zoom = zoomAt(zoom, 0.5, 400, 225, FRAME);
    expect(zoom).toEqual({ scale: 1, x: 0, y: 0 });
  });

  it('pans, but never so far that an edge of the frame shows no picture', () => {
    const zoomed = zoomAt(NO_ZOOM, 2, 400, 225, FRAME);
    expect(panBy(zoomed, 50, -30, FRAME)).toEqual({ scale: 2, x: -350, y: -255 });
    expect(panBy(zoomed, 10_000, 10_000, FRAME)).toEqual({ scale: 2, x: 0, y: 0 });
    expect(panBy(zoomed, -10_000, -10_000, FRAME)).toEqual({ scale: 2, x: -800, y: -450 });
    // At 1× there is nothing to pan.
    expect(panBy(NO_ZOOM, 100, 100, FRAME)).toEqual(NO_ZOOM);
  });

  it('pulls the translation back when the frame grows (fullscreen) or shrinks', () => {
    expect(clampZoom({ scale: 2, x: -800, y: -450 }, { width: 400, height: 225 })).toEqual({
      scale: 2,
      x: -400,
      y: -225,
    });
  });

  it('writes a transform with the origin at the top left', () => {
    expect(zoomTransform({ scale: 2, x: -200, y: -100.5 })).toBe('translate(-200.00px, -100.50px) scale(2.0000)');
  });
});

describe('the fitted terminal font', () => {
  it('scales the font so that every column fits the pane, to half a pixel, rounded down', () => {
    // 200 columns at 14 px measure 1680 px; the pane is 880 px wide and tall enough.
    expect(fitFontPx(14, { width: 1680, height: 840 }, { width: 880, height: 2000 })).toBe(7);
    // 80 columns in a wide pane grow the font.
    expect(fitFontPx(14, { width: 672, height: 403 }, { width: 1400, height: 2000 })).toBe(29);
  });

  it('keeps every row in view too when the height is the limit', () => {
    expect(fitFontPx(14, { width: 672, height: 403 }, { width: 1400, height: 500 })).toBe(17);
  });

  it('keeps to readable bounds, and steps down by half a pixel', () => {
    expect(fitFontPx(14, { width: 100_000, height: 100 }, { width: 800, height: 0 })).toBe(4);
    expect(fitFontPx(14, { width: 10, height: 10 }, { width: 3000, height: 3000 })).toBe(48);
    expect(smallerFontPx(7)).toBe(6.5);
    expect(smallerFontPx(4)).toBe(4);
  });

  it('leaves the font as it is while nothing is measured yet', () => {
    expect(fitFontPx(14, { width: 0, height: 0 }, { width: 800, height: 400 })).toBe(14);
  });

  it('says whether a measured terminal fits its box', () => {
    expect(fits({ width: 880, height: 400 }, { width: 880, height: 400 })).toBe(true);
    expect(fits({ width: 881, height: 400 }, { width: 880, height: 400 })).toBe(false);
    expect(fits({ width: 800, height: 9000 }, { width: 880, height: 0 })).toBe(true);
  });
});
