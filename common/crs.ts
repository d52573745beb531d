import proj4 from 'proj4';

/**
 * Coordinate reference systems by EPSG code, for proj4. The back-end's collections use
 * geographic WGS 84, Web Mercator and the WGS 84 UTM zones; other codes are rejected clearly.
 */

export const WGS84 = 4326;

export class UnsupportedCrsError extends Error {
  constructor(readonly epsg: number) {
    super(`EPSG:${epsg} is not supported (supported: 4326, 3857, 32601-32660, 32701-32760, 25828-25838)`);
    this.name = 'UnsupportedCrsError';
  }
}

export function proj4Definition(epsg: number): string {
  if (epsg === 4326) return '+proj=longlat +datum=WGS84 +no_defs';
  if (epsg === 3857) return '+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +wktext +no_defs';
  if (epsg >= 32601 && epsg <= 32660) return `+proj=utm +zone=${epsg - 32600} +datum=WGS84 +units=m +no_defs`;
  if (epsg >= 32701 && epsg <= 32760) return `+proj=utm +zone=${epsg - 32700} +south +datum=WGS84 +units=m +no_defs`;
  // ETRS89 / UTM zones 28–38 N (European data; GRS80 with the ETRS89 ≈ WGS 84 identity).
  if (epsg >= 25828 && epsg <= 25838) return `+proj=utm +zone=${epsg - 25800} +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs`;
  throw new UnsupportedCrsError(epsg);
}

export function isSupportedCrs(epsg: number): boolean {
  try {
    proj4Definition(epsg);
    return true;
  } catch {
    return false;
  }
}

const converters = new Map<string, proj4.Converter>();

/** A cached converter from one EPSG code to another. */
export function transformer(from: number, to: number): proj4.Converter {
  const key = `${from}>${to}`;
  let converter = converters.get(key);
  if (!converter) {
    converter = proj4(proj4Definition(from), proj4Definition(to));
    converters.set(key, converter);
  }
  return converter;
}

/** The UTM zone EPSG code containing a lon/lat point. */
export function utmZoneOf(lon: number, lat: number): number {
  const zone = Math.min(60, Math.max(1, Math.floor((lon + 180) / 6) + 1));
  return (lat >= 0 ? 32600 : 32700) + zone;
}

/**
 * Envelope of a bbox after transformation, sampling its edges (not only corners) because
 * straight lines in one CRS are curves in another.
 */
export function transformBounds(bbox: [number, number, number, number], from: number, to: number, samplesPerEdge = 21): [number, number, number, number] {
  if (from === to) return bbox;
  const [w, s, e, n] = bbox;
  const convert = transformer(from, to);
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < samplesPerEdge; i++) {
    const f = i / (samplesPerEdge - 1);
    for (const [x, y] of [
      [w + f * (e - w), s],
      [w + f * (e - w), n],
      [w, s + f * (n - s)],
      [e, s + f * (n - s)],
    ] as const) {
      const [px, py] = convert.forward([x, y]);
      minX = Math.min(minX, px!);
      maxX = Math.max(maxX, px!);
      minY = Math.min(minY, py!);
      maxY = Math.max(maxY, py!);
    }
  }
  return [minX, minY, maxX, maxY];
}
