/**
 * Zoom and pan of the desktop video inside its frame: a scale of 1×–8× and a translation, kept so that the
 * zoomed picture always covers the frame (no empty edge can be panned into view). Pure: the frame applies the
 * result as a CSS transform (`translate(x, y) scale(s)`, origin at the top left).
 */

export const MIN_ZOOM = 1;
export const MAX_ZOOM = 8;
/** One zoom step (a button, a key, a wheel notch). */
export const ZOOM_STEP = 1.25;

export interface Zoom {
  scale: number;
  /** Translation in CSS pixels of the frame; 0 or negative (the picture's top left is at or above the frame's). */
  x: number;
  y: number;
}

export const NO_ZOOM: Zoom = { scale: 1, x: 0, y: 0 };

export interface FrameSize {
  width: number;
  height: number;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** The same zoom with its translation pulled back so that the picture covers the frame. */
export function clampZoom(zoom: Zoom, frame: FrameSize): Zoom {
  const scale = clamp(zoom.scale, MIN_ZOOM, MAX_ZOOM);
  return {
    scale,
    x: clamp(zoom.x, frame.width - frame.width * scale, 0),
    y: clamp(zoom.y, frame.height - frame.height * scale, 0),
  };
}

/**
 * Zooms by `factor` keeping the point (`px`, `py`) of the frame where it is (the pointer's position for the
 * wheel, the frame's centre for buttons and keys).
 */
export function zoomAt(zoom: Zoom, factor: number, px: number, py: number, frame: FrameSize): Zoom {
  const scale = clamp(zoom.scale * factor, MIN_ZOOM, MAX_ZOOM);
  const ratio = scale / zoom.scale;
  return clampZoom({ scale, x: px - (px - zoom.x) * ratio, y: py - (py - zoom.y) * ratio }, frame);
}

/** Moves the zoomed picture by a drag of (`dx`, `dy`) CSS pixels. */
export function panBy(zoom: Zoom, dx: number, dy: number, frame: FrameSize): Zoom {
  return clampZoom({ scale: zoom.scale, x: zoom.x + dx, y: zoom.y + dy }, frame);
}

/** The CSS transform for `zoom` (with `transform-origin: 0 0`). */
export function zoomTransform(zoom: Zoom): string {
  return `translate(${zoom.x.toFixed(2)}px, ${zoom.y.toFixed(2)}px) scale(${zoom.scale.toFixed(4)})`;
}
