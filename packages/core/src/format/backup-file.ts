/**
 * @module format/backup-file
 * The backup file (`kith backup`): one file holding a whole vault, or what
 * changed since a previous backup. A cleartext header names the vault and
 * seals a random file key to its recipients (the recovery key, the
 * password key, and the epoch key for the vault's own devices); then
 * AES-256-GCM frames under a key derived from the file key, numbered, so a
 * frame cannot be moved, dropped or replayed; the last frame carries a
 * signature by the writing device over everything before it. Read and
 * written as a stream: memory holds one frame. docs/FORMAT.md "Backup file"
 * is the byte-level spec.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import type { RandomBytes } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import {
  aesGcmDecrypt,
  aesGcmEncrypt,
  bytesToHex,
  compress,
  concatBytes,
  decompress,
  ed25519Sign,
  ed25519Verify,
  fromUtf8,
  hexToBytes,
  u32,
  u64,
  utf8,
} from '../crypto/index.js';
import {
  BACKUP_DOMAIN,
  BACKUP_VERSION,
  BACKUP_VERSIONS,
  FRAME_INFO,
  FrameType,
  MAX_FRAME_BYTES,
  MAX_HEADER,
  TAG,
  backupCorrupt,
  backupFrameKey,
  decodeBackupHeader,
  encodeBackupHeader,
  type BackupFrame,
  type BackupHeader,
  type BackupRecipients,
  type BackupRecord,
  type BackupState,
  type ParsedBackupHeader,
} from './backup-header.js';
import { ObjectReader, ObjectType, signatureInput } from './framing.js';

/** The 12-byte nonce of frame `index`: the frame key is the file's own, so a counter never repeats under it. */
const frameNonce = (index: number): Uint8Array => concatBytes(new Uint8Array(4), u64(index));
const frameAad = (headerHash: Uint8Array, index: number): Uint8Array => concatBytes(utf8(FRAME_INFO), headerHash, u64(index));

const OBJECT_KEY = /^(vault|registry\/\d{12}|keys\/\d{10}\/(?:[0-9a-f]{16}\/)?(?:[0-9a-f]{16}|recovery|password|previous))$/;
/** Version 2 adds the person's identity sealed to the recovery and password keys (not a device's copy: no restore brings a device back). */
const IDENTITY_KEY = /^keys\/identity\/(recovery|password)$/;
const HEX32 = /^[0-9a-f]{64}$/;

/** A frame's plaintext. Records frames are deflated unless `compressRecords` is false (the test vectors). */
export async function encodeFrame(f: BackupFrame, o: { compressRecords?: boolean } = {}): Promise<Uint8Array> {
  switch (f.type) {
    case 'state':
      return concatBytes(Uint8Array.of(FrameType.State), utf8(JSON.stringify(f.state)));
    case 'object': {
      const key = utf8(f.key);
      return concatBytes(Uint8Array.of(FrameType.Object, key.length >> 8, key.length & 0xff), key, f.bytes);
    }
    case 'records': {
      const json = utf8(JSON.stringify(f.records));
      const packed = o.compressRecords === false ? undefined : await compress(json);
      return concatBytes(Uint8Array.of(FrameType.Records, packed ? 1 : 0), packed ?? json);
    }
    case 'blob':
      return concatBytes(Uint8Array.of(FrameType.Blob, f.kind === 'chunk' ? 0x43 : 0x4d), hexToBytes(f.id), f.bytes);
    case 'end':
      return concatBytes(Uint8Array.of(FrameType.End), u64(f.records), u64(f.blobs), f.signature);
  }
}

function jsonOf(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(fromUtf8(bytes)) as unknown;
  } catch {
    throw backupCorrupt(what, 'a frame is not valid JSON');
  }
}

const isRecord = (v: unknown): v is BackupRecord =>
  Array.isArray(v) &&
  v.length === 3 &&
  typeof v[0] === 'string' &&
  typeof v[1] === 'string' &&
  (v[2] === null || (typeof v[2] === 'object' && !Array.isArray(v[2])));

