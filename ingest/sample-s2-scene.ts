import { dayOfYear } from './calendar.js';
import { fractalNoise } from './smooth-noise.js';
import { SeededRandom, seedFrom } from './seeded-random.js';

/**
 * A synthetic Sentinel-2 L2A scene: a landscape of agricultural parcels, forest, towns, a lake and
 * a river, seen on several dates with clouds, their shadows and, on a swath edge, missing data.
 * Red (B04) and near-infrared (B08) are reflectance x 10000 on a 10 m grid; the scene
 * classification (SCL) is on the 20 m grid, as in real L2A products.
 *
 * Clouds, shadows and missing data are decided on the 20 m grid and copied to the four 10 m
 * pixels under each 20 m pixel, so the bands are bright exactly where SCL says cloud when SCL is
 * upsampled by nearest neighbour, and B04 = B08 = 0 exactly where SCL is 0.
 */

/** Scene classification codes of Sentinel-2 L2A (the subset the sample uses). */
export const Scl = {
  NoData: 0,
  CloudShadow: 3,
  Vegetation: 4,
  NotVegetated: 5,
  Water: 6,
  Unclassified: 7,
  CloudMediumProbability: 8,
  CloudHighProbability: 9,
  ThinCirrus: 10,
} as const;

/** Whether an SCL class counts as cloud in `eo:cloud_cover`: medium and high probability cloud, thin cirrus. */
export function isCloudClass(scl: number): boolean {
  return scl === Scl.CloudMediumProbability || scl === Scl.CloudHighProbability || scl === Scl.ThinCirrus;
}

export interface SceneDate {
  /** YYYY-MM-DD */
  date: string;
  /** Share of the valid 20 m pixels to cover with cloud (SCL 8, 9, 10), 0..1. */
  cloudCover: number;
  /** Whether the scene lies at the edge of the swath: a wedge of missing data. */
  swathEdge: boolean;
}

export interface SceneImages {
  /** B04, reflectance x 10000, size x size, 0 = no data. */
  red: Uint16Array;
  /** B08, reflectance x 10000, size x size, 0 = no data. */
  nir: Uint16Array;
  /** SCL, size/2 x size/2. */
  scl: Uint8Array;
  /** 100 x count(SCL in {8, 9, 10}) / count(SCL != 0), to two decimals, as L2A products state it. */
  cloudCoverPercent: number;
}

/** 10 m pixels per 20 m SCL pixel along each axis. */
export const SCL_FACTOR = 2;

/** Parcel depth (north-south) as [min, max + 1], drawn per strip of fields: 20 to 45 pixels (200-450 m). */
export const PARCEL_ROWS: readonly [number, number] = [20, 46];

/** Parcel width (east-west) as [min, max + 1], drawn per parcel: 25 to 110 pixels (250-1100 m), the sizes of central-European fields. */
export const PARCEL_COLUMNS: readonly [number, number] = [25, 111];

/**
 * Rows (20 m) a shadow lies north of the cloud casting it: 30. In mid-June at 10:30 UTC near
 * 48° N the sun stands about 62° high in the south-south-east, so a cloud at 1.3 km casts its
 * shadow ~700 m towards the north-north-west.
 */
export const SHADOW_OFFSET_ROWS = 30;

/** Columns (20 m) a shadow lies west of the cloud casting it: 17 (see SHADOW_OFFSET_ROWS). */
export const SHADOW_OFFSET_COLUMNS = 17;

/** Cloud opacity above which a cloud casts a shadow: 0.45 (thin cirrus casts none worth flagging). */
export const SHADOW_CASTING_OPACITY = 0.45;

/** Share of the light a cloud shadow leaves: 0.4. */
export const SHADOW_TRANSMITTANCE = 0.4;

/**
 * First missing column (20 m) of the swath-edge wedge in the top row: 590. With SWATH_EDGE_SLOPE
 * the wedge is a triangle in the north-east of about 8 % of the scene, large enough to matter in
 * composites, small enough to leave most of the date usable.
 */
export const SWATH_EDGE_FIRST_COLUMN = 590;

/** Columns the swath edge moves east per row: 0.32, the slant of a swath edge across a UTM tile. */
export const SWATH_EDGE_SLOPE = 0.32;

