/**
 * @module vault/spaces/space-blobs
 * A space's attachments: not wired yet (they need a blob store over the
 * space's remote sealed with the space's epoch key).
 */
import { ErrorCode, KithError } from '../../base/errors.js';
import type { SpaceBlobs } from './space-records.js';

const notYet = (): KithError =>
  new KithError(ErrorCode.BadInput, 'blobs in shared spaces are not available yet', {
    hint: 'store attachments in the personal space for now',
    reason: 'space-blobs-not-wired',
  });

export const SpaceBlobsUnwired: SpaceBlobs = {
  put: async () => Promise.reject(notYet()),
  get: () =>
    new ReadableStream({
      start(c) {
        c.error(notYet());
      },
    }),
  list: async () => Promise.reject(notYet()),
};
