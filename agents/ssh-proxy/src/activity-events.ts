/** The activity events the proxy sends: `ssh.input` runs, `ssh.command` lines and `file.transfer`s. */
import type { ActivityEvent } from '../../../protocol/activity.ts';

export type SshActivity = Extract<ActivityEvent, { type: 'ssh.input' | 'ssh.command' | 'file.transfer' }>;
export type FileTransferEvent = Extract<ActivityEvent, { type: 'file.transfer' }>;
