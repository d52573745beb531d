import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError, TaskError } from '../common/errors.js';
import { writeAtomic } from '../common/files.js';
import { Catalog, type CollectionSource } from './catalog.js';
import { writeSampleOisst } from './sample-oisst.js';
import { SAMPLE_S2_DATES, writeSampleSentinel2 } from './sample-s2.js';
import { DEFAULT_SAMPLE_SEED } from './seeded-random.js';
import { stacForCogItems, stacForZarrCube, type CollectionInfo, type StacCollection, type StacProvider } from './stac-metadata.js';

/**
 * The sample collections a fresh installation starts with, so that the examples run offline:
 * SENTINEL2_L2A (COGs) and OISST (a Zarr cube), small, synthetic and the same bytes on every
 * machine. A collection already in the catalog is left alone, whether sample or real; a sample
 * whose files are missing, truncated or from another generator version is made again.
 *
 * Files are generated in a staging folder and moved into place, a manifest of their sizes is
 * written next, and the catalog entry last: a run interrupted at any point leaves no catalog
 * entry pointing at incomplete files, and the next run starts that collection over.
 */

/** Catalog id of the Sentinel-2 sample: SENTINEL2_L2A. */
export const SAMPLE_S2_COLLECTION = 'SENTINEL2_L2A';

/** Catalog id of the sea-surface temperature sample: OISST. */
export const SAMPLE_OISST_COLLECTION = 'OISST';

/** Folder of the sample files under DATA_DIR: samples. */
export const SAMPLES_DIR = 'samples';

/** Folder of the Sentinel-2 sample's COGs under SAMPLES_DIR: sentinel2 (then one folder per item). */
export const SAMPLE_S2_FOLDER = 'sentinel2';

/** Zarr store of the OISST sample under SAMPLES_DIR: oisst.zarr. */
export const SAMPLE_OISST_FOLDER = 'oisst.zarr';

/**
 * Version of the generated content: 1. Raising it makes every installation regenerate its
 * samples on the next start (a sample whose manifest names another version counts as broken).
 */
export const SAMPLE_GENERATOR_VERSION = 1;

/** Manifest of a sample folder, beside it: `<folder>.manifest.json`. */
export const SAMPLE_MANIFEST_SUFFIX = '.manifest.json';

/**
 * Age after which another run's staging folder counts as abandoned and is removed: 10 minutes,
 * far longer than generating a sample takes, so a concurrent start's folder is never taken.
 */
export const STALE_STAGING_MS = 10 * 60_000;

/** License of the generated data: CC0-1.0. It is synthetic, so no data provider's terms apply. */
export const SAMPLE_LICENSE = 'CC0-1.0';

/** Command that ingests real Sentinel-2 L2A data in place of the sample. */
export const S2_INGEST_COMMAND = 'npm run ingest -- sentinel2 --stac URL --bbox W,S,E,N --from DATE --to DATE';

/** Command that ingests real OISST data in place of the sample. */
export const OISST_INGEST_COMMAND = 'npm run ingest -- oisst --source psl --years 2012';

const SAMPLE_PROVIDERS: StacProvider[] = [
  { name: 'openeo-dask-ts sample generator', description: 'Synthetic data generated on first start; not observations.', roles: ['producer', 'processor', 'host'] },
];

interface SampleRecipe {
  id: string;
  folder: string;
  /** Writes the files into `dir` and describes them; `hrefBase` is the folder's final path relative to DATA_DIR. */
  make(dir: string, hrefBase: string, seed: number): Promise<{ source: CollectionSource; stac: StacCollection }>;
}