/** Share of clear 20 m pixels the classifier leaves unclassified (SCL 7): 0.3 %. */
export const UNCLASSIFIED_SHARE = 0.003;

/**
 * Pixel noise relative to the signal (standard deviation): 0.8 %, with ABSOLUTE_NOISE about the
 * radiometric noise of L2A reflectances. Neighbouring pixels then nearly always differ, so a
 * reader off by one pixel shows, while the band files stay near 1.5 bytes a pixel.
 */
export const RELATIVE_NOISE = 0.008;

/** Pixel noise independent of the signal (standard deviation): 8 DN, i.e. 0.0008 reflectance. */
export const ABSOLUTE_NOISE = 8;

/** Reflectance x 10000 [red, nir] of the surfaces mixed into the scene. */
const GREEN_CANOPY = [320, 3600] as const;
const BARE_SOIL = [1650, 2200] as const;
const FOREST_CANOPY = [250, 2900] as const;
const BUILT_UP = [1400, 1700] as const;
const OPEN_WATER = [260, 120] as const;
const CLOUD_TOP = [6500, 6800] as const;

const enum Cover {
  Field = 0,
  FieldEdge = 1,
  Forest = 2,
  Urban = 3,
  Water = 4,
}

const enum Crop {
  WinterCereal = 0,
  Maize = 1,
  Grassland = 2,
  SugarBeet = 3,
  Fallow = 4,
}

/** Crops in the order of their cumulative shares. */
const CROP_SHARES: readonly [Crop, number][] = [
  [Crop.WinterCereal, 0.3],
  [Crop.Maize, 0.2],
  [Crop.Grassland, 0.25],
  [Crop.SugarBeet, 0.15],
  [Crop.Fallow, 0.1],
];

/** Fields in east-west strips of random depth, each strip cut into fields of random width. */
interface Parcels {
  /** Strip of each pixel row. */
  stripOfRow: Int32Array;
  /** Whether a pixel row is the first of its strip (a field border). */
  firstRow: Uint8Array;
  /** Parcel of each (strip, column), strip-major. */
  parcelOf: Int32Array;
  /** Whether a (strip, column) is the first column of its parcel (a field border). */
  firstColumn: Uint8Array;
  crop: Uint8Array;
  /** Green cover at the crop's peak, 0..1. */
  peak: Float32Array;
  /** Day of year of the crop's change: senescence, emergence or mowing. */
  turn: Float32Array;
  /** Brightness of the parcel's soil relative to BARE_SOIL. */
  soil: Float32Array;
}

/** What stays the same on every date. */
export interface Landscape {
  size: number;
  cover: Uint8Array;
  /** Parcel index of each pixel (fields and their edges). */
  parcel: Int32Array;
  parcels: Parcels;
  /** Fine unit-variance texture (canopy gaps, soil moisture, roofs, turbidity). */
  texture: Float32Array;
  /** Forest density, unit variance. */
  terrain: Float32Array;
}

