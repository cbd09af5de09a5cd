/**
 * The player frame, the same for the four players (live and recorded, video and terminal): the screen, what
 * is shown over it, and the controls, as one element that goes fullscreen (a button, `f`). A desktop video
 * also zooms 1×–8× (wheel, buttons, `z` / `Z`, `0` resets) and pans by dragging (player/zoom.ts).
 */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { playerKey } from './keys.ts';
import { clampZoom, MAX_ZOOM, NO_ZOOM, panBy, ZOOM_STEP, type Zoom, zoomAt, zoomTransform } from './zoom.ts';

/** A drag shorter than this is a click (play/pause on the video), not a pan. */
const DRAG_PX = 4;

function useFullscreen(frame: { current: HTMLElement | null }) {
  const [full, setFull] = useState(false);
  useEffect(() => {
    const changed = () => setFull(document.fullscreenElement !== null && document.fullscreenElement === frame.current);
    document.addEventListener('fullscreenchange', changed);
    return () => document.removeEventListener('fullscreenchange', changed);
  }, []);
  const toggle = useCallback(() => {
    const element = frame.current;
    if (!element) return;
    // A refusal (no user gesture, or a browser without it) leaves the page as it was.
    if (document.fullscreenElement === element) void document.exitFullscreen().catch(() => {});
    else void element.requestFullscreen().catch(() => {});
  }, []);
  return { full, toggle };
}

/** Zoom and pan, written straight onto the media element's style (no re-render while dragging). */
function useZoom(viewport: { current: HTMLElement | null }, enabled: boolean) {
  const zoom = useRef<Zoom>(NO_ZOOM);
  const [scale, setScale] = useState(1);

  const apply = useCallback((next: Zoom) => {
    zoom.current = next;
    const media = viewport.current?.firstElementChild;
    if (media instanceof HTMLElement) media.style.transform = next.scale === 1 ? '' : zoomTransform(next);
    viewport.current?.classList.toggle('zoomed', next.scale > 1);
    setScale(next.scale);
  }, []);

  const size = () => ({ width: viewport.current?.clientWidth ?? 0, height: viewport.current?.clientHeight ?? 0 });
  const byStep = useCallback((direction: 1 | -1) => {
    const frame = size();
    apply(zoomAt(zoom.current, direction > 0 ? ZOOM_STEP : 1 / ZOOM_STEP, frame.width / 2, frame.height / 2, frame));
  }, []);
  const reset = useCallback(() => apply(NO_ZOOM), []);

  useEffect(() => {
    const element = viewport.current;
    if (!enabled || !element) return;
    const onWheel = (event: WheelEvent) => {
      if (event.deltaY === 0) return;
      const zoomingOut = event.deltaY > 0;
      // At 1× a wheel down is left to scroll the page.
      if (zoomingOut && zoom.current.scale === 1) return;
      event.preventDefault();
      const box = element.getBoundingClientRect();
      const factor = zoomingOut ? 1 / ZOOM_STEP : ZOOM_STEP;
      apply(zoomAt(zoom.current, factor, event.clientX - box.left, event.clientY - box.top, size()));
    };
    let drag: { id: number; x: number; y: number; moved: boolean } | null = null;
    let swallowClick = false;
    const onDown = (event: PointerEvent) => {
      if (event.button !== 0 || zoom.current.scale === 1) return;
      drag = { id: event.pointerId, x: event.clientX, y: event.clientY, moved: false };
      element.setPointerCapture(event.pointerId);
    };
    const onMove = (event: PointerEvent) => {
      if (!drag || event.pointerId !== drag.id) return;
      const dx = event.clientX - drag.x;
      const dy = event.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < DRAG_PX) return;
      drag.moved = true;
      drag.x = event.clientX;
      drag.y = event.clientY;
      element.classList.add('panning');
      apply(panBy(zoom.current, dx, dy, size()));
    };
    const onUp = (event: PointerEvent) => {
      if (!drag || event.pointerId !== drag.id) return;
      swallowClick = drag.moved;
      drag = null;
      element.classList.remove('panning');
    };
    // A drag ends in a click on the video: it was a pan, not play/pause.
    const onClick = (event: MouseEvent) => {
      if (!swallowClick) return;
      swallowClick = false;
      event.stopPropagation();
    };
    // Fullscreen or a narrower window: the zoomed picture must still cover the frame.
    const observer = new ResizeObserver(() => apply(clampZoom(zoom.current, size())));
    observer.observe(element);
    element.addEventListener('wheel', onWheel, { passive: false });
    element.addEventListener('pointerdown', onDown);
    element.addEventListener('pointermove', onMove);
    element.addEventListener('pointerup', onUp);
    element.addEventListener('pointercancel', onUp);
    element.addEventListener('click', onClick, true);
    return () => {
      observer.disconnect();
      element.removeEventListener('wheel', onWheel);
      element.removeEventListener('pointerdown', onDown);
      element.removeEventListener('pointermove', onMove);
      element.removeEventListener('pointerup', onUp);
      element.removeEventListener('pointercancel', onUp);
      element.removeEventListener('click', onClick, true);
    };
  }, [enabled]);

  return { scale, byStep, reset };
}

