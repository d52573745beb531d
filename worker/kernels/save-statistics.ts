/**
 * Band statistics computed by the writer tasks while they write, so the results document can
 * describe each asset (STAC `raster:bands[].statistics`) without reading any file back.
 *
 * Partial statistics of tiles merge exactly (count, mean and the sum of squared deviations,
 * combined with Chan et al.'s formula), so a file's figures do not depend on how it was tiled.
 */

/** Mergeable statistics of some pixels of one band; `m2` is the sum of squared deviations from `mean`. */
export interface PartialStatistics {
  /** Pixels considered, valid or not. */
  count: number;
  /** Pixels with a finite value. */
  valid: number;
  mean: number;
  m2: number;
  min: number;
  max: number;
}

/**
 * What STAC's raster extension calls `statistics`; stddev is the population standard deviation.
 * A band without a single valid pixel has only `valid_percent` (0).
 */
export interface BandStatistics {
  minimum?: number;
  maximum?: number;
  mean?: number;
  stddev?: number;
  valid_percent: number;
}

export function emptyStatistics(): PartialStatistics {
  return { count: 0, valid: 0, mean: 0, m2: 0, min: Infinity, max: -Infinity };
}

/** Statistics of `values[from, to)`; non-finite values count as no-data. Two passes, for accuracy in float64. */
export function statisticsOf(values: ArrayLike<number>, from = 0, to = values.length): PartialStatistics {
  let valid = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = from; i < to; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    valid++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = valid > 0 ? sum / valid : 0;
  let m2 = 0;
  if (valid > 0) {
    for (let i = from; i < to; i++) {
      const v = values[i]!;
      if (Number.isFinite(v)) m2 += (v - mean) * (v - mean);
    }
  }
  return { count: to - from, valid, mean, m2, min, max };
}

/**
 * Combines two partials. A partial without valid pixels contributes only its count: its extremes
 * are meaningless and may have become null on the way through JSON (which has no Infinity).
 */
export function mergeStatistics(a: PartialStatistics, b: PartialStatistics): PartialStatistics {
  const count = a.count + b.count;
  if (b.valid === 0) return { ...a, count };
  if (a.valid === 0) return { ...b, count };
  const valid = a.valid + b.valid;
  const delta = b.mean - a.mean;
  return {
    count,
    valid,
    mean: a.mean + (delta * b.valid) / valid,
    m2: a.m2 + b.m2 + (delta * delta * a.valid * b.valid) / valid,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
  };
}

/** The STAC form; null when no pixel was considered at all. */
export function finalStatistics(s: PartialStatistics): BandStatistics | null {
  if (s.count === 0) return null;
  if (s.valid === 0) return { valid_percent: 0 };
  return {
    minimum: s.min,
    maximum: s.max,
    mean: s.mean,
    stddev: Math.sqrt(s.m2 / s.valid),
    valid_percent: (100 * s.valid) / s.count,
  };
}