function isState(v: unknown): v is BackupState {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Partial<BackupState>;
  return (
    s.v === 1 &&
    typeof s.vv === 'object' &&
    s.vv !== null &&
    Object.entries(s.vv).every(([d, t]) => /^[0-9a-f]{16}$/.test(d) && typeof t === 'string' && /^[0-9a-z]{13}$/.test(t)) &&
    Array.isArray(s.blobs) &&
    s.blobs.every((b) => typeof b === 'string' && HEX32.test(b)) &&
    (s.previousKey === undefined || (typeof s.previousKey === 'string' && HEX32.test(s.previousKey)))
  );
}

/** Parses a decrypted frame; anything out of shape is KITH_INTEGRITY_CORRUPT. */
export async function decodeFrame(plain: Uint8Array, what: string, version = BACKUP_VERSION): Promise<BackupFrame> {
  const body = plain.subarray(1);
  switch (plain[0]) {
    case FrameType.State: {
      const state = jsonOf(body, what);
      if (!isState(state)) throw backupCorrupt(what, 'its state frame is malformed');
      return { type: 'state', state };
    }
    case FrameType.Object: {
      if (body.length < 2) throw backupCorrupt(what, 'truncated object frame');
      const n = (body[0]! << 8) | body[1]!;
      if (body.length < 2 + n) throw backupCorrupt(what, 'truncated object frame');
      let key: string;
      try {
        key = fromUtf8(body.subarray(2, 2 + n));
      } catch {
        throw backupCorrupt(what, 'an object name is not UTF-8');
      }
      if (!OBJECT_KEY.test(key) && !(version >= 2 && IDENTITY_KEY.test(key)))
        throw backupCorrupt(what, `it holds an object under ${JSON.stringify(key.slice(0, 80))}, which a backup never does`);
      return { type: 'object', key, bytes: body.subarray(2 + n) };
    }
    case FrameType.Records: {
      if (body.length < 1 || body[0]! > 1) throw backupCorrupt(what, 'unknown records encoding');
      const json = body[0] === 1 ? await decompress(body.subarray(1), MAX_FRAME_BYTES) : body.subarray(1);
      const records = jsonOf(json, what);
      if (!Array.isArray(records) || !records.every(isRecord)) throw backupCorrupt(what, 'a records frame is malformed');
      return { type: 'records', records };
    }
    case FrameType.Blob: {
      if (body.length < 33 || (body[0] !== 0x43 && body[0] !== 0x4d)) throw backupCorrupt(what, 'malformed blob frame');
      return { type: 'blob', kind: body[0] === 0x43 ? 'chunk' : 'manifest', id: bytesToHex(body.subarray(1, 33)), bytes: body.subarray(33) };
    }
    case FrameType.End: {
      if (body.length !== 8 + 8 + 64) throw backupCorrupt(what, 'malformed end frame');
      const dv = new DataView(body.buffer, body.byteOffset, 16);
      const n = (at: number): number => {
        const v = dv.getBigUint64(at);
        if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw backupCorrupt(what, 'count out of range');
        return Number(v);
      };
      return { type: 'end', records: n(0), blobs: n(8), signature: body.slice(16) };
    }
    default:
      throw backupCorrupt(what, `unknown frame type ${plain[0]}`);
  }
}

/** The message the end frame's signature covers: the SHA-256 of every byte of the file before the end frame. */
export const backupSignatureInput = (vaultId: string, digest: Uint8Array): Uint8Array => signatureInput(BACKUP_DOMAIN, vaultId, digest);

/**
 * Writes a backup file as a stream: the header, then frames in order, then
 * the signed end frame. `sink` receives the bytes in file order.
 */
export class BackupFileWriter {
  readonly #sink: (bytes: Uint8Array) => Promise<void>;
  readonly #frameKey: Uint8Array;
  readonly #headerHash: Uint8Array;
  readonly #vaultId: string;
  readonly #hash = nobleSha256.create();
  #index = 0;
  #bytes = 0;

  private constructor(sink: (bytes: Uint8Array) => Promise<void>, frameKey: Uint8Array, headerHash: Uint8Array, vaultId: string) {
    this.#sink = sink;
    this.#frameKey = frameKey;
    this.#headerHash = headerHash;
    this.#vaultId = vaultId;
  }