const S2_INFO: CollectionInfo = {
  title: 'Sentinel-2 L2A (synthetic sample)',
  description:
    'Small synthetic sample data, generated on first start so that the examples run offline: a 15.36 x 15.36 km area of ' +
    'Sentinel-2 tile 32TNT (UTM zone 32N) on four dates in June 2020, with B04 (red) and B08 (near infrared) surface ' +
    'reflectance x 10000 at 10 m and the scene classification SCL at 20 m. The values are made up, not observed. ' +
    `To ingest real Sentinel-2 L2A data instead, run \`${S2_INGEST_COMMAND}\`.`,
  license: SAMPLE_LICENSE,
  providers: SAMPLE_PROVIDERS,
  keywords: ['sample', 'synthetic', 'Sentinel-2', 'L2A', 'surface reflectance'],
  sample: true,
  platforms: [...new Set(SAMPLE_S2_DATES.map((when) => when.platform))].sort(),
  constellation: 'sentinel-2',
  instruments: ['msi'],
};

const OISST_INFO: CollectionInfo = {
  title: 'NOAA OISST v2.1 daily sea surface temperature (synthetic sample)',
  description:
    'Small synthetic sample data, generated on first start so that the examples run offline: daily sea surface ' +
    'temperature in °C for January 2012 on the global 0.25° grid of NOAA OISST v2.1, NaN over land. The values are ' +
    `made up, not observed. To ingest real OISST data instead, run \`${OISST_INGEST_COMMAND}\`.`,
  license: SAMPLE_LICENSE,
  providers: SAMPLE_PROVIDERS,
  keywords: ['sample', 'synthetic', 'sea surface temperature', 'SST', 'OISST', 'ocean'],
  sample: true,
};

const SAMPLE_RECIPES: readonly SampleRecipe[] = [
  {
    id: SAMPLE_S2_COLLECTION,
    folder: SAMPLE_S2_FOLDER,
    async make(dir, hrefBase, seed) {
      const source = await writeSampleSentinel2(dir, hrefBase, seed);
      return { source, stac: stacForCogItems(SAMPLE_S2_COLLECTION, source, S2_INFO) };
    },
  },
  {
    id: SAMPLE_OISST_COLLECTION,
    folder: SAMPLE_OISST_FOLDER,
    async make(dir, hrefBase, seed) {
      const source = await writeSampleOisst(dir, hrefBase, seed);
      return { source, stac: stacForZarrCube(SAMPLE_OISST_COLLECTION, source, OISST_INFO) };
    },
  },
];

interface SampleManifest {
  version: number;
  collection: string;
  /** [path relative to the sample folder, size in bytes], sorted by path. */
  files: [string, number][];
}

/**
 * Makes sure both sample collections are in the catalog under `dataDir`, generating what is
 * missing. Returns the ids of the collections it (re)created.
 */
export async function ensureSampleData(dataDir: string, options: { log?: (message: string) => void } = {}): Promise<{ created: string[] }> {
  const log = options.log ?? (() => undefined);
  const catalog = new Catalog(dataDir);
  const created: string[] = [];
  // One after the other: each keeps both cores busy, and memory holds one sample at a time.
  for (const recipe of SAMPLE_RECIPES) {
    if (await ensureSample(dataDir, catalog, recipe, log)) created.push(recipe.id);
  }
  return { created };
}

