/**
 * @module blobs/results
 * What `vault.blobs` answers.
 */
export interface BlobPutResult {
  readonly ref: string;
  readonly size: number;
  readonly chunks: number;
  /** Encrypted bytes actually sent (0 when every chunk was already stored). */
  readonly uploaded: number;
}

export interface BlobInfo {
  readonly ref: string;
  readonly size: number;
  readonly chunks: number;
  readonly name?: string;
  readonly type?: string;
  /** Bytes of its chunks held in the local cache. */
  readonly cached: number;
}
