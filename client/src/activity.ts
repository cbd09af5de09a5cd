/**
 * A session's activity as the API lists it (docs/activity.md): events on the video's clock, and the activity
 * map's buckets. Everything here was recorded on the watched machine: it is shown as text, never as markup.
 */
import type { ActivityType } from '../../protocol/activity.ts';
import type { ActivityItem } from '../../protocol/activity-view.ts';

export type { ActivityItem, ActivityPage, Density, DensityBucket } from '../../protocol/activity-view.ts';

export const TYPE_LABELS: Record<ActivityType, string> = {
  keys: 'Keys',
  'process.start': 'Program started',
  'process.stop': 'Program ended',
  'window.focus': 'Window',
  'ssh.input': 'SSH input',
  'ssh.command': 'Command',
  'file.transfer': 'File transfer',
  'agent.tamper': 'Agent tampered with',
};

/** One line for the grid. */
export function summary(event: ActivityItem): string {
  switch (event.type) {
    case 'keys':
    case 'ssh.input':
      return event.text ?? '';
    case 'process.start':
      return event.text || event.path || event.name || '';
    case 'process.stop':
      return event.path || event.name || '';
    case 'window.focus':
      return event.app ? `${event.title ?? ''} — ${event.app}` : (event.title ?? '');
    case 'ssh.command':
      return event.text ?? '';
    case 'agent.tamper':
      return `⚠ ${event.text ?? ''}`;
    case 'file.transfer':
      return `${event.title === 'upload' ? '↑' : '↓'} ${event.path ?? ''} (${event.size ?? 0} bytes, ${event.app ?? ''})`;
  }
}