export function makeLandscape(seed: number, size: number): Landscape {
  const terrain = fractalNoise(seedFrom(seed, 'terrain'), size, size, [
    { cell: 600, weight: 1 },
    { cell: 200, weight: 0.6 },
    { cell: 60, weight: 0.3 },
    { cell: 20, weight: 0.15 },
  ]);
  const shore = fractalNoise(seedFrom(seed, 'shore'), size, size, [
    { cell: 120, weight: 1 },
    { cell: 40, weight: 0.5 },
  ]);
  const ponds = fractalNoise(seedFrom(seed, 'ponds'), size, size, [
    { cell: 90, weight: 1 },
    { cell: 30, weight: 0.4 },
  ]);
  const towns = fractalNoise(seedFrom(seed, 'towns'), size, size, [
    { cell: 300, weight: 1 },
    { cell: 60, weight: 0.5 },
  ]);
  const texture = fractalNoise(seedFrom(seed, 'texture'), size, size, [
    { cell: 16, weight: 1 },
    { cell: 5, weight: 0.3 },
  ]);
  const parcels = makeParcels(new SeededRandom(seedFrom(seed, 'parcels')), size);
  const cover = new Uint8Array(size * size);
  const parcel = new Int32Array(size * size);
  // Positions are fractions of the scene, so the layout keeps its look at any size.
  const lakeRow = 0.8 * size;
  const lakeColumn = 0.8 * size;
  const lakeRadiusRows = 0.15 * size;
  const lakeRadiusColumns = 0.24 * size;
  for (let i = 0; i < size; i++) {
    const riverCentre = size * (0.27 + 0.36 * (i / size)) + 0.078 * size * Math.sin((2 * Math.PI * i) / (0.59 * size)) + 0.026 * size * Math.sin((2 * Math.PI * i) / (0.17 * size));
    const strip = parcels.stripOfRow[i]! * size;
    const borderRow = parcels.firstRow[i] === 1;
    for (let j = 0; j < size; j++) {
      const k = i * size + j;
      const dy = (i - lakeRow) / lakeRadiusRows;
      const dx = (j - lakeColumn) / lakeRadiusColumns;
      const lake = dy * dy + dx * dx < 1 + 0.25 * shore[k]!;
      // The river flows from the north edge into the lake and ends there.
      const river = i < lakeRow && Math.abs(j - riverCentre) < 2.5 + 0.8 * shore[k]!;
      const water = lake || river || ponds[k]! > 2.7;
      parcel[k] = parcels.parcelOf[strip + j]!;
      if (water) cover[k] = Cover.Water;
      else if (terrain[k]! > 0.95) cover[k] = Cover.Forest;
      else if (towns[k]! > 2.0) cover[k] = Cover.Urban;
      else if (borderRow || parcels.firstColumn[strip + j] === 1) cover[k] = Cover.FieldEdge;
      else cover[k] = Cover.Field;
    }
  }
  return { size, cover, parcel, parcels, texture, terrain };
}

function makeParcels(random: SeededRandom, size: number): Parcels {
  const stripOfRow = new Int32Array(size);
  const firstRow = new Uint8Array(size);
  let strips = 0;
  for (let i = 0; i < size; strips++) {
    firstRow[i] = 1;
    const end = Math.min(size, i + random.integer(PARCEL_ROWS[0], PARCEL_ROWS[1]));
    stripOfRow.fill(strips, i, end);
    i = end;
  }
  const parcelOf = new Int32Array(strips * size);
  const firstColumn = new Uint8Array(strips * size);
  let count = 0;
  for (let strip = 0; strip < strips; strip++) {
    // Strips start part-way into a field, so field borders do not line up from strip to strip.
    let j = -random.integer(0, PARCEL_COLUMNS[0]);
    while (j < size) {
      const end = Math.min(size, j + random.integer(PARCEL_COLUMNS[0], PARCEL_COLUMNS[1]));
      if (j >= 0) firstColumn[strip * size + j] = 1;
      parcelOf.fill(count++, strip * size + Math.max(0, j), strip * size + end);
      j = end;
    }
  }
  const parcels: Parcels = { stripOfRow, firstRow, parcelOf, firstColumn, crop: new Uint8Array(count), peak: new Float32Array(count), turn: new Float32Array(count), soil: new Float32Array(count) };
  for (let p = 0; p < count; p++) {
    const pick = random.uniform();
    let cumulative = 0;
    let crop = Crop.Fallow;
    for (const [candidate, share] of CROP_SHARES) {
      cumulative += share;
      if (pick < cumulative) {
        crop = candidate;
        break;
      }
    }
    parcels.crop[p] = crop;
    parcels.soil[p] = random.between(0.75, 1.25);
    switch (crop) {
      case Crop.WinterCereal:
        parcels.peak[p] = random.between(0.7, 0.95);
        parcels.turn[p] = random.between(156, 180);
        break;
      case Crop.Maize:
        parcels.peak[p] = random.between(0.75, 0.95);
        parcels.turn[p] = random.between(162, 190);
        break;
      case Crop.Grassland:
        parcels.peak[p] = random.between(0.7, 0.9);
        parcels.turn[p] = random.between(148, 176);
        break;
      case Crop.SugarBeet:
        parcels.peak[p] = random.between(0.7, 0.9);
        parcels.turn[p] = random.between(148, 168);
        break;
      case Crop.Fallow:
        parcels.peak[p] = random.between(0.12, 0.3);
        parcels.turn[p] = 0;
        break;
    }
  }
  return parcels;
}

