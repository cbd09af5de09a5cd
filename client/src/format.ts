/** How the console writes times and durations. */

export function duration(ms: number | null): string {
  if (ms === null) return '—';
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

export function dateTime(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : '—';
}
