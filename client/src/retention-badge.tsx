/** What retention did to a session, beside its recording badge: archived, deleted (with the day) or held. */
import type { SessionSummary } from './api.ts';

/** Whether retention deleted (or is deleting) the session's media. */
export function mediaDeleted(retention: SessionSummary['retention']): boolean {
  return retention.state === 'deleting' || retention.state === 'deleted';
}

export function RetentionBadge({ retention }: { retention: SessionSummary['retention'] }) {
  const held = retention.hold && (
    <span class="badge rec rec-held" title={`Legal hold since ${retention.hold.since}: ${retention.hold.reason}`}>
      Held
    </span>
  );
  if (mediaDeleted(retention)) {
    return (
      <span class="badge rec rec-deleted" title="The media and activity are deleted; the manifest and audit log stay">
        {retention.notice ?? 'recording deleted by retention'}
      </span>
    );
  }
  return (
    <>
      {retention.state === 'archived' && (
        <span class="badge rec rec-archived" title={`Archived on ${retention.archivedAt}`}>
          Archived
        </span>
      )}
      {held}
    </>
  );
}
