import { IngestError } from './ingest-error.js';

/**
 * Where NOAA publishes OISST v2.1 over HTTPS, and how its files are named:
 * - PSL: one file a year, `sst.day.mean.YYYY.nc`, all in one folder;
 * - NCEI: one file a day, `oisst-avhrr-v02r01.YYYYMMDD.nc`, in a `YYYYMM/` folder per month. The
 *   most recent days (about two weeks) exist only as `…YYYYMMDD_preliminary.nc` until the final
 *   analysis replaces them.
 */

/** NOAA PSL's folder of the yearly files. */
export const PSL_BASE_URL = 'https://downloads.psl.noaa.gov/Datasets/noaa.oisst.v2.highres/';

/** NCEI's folder of the monthly folders of daily files. */
export const NCEI_BASE_URL = 'https://www.ncei.noaa.gov/data/sea-surface-temperature-optimum-interpolation/v2.1/access/avhrr/';

export type OisstProduct = 'psl' | 'ncei';

export const OISST_PRODUCT_NAMES: Readonly<Record<OisstProduct, string>> = {
  psl: 'NOAA PSL yearly files',
  ncei: 'NOAA NCEI daily files',
};

export interface OisstRemoteFile {
  product: OisstProduct;
  url: string;
  /** File name, as the provider names it. */
  name: string;
  /** Calendar days the file holds (a PSL file of the current year holds fewer). */
  firstDate: string;
  lastDate: string;
}

export function pslFileName(year: number): string {
  return `sst.day.mean.${year}.nc`;
}

export function nceiFileName(date: string): string {
  return `oisst-avhrr-v02r01.${date.replaceAll('-', '')}.nc`;
}

/** The base URL with exactly one trailing slash, so file names resolve inside it. */
export function folderUrl(base: string): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch (error) {
    throw new IngestError('usage', `--base-url ${base} is not a URL`, { cause: error });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new IngestError('usage', `--base-url ${base} is not an http(s) URL`);
  return url.toString().replace(/\/*$/, '/');
}

export function pslFiles(base: string, years: readonly number[]): OisstRemoteFile[] {
  const folder = folderUrl(base);
  return [...new Set(years)]
    .sort((a, b) => a - b)
    .map((year) => ({ product: 'psl', url: `${folder}${pslFileName(year)}`, name: pslFileName(year), firstDate: `${year}-01-01`, lastDate: `${year}-12-31` }));
}

export function nceiFiles(base: string, dates: readonly string[]): OisstRemoteFile[] {
  const folder = folderUrl(base);
  return [...new Set(dates)].sort().map((date) => {
    const name = nceiFileName(date);
    return { product: 'ncei', url: `${folder}${date.slice(0, 4)}${date.slice(5, 7)}/${name}`, name, firstDate: date, lastDate: date };
  });
}

/** The product and days a file name says it holds; null for other names. */
export function parseOisstFileName(name: string): { product: OisstProduct; firstDate: string; lastDate: string } | null {
  const psl = /^sst\.day\.mean\.(\d{4})\.nc$/.exec(name);
  if (psl) return { product: 'psl', firstDate: `${psl[1]}-01-01`, lastDate: `${psl[1]}-12-31` };
  const ncei = /^oisst-avhrr-v02r01\.(\d{4})(\d{2})(\d{2})(?:_preliminary)?\.nc$/.exec(name);
  if (ncei) {
    const date = `${ncei[1]}-${ncei[2]}-${ncei[3]}`;
    return { product: 'ncei', firstDate: date, lastDate: date };
  }
  return null;
}
