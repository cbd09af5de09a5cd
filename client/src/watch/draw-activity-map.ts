/**
 * Draws the activity map: one lane per signal (screen change, keystrokes, programs, windows), each bucket a
 * cell whose strength is its value on a log scale against the lane's busiest bucket. Cells are grouped by
 * strength so the canvas state changes a few dozen times per draw, not once per bucket.
 */
import type { Density, DensityBucket } from '../activity.ts';
import { screenChange } from '../player/idle.ts';

/** One lane of the map: the bucket figure it draws; `raw`: as it is (a terminal's output), not as screen change. */
export interface Lane {
  key: keyof DensityBucket;
  label: string;
  rgb: string;
  raw?: boolean;
}

/** A desktop session's lanes. */
export const DESKTOP_LANES: readonly Lane[] = [
  { key: 'screenBytes', label: 'Screen', rgb: '11 98 214' },
  { key: 'keystrokes', label: 'Keys', rgb: '46 125 50' },
  { key: 'processEvents', label: 'Processes', rgb: '178 106 0' },
  { key: 'windowChanges', label: 'Windows', rgb: '123 31 162' },
];

/**
 * A terminal session's lanes: what was typed, what was printed (the log's bytes; a terminal has no still
 * screen's keyframes to take out), and the commands run.
 */
export const TERMINAL_LANES: readonly Lane[] = [
  { key: 'keystrokes', label: 'Input', rgb: '46 125 50' },
  { key: 'screenBytes', label: 'Output', rgb: '11 98 214', raw: true },
  { key: 'processEvents', label: 'Commands', rgb: '178 106 0' },
];

/** The desktop lanes, by their old name. */
export const LANES = DESKTOP_LANES;

/** The lanes for a session of this kind. */
export function lanesFor(kind: 'desktop' | 'terminal'): readonly Lane[] {
  return kind === 'terminal' ? TERMINAL_LANES : DESKTOP_LANES;
}

const LEVELS = 16;
const LANE_GAP = 2;
/** An event cell is drawn at least this wide (CSS px), so a lone keystroke in a long session still shows. */
export const MIN_EVENT_CELL_PX = 3;

/** Draws `density` across the canvas, `spanMs` wide; returns how long the draw took, in ms. */
export function drawActivityMap(
  canvas: HTMLCanvasElement,
  density: Density,
  spanMs: number,
  lanes: readonly Lane[] = DESKTOP_LANES,
): number {
  const started = performance.now();
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return 0;
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = '#eef1f4';
  ctx.fillRect(0, 0, width, height);

  const laneHeight = (height - LANE_GAP * (lanes.length - 1)) / lanes.length;
  // What changed on screen, with a still screen's own bytes (noise, recurring keyframes) taken out.
  const screen = screenChange(density.buckets, density.bucketMs);
  const scale = width / Math.max(1, spanMs);
  // Events get at least MIN_EVENT_CELL_PX, so a lone keystroke in a long session still shows.
  const minEventWidth = MIN_EVENT_CELL_PX * ratio;
  lanes.forEach((lane, laneIndex) => {
    const values = lane.key === 'screenBytes' && !lane.raw ? screen : density.buckets.map((b) => b[lane.key]);
    const max = Math.log1p(Math.max(0, ...values));
    if (max === 0) return;
    // Cells by strength level: one fillStyle per level.
    const byLevel: number[][] = Array.from({ length: LEVELS }, () => []);
    values.forEach((value, i) => {
      if (value <= 0) return;
      const level = Math.min(LEVELS - 1, Math.floor((Math.log1p(value) / max) * LEVELS));
      (byLevel[level] as number[]).push(i);
    });
    const y = Math.round(laneIndex * (laneHeight + LANE_GAP));
    const h = Math.round((laneIndex + 1) * (laneHeight + LANE_GAP) - LANE_GAP) - y;
    byLevel.forEach((cells, level) => {
      if (cells.length === 0) return;
      ctx.fillStyle = `rgb(${lane.rgb} / ${(0.15 + (0.85 * (level + 1)) / LEVELS).toFixed(3)})`;
      for (const i of cells) {
        const start = (density.buckets[i] as DensityBucket).startMs * scale;
        if (start >= width) continue;
        // Whole pixels: cells at fractional positions would leave antialiased seams between them.
        const x = Math.floor(start);
        const cell = Math.max(
          Math.ceil(start + density.bucketMs * scale) - x,
          lane.key === 'screenBytes' ? 1 : minEventWidth,
        );
        ctx.fillRect(x, y, cell, h);
      }
    });
  });
  const took = performance.now() - started;
  performance.measure('activity-map-draw', { start: started, duration: took });
  return took;
}