async function ensureSample(dataDir: string, catalog: Catalog, recipe: SampleRecipe, log: (message: string) => void): Promise<boolean> {
  const existing = await catalog.get(recipe.id);
  if (existing && !Catalog.isSample(existing)) return false;
  if (existing && (await isIntact(dataDir, recipe))) return false;

  const started = performance.now();
  log(existing ? `sample collection ${recipe.id} is incomplete or outdated; generating it again` : `generating sample collection ${recipe.id}`);
  try {
    // Stop serving a broken sample while it is rebuilt.
    if (existing) await catalog.remove(recipe.id);
    const samples = join(dataDir, SAMPLES_DIR);
    await mkdir(samples, { recursive: true });
    await removeStaleStaging(samples, recipe.folder);
    const staging = join(samples, `.${recipe.folder}.${process.pid}.${randomBytes(4).toString('hex')}.partial`);
    let made: { source: CollectionSource; stac: StacCollection };
    let manifest: SampleManifest;
    try {
      await mkdir(staging);
      made = await recipe.make(staging, `${SAMPLES_DIR}/${recipe.folder}`, DEFAULT_SAMPLE_SEED);
      manifest = { version: SAMPLE_GENERATOR_VERSION, collection: recipe.id, files: await listFiles(staging) };
      await publish(samples, recipe.folder, staging);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    await writeAtomic(manifestPath(dataDir, recipe), formatManifest(manifest));
    // A real ingest that finished meanwhile wins over the sample.
    const current = await catalog.get(recipe.id);
    if (current && !Catalog.isSample(current)) return false;
    await catalog.put({ id: recipe.id, ...made });
    const bytes = manifest.files.reduce((sum, [, size]) => sum + size, 0);
    log(`sample collection ${recipe.id} ready: ${manifest.files.length} files, ${(bytes / 1048576).toFixed(1)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return true;
  } catch (error) {
    if (error instanceof TaskError) throw error;
    const systemError = typeof (error as { code?: unknown } | null)?.code === 'string';
    throw new TaskError(systemError ? 'transient' : 'internal', `preparing sample collection ${recipe.id} failed: ${describeError(error)}`, {
      cause: error,
      openeoCode: 'StorageFailure',
    });
  }
}

/** JSON with one line per file, readable and diffable. */
function formatManifest(manifest: SampleManifest): string {
  const files = manifest.files.map((entry) => `    ${JSON.stringify(entry)}`).join(',\n');
  return `{\n  "version": ${manifest.version},\n  "collection": ${JSON.stringify(manifest.collection)},\n  "files": [\n${files}\n  ]\n}\n`;
}

function manifestPath(dataDir: string, recipe: SampleRecipe): string {
  return join(dataDir, SAMPLES_DIR, `${recipe.folder}${SAMPLE_MANIFEST_SUFFIX}`);
}

/** Whether the sample's files are all there with the sizes the manifest of this generator version records. */
async function isIntact(dataDir: string, recipe: SampleRecipe): Promise<boolean> {
  let manifest: SampleManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath(dataDir, recipe), 'utf8')) as SampleManifest;
  } catch {
    return false;
  }
  if (manifest.version !== SAMPLE_GENERATOR_VERSION || manifest.collection !== recipe.id || !Array.isArray(manifest.files) || manifest.files.length === 0) return false;
  const folder = join(dataDir, SAMPLES_DIR, recipe.folder);
  for (const [path, size] of manifest.files) {
    const found = await stat(join(folder, path)).catch(() => undefined);
    if (!found?.isFile() || found.size !== size) return false;
  }
  return true;
}

/** Moves the staged folder to its final name, replacing what was there; the manifest is removed first, so a crash in between leaves the sample marked broken. */
async function publish(samples: string, folder: string, staging: string): Promise<void> {
  const target = join(samples, folder);
  await rm(`${target}${SAMPLE_MANIFEST_SUFFIX}`, { force: true });
  const trash = join(samples, `.${folder}.${process.pid}.${randomBytes(4).toString('hex')}.partial`);
  const moved = await rename(target, trash).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
  await rename(staging, target);
  if (moved) await rm(trash, { recursive: true, force: true });
}

/** Removes staging folders of `folder` left by runs that were interrupted. */
async function removeStaleStaging(samples: string, folder: string): Promise<void> {
  const prefix = `.${folder}.`;
  for (const name of await readdir(samples)) {
    if (!name.startsWith(prefix) || !name.endsWith('.partial')) continue;
    const path = join(samples, name);
    const info = await stat(path).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > STALE_STAGING_MS) await rm(path, { recursive: true, force: true });
  }
}

/** Every file under `dir` with its size, paths relative to `dir` with "/" separators, sorted. */
async function listFiles(dir: string): Promise<[string, number][]> {
  const files: [string, number][] = [];
  const walk = async (relative: string): Promise<void> => {
    for (const entry of await readdir(join(dir, relative), { withFileTypes: true })) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) files.push([path, (await stat(join(dir, path))).size]);
    }
  };
  await walk('');
  return files.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}