export function PlayerFrame({
  label,
  zoomable,
  screen,
  overlay,
  tools,
  controls,
}: {
  /** What the frame holds, for assistive technology ("Screen recording player"). */
  label: string;
  /** A desktop video zooms and pans; a terminal is sized to its columns instead. */
  zoomable: boolean;
  /** The element the core plays (rendered first, before the core exists). */
  screen: ComponentChildren;
  /** Shown over the screen, in fullscreen too (what is at the playhead). */
  overlay?: ComponentChildren;
  /** More of the frame's own tools (a terminal's Fit / 1:1). */
  tools?: ComponentChildren;
  /** The player's controls, given the frame's tools (zoom, fullscreen) to place in their row. */
  controls: (frameTools: ComponentChildren) => ComponentChildren;
}) {
  const frame = useRef<HTMLElement>(null);
  const viewport = useRef<HTMLDivElement>(null);
  const { full, toggle } = useFullscreen(frame);
  const zoom = useZoom(viewport, zoomable);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (!playerKey(event)) return;
      const actions: Record<string, () => void> = { f: toggle };
      if (zoomable) Object.assign(actions, { z: () => zoom.byStep(1), Z: () => zoom.byStep(-1), '0': zoom.reset });
      const action = actions[event.key];
      if (!action) return;
      event.preventDefault();
      action();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [zoomable]);

  const frameTools = (
    <span class="frame-tools">
      {tools}
      {zoomable && (
        <fieldset class="zoom-tools">
          <legend class="visually-hidden">Zoom</legend>
          <button type="button" aria-label="Zoom out" disabled={zoom.scale <= 1} onClick={() => zoom.byStep(-1)}>
            −
          </button>
          <button type="button" aria-label="Reset zoom" title="Reset zoom (0)" onClick={zoom.reset}>
            {zoom.scale.toFixed(1)}×
          </button>
          <button type="button" aria-label="Zoom in" disabled={zoom.scale >= MAX_ZOOM} onClick={() => zoom.byStep(1)}>
            +
          </button>
        </fieldset>
      )}
      <button type="button" title="Fullscreen (f)" onClick={toggle}>
        {full ? 'Exit fullscreen' : 'Fullscreen'}
      </button>
    </span>
  );

  return (
    <section ref={frame} class={full ? 'player-frame fullscreen' : 'player-frame'} aria-label={label}>
      <div class="player-stage">
        <div ref={viewport} class={zoomable ? 'player-viewport zoomable' : 'player-viewport'}>
          {screen}
        </div>
        {overlay && <div class="player-overlay">{overlay}</div>}
      </div>
      {controls(frameTools)}
    </section>
  );
}
