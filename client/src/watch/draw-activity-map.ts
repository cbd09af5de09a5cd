/**
 * Draws the activity map: one lane per signal (screen change, keystrokes, programs, windows), each bucket a
 * cell whose strength is its value on a log scale against the lane's busiest bucket. Cells are grouped by
 * strength so the canvas state changes a few dozen times per draw, not once per bucket.
 */
import type { Density, DensityBucket } from '../activity.ts';
import { screenChange } from '../player/idle.ts';

export const LANES = [
  { key: 'screenBytes', label: 'Screen', rgb: '11 98 214' },
  { key: 'keystrokes', label: 'Keys', rgb: '46 125 50' },
  { key: 'processEvents', label: 'Programs', rgb: '178 106 0' },
  { key: 'windowChanges', label: 'Windows', rgb: '123 31 162' },
] as const satisfies ReadonlyArray<{ key: keyof DensityBucket; label: string; rgb: string }>;

const LEVELS = 16;
const LANE_GAP = 2;
const MIN_EVENT_CELL_PX = 3;

/** Draws `density` across the canvas, `spanMs` wide; returns how long the draw took, in ms. */
export function drawActivityMap(canvas: HTMLCanvasElement, density: Density, spanMs: number): number {
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

  const laneHeight = (height - LANE_GAP * (LANES.length - 1)) / LANES.length;
  // What changed on screen, with a still screen's own bytes (noise, recurring keyframes) taken out.
  const screen = screenChange(density.buckets, density.bucketMs);
  const scale = width / Math.max(1, spanMs);
  // Events get at least MIN_EVENT_CELL_PX, so a lone keystroke in a long session still shows.
  const minEventWidth = MIN_EVENT_CELL_PX * ratio;
  LANES.forEach((lane, laneIndex) => {
    const values = lane.key === 'screenBytes' ? screen : density.buckets.map((b) => b[lane.key]);
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
