import { blobCacheConformance } from './blob-cache-conformance.test.support.js';
import { FsBlobCache } from './fs-blob-cache.js';
import { PackBlobCache } from './pack-blob-cache.js';

blobCacheConformance('pack blob cache', (dir) => new PackBlobCache(dir));
blobCacheConformance('file-per-object blob cache', (dir) => new FsBlobCache(dir));