  /** Writes the header (its stanzas sealing `fileKey`); frames follow. */
  static async start(
    h: BackupHeader,
    fileKey: Uint8Array,
    to: BackupRecipients,
    random: RandomBytes,
    sink: (bytes: Uint8Array) => Promise<void>,
  ): Promise<BackupFileWriter> {
    const header = await encodeBackupHeader(h, fileKey, to, random);
    const w = new BackupFileWriter(sink, backupFrameKey(fileKey, h), nobleSha256(header), h.vaultId);
    await w.#write(header);
    return w;
  }

  /** Bytes written so far. */
  get bytes(): number {
    return this.#bytes;
  }

  async #write(bytes: Uint8Array): Promise<void> {
    this.#hash.update(bytes);
    this.#bytes += bytes.length;
    await this.#sink(bytes);
  }

  /** Encrypts and writes the next frame. */
  async frame(f: Exclude<BackupFrame, { type: 'end' }>, o: { compressRecords?: boolean } = {}): Promise<void> {
    const plain = await encodeFrame(f, o);
    if (plain.length > MAX_FRAME_BYTES) throw new KithError(ErrorCode.TooLarge, 'a backup frame would exceed its size limit');
    const index = this.#index++;
    const ct = await aesGcmEncrypt(this.#frameKey, frameNonce(index), plain, frameAad(this.#headerHash, index));
    await this.#write(concatBytes(u32(ct.length), ct));
  }

  /** Signs everything written so far and writes the end frame; the file is complete after it. */
  async end(counts: { records: number; blobs: number }, signSeed: Uint8Array): Promise<void> {
    const digest = this.#hash.clone().digest();
    const signature = await ed25519Sign(signSeed, backupSignatureInput(this.#vaultId, digest));
    const plain = await encodeFrame({ type: 'end', ...counts, signature });
    const index = this.#index++;
    const ct = await aesGcmEncrypt(this.#frameKey, frameNonce(index), plain, frameAad(this.#headerHash, index));
    await this.#write(concatBytes(u32(ct.length), ct));
  }
}

/** Exactly-n-bytes reads over a stream of pieces. */
class ByteStream {
  readonly #it: AsyncIterator<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);
  #done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#it = source[Symbol.asyncIterator]();
  }

  /** `n` bytes, or fewer only at the end of the stream. */
  async take(n: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let have = 0;
    while (have < n) {
      if (this.#buf.length === 0) {
        if (this.#done) break;
        const r = await this.#it.next();
        if (r.done) {
          this.#done = true;
          break;
        }
        this.#buf = r.value;
        continue;
      }
      const piece = this.#buf.subarray(0, n - have);
      this.#buf = this.#buf.subarray(piece.length);
      parts.push(piece);
      have += piece.length;
    }
    return parts.length === 1 ? parts[0]! : concatBytes(...parts);
  }

  async close(): Promise<void> {
    await this.#it.return?.();
  }
}

/**
 * Reads a backup file as a stream: the header at once; frames one by one
 * after {@link unlock}. Each frame is authenticated before it is returned;
 * the end frame's signature is checked by the caller against
 * {@link digestBeforeEnd}, with the writer's key from the vault's registry.
 */
export class BackupFileReader {
  readonly parsed: ParsedBackupHeader;
  readonly #in: ByteStream;
  readonly #what: string;
  readonly #hash = nobleSha256.create();
  readonly #headerHash: Uint8Array;
  #frameKey: Uint8Array | undefined;
  #index = 0;
  #ended = false;
  #beforeEnd: Uint8Array | undefined;

  private constructor(input: ByteStream, parsed: ParsedBackupHeader, what: string) {
    this.#in = input;
    this.parsed = parsed;
    this.#what = what;
    this.#headerHash = nobleSha256(parsed.bytes);
    this.#hash.update(parsed.bytes);
  }

  /** Reads and parses the header of `source`; `what` names the file in errors. */
  static async open(source: AsyncIterable<Uint8Array>, what: string): Promise<BackupFileReader> {
    const input = new ByteStream(source);
    const start = await input.take(10);
    if (start.length < 10) throw backupCorrupt(what, 'too short to be a backup');
    new ObjectReader(start, what, ObjectType.Backup, BACKUP_VERSIONS); // preamble and version first: a newer file is KITH_UNSUPPORTED_FORMAT
    const length = new DataView(start.buffer, start.byteOffset + 6, 4).getUint32(0);
    if (length < 10 || length > MAX_HEADER) throw backupCorrupt(what, 'wrong header length');
    const rest = await input.take(length - 10);
    if (rest.length !== length - 10) throw backupCorrupt(what, 'truncated header');
    return new BackupFileReader(input, decodeBackupHeader(concatBytes(start, rest), what), what);
  }

  get header(): BackupHeader {
    return this.parsed.header;
  }

  /** Frames can be read once the file key is known. */
  unlock(fileKey: Uint8Array): void {
    this.#frameKey = backupFrameKey(fileKey, this.parsed.header);
  }

  /** The next frame, authenticated and parsed; undefined after the end frame (trailing bytes are corrupt). */
  async next(): Promise<BackupFrame | undefined> {
    if (!this.#frameKey) throw new KithError(ErrorCode.Internal, 'a backup was read before it was unlocked');
    if (this.#ended) return undefined;
    const lenBytes = await this.#in.take(4);
    if (lenBytes.length === 0) throw backupCorrupt(this.#what, 'it ends before its end frame (truncated)');
    if (lenBytes.length < 4) throw backupCorrupt(this.#what, 'truncated');
    const len = new DataView(lenBytes.buffer, lenBytes.byteOffset, 4).getUint32(0);
    if (len < TAG + 1 || len > MAX_FRAME_BYTES + TAG) throw backupCorrupt(this.#what, 'a frame has an impossible length');
    const ct = await this.#in.take(len);
    if (ct.length !== len) throw backupCorrupt(this.#what, 'truncated');
    const index = this.#index++;
    const digestSoFar = this.#hash.clone().digest();
    this.#hash.update(lenBytes).update(ct);
    let plain: Uint8Array;
    try {
      plain = await aesGcmDecrypt(this.#frameKey, frameNonce(index), ct, frameAad(this.#headerHash, index));
    } catch {
      throw backupCorrupt(this.#what, `frame ${index} fails authentication (altered, moved or from another file)`);
    }
    const frame = await decodeFrame(plain, this.#what, this.parsed.header.version);
    if ((index === 0) !== (frame.type === 'state')) throw backupCorrupt(this.#what, 'its state frame is missing or repeated');
    if (frame.type === 'end') {
      this.#ended = true;
      this.#beforeEnd = digestSoFar;
      if ((await this.#in.take(1)).length !== 0) throw backupCorrupt(this.#what, 'bytes follow its end frame');
    }
    return frame;
  }

  /** SHA-256 of every byte before the end frame (what its signature covers); after the end frame was read. */
  get digestBeforeEnd(): Uint8Array {
    if (!this.#beforeEnd) throw new KithError(ErrorCode.Internal, 'the end frame was not read');
    return this.#beforeEnd;
  }

  /** Checks the end frame's signature with the writer's key. */
  async verifyEnd(end: Extract<BackupFrame, { type: 'end' }>, writerPub: Uint8Array | undefined): Promise<void> {
    if (!writerPub)
      throw new KithError(ErrorCode.IntegrityUnknownSigner, `${this.#what} was written by ${this.header.deviceId}, which is not a device of this vault`);
    if (!(await ed25519Verify(writerPub, backupSignatureInput(this.header.vaultId, this.digestBeforeEnd), end.signature))) {
      throw backupCorrupt(this.#what, 'its signature does not match');
    }
  }

  /** Reads the rest without decrypting; returns the SHA-256 of the whole file (how an incremental backup names it). */
  async hashToEnd(): Promise<Uint8Array> {
    for (let piece = await this.#in.take(1 << 20); piece.length > 0; piece = await this.#in.take(1 << 20)) this.#hash.update(piece);
    return this.#hash.digest();
  }

  /** SHA-256 of the whole file, once it was read to its end frame. */
  fileHash(): Uint8Array {
    if (!this.#ended) throw new KithError(ErrorCode.Internal, 'the backup was not read to its end');
    return this.#hash.clone().digest();
  }

  async close(): Promise<void> {
    await this.#in.close();
  }
}
