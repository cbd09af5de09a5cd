/**
 * Permissions, named as users of session-recording products know them, and the roles that bundle them.
 * Shared by the Worker (enforcement) and the console (what to show).
 */
import { z } from 'zod';

export const Permission = z.enum([
  'sessions:monitor',
  'sessions:watch-live',
  'recordings:view',
  'sessions:terminate',
  'recording:administer',
  'users:manage',
  'audit:view',
  'sessions:launch',
  /** Launch with a policy weaker than the settings (recording or keystrokes off, longer limits): audited. */
  'policy:override',
  /** Lease MP4 jobs, read their sources and upload their results (witness-processor): no other access. */
  'processing:run',
]);
export type Permission = z.infer<typeof Permission>;

export const PERMISSION_LABELS: Record<Permission, string> = {
  'sessions:monitor': 'Session Monitoring',
  'sessions:watch-live': 'Watch Live',
  'recordings:view': 'View Recordings',
  'sessions:terminate': 'Terminate Sessions',
  'recording:administer': 'Administer Session Recording',
  'users:manage': 'Manage Users and Keys',
  'audit:view': 'View Audit Log',
  'sessions:launch': 'Launch Sessions',
  'policy:override': 'Override Recording Policy',
  'processing:run': 'Run Video Processing',
};

/** Preset roles for the console; a user's stored permissions are what count. */
export const ROLES = {
  administrator: Permission.options,
  'security-operator': ['sessions:monitor', 'sessions:watch-live', 'recordings:view', 'sessions:terminate'],
  auditor: ['sessions:monitor', 'recordings:view', 'audit:view'],
  monitor: ['sessions:monitor', 'sessions:watch-live'],
} as const satisfies Record<string, readonly Permission[]>;

/** What an API key may be used for. */
export const ApiKeyScope = z.enum(['launch', 'agent', 'read', 'vault', 'processor']);
export type ApiKeyScope = z.infer<typeof ApiKeyScope>;

/** The permissions each API key scope grants. `agent` launches only on its own host. */
export const SCOPE_PERMISSIONS: Record<ApiKeyScope, readonly Permission[]> = {
  launch: ['sessions:launch'],
  agent: ['sessions:launch'],
  read: ['sessions:monitor', 'recordings:view'],
  /** A vault that decides per secret whether its sessions are recorded: launches, and may weaken the policy. */
  vault: ['sessions:launch', 'policy:override'],
  /** A `witness-processor`: converts recordings to MP4 (leases jobs, reads their sources, uploads the MP4). */
  processor: ['processing:run'],
};
