/**
 * The ingest library: what the CLI does, for scripts and services. The catalog and the sample
 * data are the other modules' business and are imported from their own files.
 */
export { ingestSentinel2, DEFAULT_STAC_COLLECTION, SENTINEL2_COLLECTION, SENTINEL2_DOWNLOAD_DIR, type Sentinel2IngestOptions, type Sentinel2IngestResult } from './ingest-sentinel2.js';
export { ingestOisst, ingestOisstFiles, OISST_COLLECTION, OISST_DOWNLOAD_DIR, type OisstIngestOptions, type OisstIngestResult } from './ingest-oisst.js';
export { ingestLocal, type LocalIngestOptions, type LocalIngestResult } from './ingest-local.js';
export { OisstCube, OISST_CUBE_FOLDER } from './oisst-cube.js';
export { NCEI_BASE_URL, PSL_BASE_URL, nceiFileName, pslFileName, type OisstProduct } from './oisst-sources.js';
export { searchStac, matchesQuery, STAC_PAGE_LIMIT, type Bbox, type FoundItem, type StacQuery } from './stac-search.js';
export { sentinel2BandName } from './sentinel2-bands.js';
export { downloadFile, PART_SUFFIX, type DownloadRequest, type DownloadResult } from './download/download-file.js';
export { downloadAll, downloadInOrder } from './download/download-queue.js';
export { LogProgress, TerminalProgress, silentProgress, type ProgressReporter } from './download/progress.js';
export { IngestError, isIngestError, type IngestErrorCode } from './ingest-error.js';
export { parseIngestArgs, USAGE, type IngestCommand } from './cli-args.js';
