/**
 * Where and how a session is recorded, by target: the default storage location and one list of rules, first
 * match wins (like witness-agent's host rules). A rule sets the recording level, the storage, or both; what it
 * leaves out comes from the defaults. Resolved once, at launch, and kept on the session.
 */
import { z } from 'zod';
import { type Policy, RecordingLevel } from './session.ts';
import { matchesPattern, TargetPattern } from './target-pattern.ts';

/** An R2 binding the deployment lists as a storage location (`RECORDINGS`, `RECORDINGS_EU`). */
export const StorageName = z
  .string()
  .regex(/^[A-Z][A-Z0-9_]{0,62}$/, 'an R2 binding name such as RECORDINGS or RECORDINGS_EU');
export type StorageName = z.infer<typeof StorageName>;

/** Where sessions are saved when no rule says otherwise, and where sessions from before storage choice are. */
export const DEFAULT_STORAGE: StorageName = 'RECORDINGS';

export const TargetRule = z
  .strictObject({
    targets: TargetPattern,
    recordingLevel: RecordingLevel.optional(),
    storage: StorageName.optional(),
  })
  .refine((rule) => rule.recordingLevel !== undefined || rule.storage !== undefined, {
    message: 'a rule sets the recording level, the storage, or both',
  });
export type TargetRule = z.infer<typeof TargetRule>;

export const RecordingRules = z.strictObject({
  /** "Save recordings to": the storage for a target no rule names one for. */
  storage: StorageName,
  rules: z.array(TargetRule).max(100),
});
export type RecordingRules = z.infer<typeof RecordingRules>;

export const DEFAULT_RECORDING_RULES: RecordingRules = { storage: DEFAULT_STORAGE, rules: [] };

/** A storage location as the settings API lists it: only these may be chosen. */
export const StorageLocation = z.strictObject({
  name: StorageName,
  label: z.string(),
  /** The binding of the bucket retention archives this location's media to. */
  archive: StorageName,
});
export type StorageLocation = z.infer<typeof StorageLocation>;

/** What a launch to `target` gets: the level and storage, and the pattern of the rule that decided (if any). */
export function resolveTarget(
  rules: RecordingRules,
  policy: Pick<Policy, 'recordingLevel'>,
  target: string,
): { recordingLevel: RecordingLevel; storage: StorageName; rule: string | null } {
  const rule = rules.rules.find((candidate) => matchesPattern(candidate.targets, target));
  return {
    recordingLevel: rule?.recordingLevel ?? policy.recordingLevel,
    storage: rule?.storage ?? rules.storage,
    rule: rule?.targets ?? null,
  };
}