/** Green cover (0..1) of a parcel on a day of the year: each crop has its own season. */
function greenCover(crop: number, peak: number, turn: number, dayOfYear: number): number {
  switch (crop) {
    case Crop.WinterCereal:
      // Ripening: the canopy yellows within a couple of weeks around `turn`.
      return peak * (1 - 0.8 * logistic((dayOfYear - turn) / 5));
    case Crop.Maize:
      return 0.08 + (peak - 0.08) * logistic((dayOfYear - turn) / 7);
    case Crop.Grassland:
      // Mown on day `turn`, then regrowing.
      return dayOfYear < turn ? peak : Math.min(peak, 0.22 + 0.045 * (dayOfYear - turn));
    case Crop.SugarBeet:
      return 0.1 + (peak - 0.1) * logistic((dayOfYear - turn) / 6);
    default:
      return peak;
  }
}

function logistic(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Renders one date of the landscape; `index` names the date's random streams. */
export function renderScene(landscape: Landscape, when: SceneDate, seed: number, index: number): SceneImages {
  const { size, cover, parcel, parcels, texture, terrain } = landscape;
  const size20 = size / SCL_FACTOR;
  const sky = skyOnSclGrid(seed, index, size20, when);
  const doy = dayOfYear(when.date);
  const noise = new SeededRandom(seedFrom(seed, 'noise', index));

  const parcelCover = new Float32Array(parcels.crop.length);
  for (let p = 0; p < parcelCover.length; p++) parcelCover[p] = greenCover(parcels.crop[p]!, parcels.peak[p]!, parcels.turn[p]!, doy);

  const red = new Uint16Array(size * size);
  const nir = new Uint16Array(size * size);
  const redSum = new Float64Array(size20 * size20);
  const nirSum = new Float64Array(size20 * size20);
  const waterCount = new Uint8Array(size20 * size20);
  for (let i = 0; i < size; i++) {
    const row20 = (i >> 1) * size20;
    for (let j = 0; j < size; j++) {
      const k = i * size + j;
      const k20 = row20 + (j >> 1);
      const scl = sky.scl[k20]!;
      // Every pixel draws its noise, so a pixel's value does not depend on its neighbours' classes.
      const multiplicative = 1 + RELATIVE_NOISE * triangular(noise);
      const additive = ABSOLUTE_NOISE * triangular(noise);
      if (scl === Scl.NoData) continue;
      const t = texture[k]!;
      let r: number;
      let n: number;
      switch (cover[k]) {
        case Cover.Water:
          waterCount[k20] += 1;
          r = OPEN_WATER[0] * (1 + 0.12 * t);
          n = OPEN_WATER[1] * (1 + 0.2 * t);
          break;
        case Cover.Forest: {
          const density = 0.92 + 0.05 * Math.tanh(terrain[k]! - 1.2);
          r = density * FOREST_CANOPY[0] * (1 + 0.1 * t) + (1 - density) * BARE_SOIL[0];
          n = density * FOREST_CANOPY[1] * (1 + 0.08 * t) + (1 - density) * BARE_SOIL[1];
          break;
        }
        case Cover.Urban:
          r = BUILT_UP[0] * (1 + 0.15 * t);
          n = BUILT_UP[1] * (1 + 0.15 * t);
          break;
        default: {
          const p = parcel[k]!;
          const v = clamp(cover[k] === Cover.FieldEdge ? 0.55 : parcelCover[p]! + 0.04 * t, 0, 1);
          const soil = parcels.soil[p]!;
          r = v * GREEN_CANOPY[0] + (1 - v) * BARE_SOIL[0] * soil;
          n = v * GREEN_CANOPY[1] + (1 - v) * BARE_SOIL[1] * soil;
        }
      }
      if (scl === Scl.CloudShadow) {
        r *= SHADOW_TRANSMITTANCE;
        n *= SHADOW_TRANSMITTANCE;
      } else if (isCloudClass(scl)) {
        const a = sky.opacity[k20]!;
        const bright = 1 + 0.03 * t;
        r = (1 - a) * r + a * CLOUD_TOP[0] * bright;
        n = (1 - a) * n + a * CLOUD_TOP[1] * bright;
      }
      red[k] = clamp(Math.round(r * multiplicative + additive), 1, 65535);
      nir[k] = clamp(Math.round(n * multiplicative + additive), 1, 65535);
      redSum[k20] += red[k]!;
      nirSum[k20] += nir[k]!;
    }
  }

  const scl = sky.scl;
  const classifier = new SeededRandom(seedFrom(seed, 'unclassified', index));
  let valid = 0;
  let cloudy = 0;
  for (let k = 0; k < scl.length; k++) {
    const unclassified = classifier.uniform() < UNCLASSIFIED_SHARE;
    if (scl[k] === Scl.NoData) continue;
    valid++;
    if (isCloudClass(scl[k]!)) {
      cloudy++;
      continue;
    }
    if (scl[k] !== SKY_CLEAR) continue;
    const ndvi = (nirSum[k]! - redSum[k]!) / (nirSum[k]! + redSum[k]!);
    scl[k] = unclassified ? Scl.Unclassified : waterCount[k]! >= 2 ? Scl.Water : ndvi > 0.4 ? Scl.Vegetation : Scl.NotVegetated;
  }
  const cloudCoverPercent = valid === 0 ? 0 : Math.round((10000 * cloudy) / valid) / 100;
  return { red, nir, scl, cloudCoverPercent };
}

/** Placeholder class of pixels with a clear sky, until the ground is classified. */
const SKY_CLEAR = 255;

/**
 * Clouds, shadows and missing data on the 20 m grid. Clouds are the top `cloudCover` share of a
 * fractal field over the valid pixels; their opacity grows from the edge inwards, which grades
 * them into thin cirrus (10), medium (8) and high probability (9).
 */
function skyOnSclGrid(seed: number, index: number, size20: number, when: SceneDate): { scl: Uint8Array; opacity: Float32Array } {
  const field = fractalNoise(seedFrom(seed, 'clouds', index), size20, size20, [
    { cell: 200, weight: 1 },
    { cell: 64, weight: 0.6 },
    { cell: 20, weight: 0.3 },
    { cell: 6, weight: 0.12 },
  ]);
  const scl = new Uint8Array(size20 * size20).fill(SKY_CLEAR);
  if (when.swathEdge) {
    for (let i = 0; i < size20; i++) {
      for (let j = Math.max(0, Math.ceil(SWATH_EDGE_FIRST_COLUMN + SWATH_EDGE_SLOPE * i)); j < size20; j++) scl[i * size20 + j] = Scl.NoData;
    }
  }
  const threshold = upperQuantile(field, scl, when.cloudCover);
  const opacity = new Float32Array(size20 * size20);
  for (let k = 0; k < field.length; k++) {
    if (scl[k] === Scl.NoData || field[k]! < threshold) continue;
    const a = Math.min(1, 0.2 + (field[k]! - threshold) / 0.8);
    opacity[k] = a;
    scl[k] = a < 0.35 ? Scl.ThinCirrus : a < 0.7 ? Scl.CloudMediumProbability : Scl.CloudHighProbability;
  }
  for (let i = 0; i + SHADOW_OFFSET_ROWS < size20; i++) {
    for (let j = 0; j + SHADOW_OFFSET_COLUMNS < size20; j++) {
      const k = i * size20 + j;
      const caster = (i + SHADOW_OFFSET_ROWS) * size20 + j + SHADOW_OFFSET_COLUMNS;
      if (scl[k] === SKY_CLEAR && opacity[caster]! >= SHADOW_CASTING_OPACITY) scl[k] = Scl.CloudShadow;
    }
  }
  return { scl, opacity };
}

/** The value exceeded by `share` of the field's valid (not no-data) pixels. */
function upperQuantile(field: Float32Array, scl: Uint8Array, share: number): number {
  if (share <= 0) return Infinity;
  const values: number[] = [];
  for (let k = 0; k < field.length; k++) if (scl[k] !== Scl.NoData) values.push(field[k]!);
  const sorted = Float32Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((1 - share) * sorted.length))]!;
}

/** Zero-mean, unit-variance noise from two uniforms: cheaper than a normal and as good for texture. */
function triangular(random: SeededRandom): number {
  return (random.uniform() + random.uniform() - 1) * Math.SQRT2 * Math.sqrt(3);
}

function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}
