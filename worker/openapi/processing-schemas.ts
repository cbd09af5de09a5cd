/** Response bodies of MP4 processing (worker/routes/processing.ts), for the OpenAPI document. */
import { z } from 'zod';
import { LeasedJob, ProcessingSettings, ProcessingView, SignedProcessingRecord } from '../../protocol/processing.ts';

const ProcessingReply = z.looseObject({ processing: ProcessingView.nullable() });

export const PROCESSING_SCHEMAS = {
  ProcessingSettings,
  ProcessingView,
  ProcessingReply,
  ProcessingStatusReply: z.looseObject({
    processing: ProcessingView.nullable(),
    record: SignedProcessingRecord.nullable().describe('The signed processing record, once the MP4 is ready.'),
  }),
  ProcessingCompleted: z.looseObject({ processing: ProcessingView, record: SignedProcessingRecord }),
  RetriedFailed: z.looseObject({ retried: z.array(z.uuid()).describe('The sessions whose MP4 was queued again.') }),
  LeasedJob,
  LeaseRenewed: z.looseObject({ leaseExpiresAt: z.iso.datetime() }),
  UploadBegun: z.looseObject({ partBytes: z.number().int() }),
  PartStored: z.looseObject({ part: z.number().int(), size: z.number().int() }),
} as const;
