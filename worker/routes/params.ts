import { z } from 'zod';
import { ApiError } from '../errors.ts';

export const SessionIdParam = z.object({ id: z.uuid({ message: 'not a session id' }) });

/** WebSocket routes answer plain HTTP with 426 rather than a confusing 4xx from deeper down. */
export function requireUpgrade(request: Request): void {
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
    throw new ApiError(426, 'upgrade_required', 'This endpoint is a WebSocket; send Upgrade: websocket.');
  }
}
