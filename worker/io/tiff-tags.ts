/**
 * Numbers of the TIFF 6.0, BigTIFF and GeoTIFF 1.1 structures the COG writer emits, plus the
 * GDAL private tags and header conventions that GDAL's COG driver relies on.
 */

/** Second header field of a classic TIFF (32-bit offsets). */
export const TIFF_VERSION_CLASSIC = 42;
/** Second header field of a BigTIFF (64-bit offsets). */
export const TIFF_VERSION_BIGTIFF = 43;
/** BigTIFF header: byte size of every offset. */
export const BIGTIFF_OFFSET_SIZE = 8;

/** Largest offset a classic TIFF can address. */
export const CLASSIC_TIFF_MAX_OFFSET = 0xffff_ffff;

export const TiffTag = {
  NewSubfileType: 254,
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  PhotometricInterpretation: 262,
  ImageDescription: 270,
  SamplesPerPixel: 277,
  PlanarConfiguration: 284,
  Predictor: 317,
  TileWidth: 322,
  TileLength: 323,
  TileOffsets: 324,
  TileByteCounts: 325,
  SampleFormat: 339,
  /** GeoTIFF: pixel size (x, y, z). */
  ModelPixelScale: 33550,
  /** GeoTIFF: raster point (i, j, k) tied to model point (x, y, z). */
  ModelTiepoint: 33922,
  /** GeoTIFF: full 4x4 raster-to-model matrix, used instead of scale + tiepoint for rotated grids. */
  ModelTransformation: 34264,
  GeoKeyDirectory: 34735,
  /** GDAL private tag: the nodata value as ASCII text. */
  GdalNodata: 42113,
} as const;

/** TIFF field types and their byte sizes. */
export const TiffType = {
  ASCII: 2,
  SHORT: 3,
  LONG: 4,
  DOUBLE: 12,
  /** BigTIFF only. */
  LONG8: 16,
} as const;

export type TiffTypeCode = (typeof TiffType)[keyof typeof TiffType];

export const TIFF_TYPE_SIZE: Record<TiffTypeCode, number> = {
  [TiffType.ASCII]: 1,
  [TiffType.SHORT]: 2,
  [TiffType.LONG]: 4,
  [TiffType.DOUBLE]: 8,
  [TiffType.LONG8]: 8,
};

export const CompressionCode = {
  None: 1,
  /** zlib-wrapped deflate (RFC 1950), "Adobe deflate"; what GDAL writes for COMPRESS=DEFLATE. */
  AdobeDeflate: 8,
} as const;

export const PredictorCode = {
  None: 1,
  HorizontalDifferencing: 2,
  FloatingPoint: 3,
} as const;

export const SampleFormatCode = {
  UnsignedInteger: 1,
  SignedInteger: 2,
  IeeeFloat: 3,
} as const;

export const PHOTOMETRIC_MIN_IS_BLACK = 1;
/** PlanarConfiguration 1: samples of a pixel stored together (the only layout for one band). */
export const PLANAR_CONTIGUOUS = 1;
/** NewSubfileType bit 0: this image is a reduced-resolution version of another in the file. */
export const SUBFILE_REDUCED_RESOLUTION = 1;

export const GeoKey = {
  GTModelType: 1024,
  GTRasterType: 1025,
  GeographicType: 2048,
  ProjectedCSType: 3072,
} as const;

/** GeoKeyDirectory header: KeyDirectoryVersion, KeyRevision, MinorRevision (GeoTIFF 1.0 keys, as GDAL writes by default). */
export const GEOKEY_DIRECTORY_VERSION = [1, 1, 0] as const;

export const ModelTypeCode = {
  Projected: 1,
  Geographic: 2,
} as const;

export const RASTER_PIXEL_IS_AREA = 1;

/**
 * GDAL's "ghost" header area: ASCII text right after the TIFF header that tells GDAL how the
 * file is laid out, so it can read blocks without first loading the tile index. The keys are
 * GDAL's; the size field counts the bytes after its own line.
 */
export const GDAL_STRUCTURAL_METADATA_PREFIX = 'GDAL_STRUCTURAL_METADATA_SIZE=';
export const GDAL_STRUCTURAL_METADATA_BODY =
  'LAYOUT=IFDS_BEFORE_DATA\n' +
  'BLOCK_ORDER=ROW_MAJOR\n' +
  'BLOCK_LEADER=SIZE_AS_UINT4\n' +
  'BLOCK_TRAILER=LAST_4_BYTES_REPEATED\n' +
  'KNOWN_INCOMPATIBLE_EDITION=NO\n' +
  // GDAL ends the body with a space so that a later edit can append keys without moving data.
  ' ';
/** BLOCK_LEADER=SIZE_AS_UINT4: every tile is preceded by its byte count as a little-endian uint32. */
export const BLOCK_LEADER_SIZE = 4;
/** BLOCK_TRAILER=LAST_4_BYTES_REPEATED: every tile is followed by a copy of its last 4 bytes. */
export const BLOCK_TRAILER_SIZE = 4;
