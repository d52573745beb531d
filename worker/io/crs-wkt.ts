/**
 * OGC WKT1 and CF grid-mapping attributes for the coordinate reference systems the back-end
 * writes without GDAL: WGS 84 (EPSG:4326) and the WGS 84 UTM zones (EPSG:326xx north, 327xx south).
 *
 * The WKT is byte-for-byte what GDAL 3 writes into the `spatial_ref` attribute of a NetCDF grid
 * mapping (OGRSpatialReference::exportToWkt, WKT1_GDAL), so GDAL and PROJ recognise the EPSG code
 * from the AUTHORITY nodes rather than guessing from parameters.
 */
import { TaskError } from '../../common/errors.js';

/** EPSG code of WGS 84 longitude/latitude: 4326. */
export const EPSG_WGS84 = 4326;

/** WGS 84 semi-major axis in metres: 6378137 (EPSG:7030). */
export const WGS84_SEMI_MAJOR_AXIS = 6378137;

/** WGS 84 inverse flattening: 298.257223563 (EPSG:7030). */
export const WGS84_INVERSE_FLATTENING = 298.257223563;

/** Scale factor on the central meridian of every UTM zone: 0.9996. */
export const UTM_SCALE_FACTOR = 0.9996;

/** False easting of every UTM zone in metres: 500000, so eastings stay positive within a zone. */
export const UTM_FALSE_EASTING = 500000;

/** False northing of southern-hemisphere UTM zones in metres: 10000000, so northings stay positive south of the equator. */
export const UTM_FALSE_NORTHING_SOUTH = 10000000;

/** First EPSG code of the WGS 84 / UTM north zones (zone 1 = 32601). */
const UTM_NORTH_BASE = 32600;
/** First EPSG code of the WGS 84 / UTM south zones (zone 1 = 32701). */
const UTM_SOUTH_BASE = 32700;
const UTM_ZONE_COUNT = 60;

export interface UtmZone {
  zone: number;
  hemisphere: 'north' | 'south';
}

/** The UTM zone of a WGS 84 / UTM EPSG code, or null when the code is not one. */
export function utmZoneOfEpsg(epsg: number): UtmZone | null {
  if (!Number.isInteger(epsg)) return null;
  for (const [base, hemisphere] of [[UTM_NORTH_BASE, 'north'], [UTM_SOUTH_BASE, 'south']] as const) {
    const zone = epsg - base;
    if (zone >= 1 && zone <= UTM_ZONE_COUNT) return { zone, hemisphere };
  }
  return null;
}

/** Whether this module can describe `epsg` (WGS 84 or a WGS 84 UTM zone). */
export function isSupportedEpsg(epsg: number): boolean {
  return epsg === EPSG_WGS84 || utmZoneOfEpsg(epsg) !== null;
}

export function isGeographicEpsg(epsg: number): boolean {
  return epsg === EPSG_WGS84;
}

/** Central meridian of a UTM zone in degrees: zone 1 is centred on 177° W, each zone 6° wide. */
export function utmCentralMeridian(zone: number): number {
  return zone * 6 - 183;
}

const GEOGCS_WGS84_PREFIX =
  'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],' +
  'AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],' +
  'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],';

function unsupported(epsg: number): TaskError {
  return new TaskError('user', `EPSG:${epsg} is not supported for NetCDF output; supported are EPSG:4326 and the WGS 84 UTM zones EPSG:32601-32660 and 32701-32760`, {
    openeoCode: 'FeatureUnsupported',
  });
}

/** WKT1 of `epsg` exactly as GDAL writes it in `spatial_ref`. */
export function wktForEpsg(epsg: number): string {
  // GDAL 3 keeps the EPSG axis order (lat, lon) in the WKT1 of 4326, but not inside a PROJCS.
  if (epsg === EPSG_WGS84) return `${GEOGCS_WGS84_PREFIX}AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]`;
  const utm = utmZoneOfEpsg(epsg);
  if (utm === null) throw unsupported(epsg);
  const falseNorthing = utm.hemisphere === 'north' ? 0 : UTM_FALSE_NORTHING_SOUTH;
  return (
    `PROJCS["WGS 84 / UTM zone ${utm.zone}${utm.hemisphere === 'north' ? 'N' : 'S'}",` +
    `${GEOGCS_WGS84_PREFIX}AUTHORITY["EPSG","4326"]],` +
    'PROJECTION["Transverse_Mercator"],' +
    'PARAMETER["latitude_of_origin",0],' +
    `PARAMETER["central_meridian",${utmCentralMeridian(utm.zone)}],` +
    `PARAMETER["scale_factor",${UTM_SCALE_FACTOR}],` +
    `PARAMETER["false_easting",${UTM_FALSE_EASTING}],` +
    `PARAMETER["false_northing",${falseNorthing}],` +
    'UNIT["metre",1,AUTHORITY["EPSG","9001"]],' +
    'AXIS["Easting",EAST],AXIS["Northing",NORTH],' +
    `AUTHORITY["EPSG","${epsg}"]]`
  );
}

/**
 * CF grid-mapping attributes of `epsg` (CF-1.8 appendix F), in the order and with the extra
 * ellipsoid fields GDAL writes. `spatial_ref`, `crs_wkt` and `GeoTransform` are added by the writer.
 */
export function cfGridMappingAttributes(epsg: number): Record<string, string | number> {
  const ellipsoid = {
    long_name: 'CRS definition',
    longitude_of_prime_meridian: 0,
    semi_major_axis: WGS84_SEMI_MAJOR_AXIS,
    inverse_flattening: WGS84_INVERSE_FLATTENING,
  };
  if (epsg === EPSG_WGS84) return { grid_mapping_name: 'latitude_longitude', ...ellipsoid };
  const utm = utmZoneOfEpsg(epsg);
  if (utm === null) throw unsupported(epsg);
  return {
    grid_mapping_name: 'transverse_mercator',
    longitude_of_central_meridian: utmCentralMeridian(utm.zone),
    false_easting: UTM_FALSE_EASTING,
    false_northing: utm.hemisphere === 'north' ? 0 : UTM_FALSE_NORTHING_SOUTH,
    latitude_of_projection_origin: 0,
    scale_factor_at_central_meridian: UTM_SCALE_FACTOR,
    ...ellipsoid,
  };
}
