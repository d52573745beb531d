import { OpenEOError } from '../../common/errors.js';
import type { IRNode } from '../../common/ir.js';
import { type LazyCube, timeBlockRange } from '../compiler/cube.js';
import { chunkDims, gatherTimeWithGaps, materialize, mergePrograms, MISSING_LABEL } from '../compiler/cube-ops.js';
import { dayOfYear, type Period, periodLabel, periodStart } from '../compiler/periods.js';
import { alignSpatially } from '../compiler/regrid.js';
import { aggregateGroups } from '../compiler/temporal-groups.js';
import { CubeValue, type Value } from '../compiler/values.js';
import { cubeArg, invalid, stringArg } from './arguments.js';
import { TEMPORAL_CUBE, temporalDimensionArg } from './cube-common.js';
import { definition, param } from './definition.js';
import type { ProcessImplementation } from './types.js';

/**
 * Climatology: normals (the mean of each day, month or season of the year over a span of
 * years) and anomalies (the data minus the normal of its period). Normals are tree reductions
 * per period, so thirty years of daily data take bounded memory; anomalies are chunk-local.
 */

/** The climatology period openEO uses unless told otherwise (WMO's 1981–2010 normals). */
const DEFAULT_CLIMATOLOGY_PERIOD: [number, number] = [1981, 2010];
const NORMAL_PERIODS = ['day', 'month', 'season', 'tropical-season', 'climatology-period'] as const;
type NormalPeriod = (typeof NORMAL_PERIODS)[number];
const ANOMALY_PERIODS = ['hour', 'day', 'week', 'dekad', 'month', 'season', 'tropical-season', 'year', 'decade', 'decade-ad', 'climatology-period', 'single-period'] as const;
/** The label of the one normal of the climatology-period period. */
const WHOLE_PERIOD_LABEL = 'climatology-period';
/** Normals are means of the valid values. */
const NORMAL_REDUCER = 'mean';

function instantOf(label: string): number {
  return /^\d{4}-\d{2}-\d{2}$/.test(label) ? Date.parse(`${label}T00:00:00Z`) : Date.parse(label);
}

/** Labels of the normals of a period, in calendar order. */
function normalLabels(period: NormalPeriod, days: number): string[] {
  switch (period) {
    case 'day':
      return Array.from({ length: days }, (_, i) => String(i + 1).padStart(3, '0'));
    case 'month':
      return Array.from({ length: 12 }, (_, i) => String(i + 1).padStart(2, '0'));
    case 'season':
      return ['djf', 'mam', 'jja', 'son'];
    case 'tropical-season':
      return ['ndjfma', 'mjjaso'];
    case 'climatology-period':
      return [WHOLE_PERIOD_LABEL];
  }
}

/**
 * The normal an instant counts for within years [first, last], or null. A winter season opens in
 * the December before its year, so Decembers (and Novembers, for the tropical season) count from
 * the year before the span and not in its last year.
 */
function normalOf(period: NormalPeriod, t: number, first: number, last: number): string | null {
  const d = new Date(t);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const inYears = y >= first && y <= last;
  switch (period) {
    case 'day':
      return inYears ? String(dayOfYear(t)).padStart(3, '0') : null;
    case 'month':
      return inYears ? String(m + 1).padStart(2, '0') : null;
    case 'climatology-period':
      return inYears ? WHOLE_PERIOD_LABEL : null;
    case 'season': {
      const season = periodLabel('season', periodStart('season', t)).slice(5);
      const seasonYear = m === 11 ? y + 1 : y;
      return seasonYear >= first && seasonYear <= last ? season : null;
    }
    case 'tropical-season': {
      const season = periodLabel('tropical-season', periodStart('tropical-season', t)).slice(5);
      const seasonYear = m >= 10 ? y + 1 : y;
      return seasonYear >= first && seasonYear <= last ? season : null;
    }
  }
}

function yearsArg(value: Value | undefined): [number, number] {
  if (value === undefined || value === null) return DEFAULT_CLIMATOLOGY_PERIOD;
  const years = Array.isArray(value) ? value.map((v) => (typeof v === 'string' ? Number(v) : v)) : [];
  if (years.length !== 2 || !years.every((y) => typeof y === 'number' && Number.isInteger(y)) || (years[0] as number) > (years[1] as number)) {
    throw invalid('climatological_normal', 'climatology_period', 'must be [first year, last year]');
  }
  return years as [number, number];
}

const climatologicalNormal: ProcessImplementation = {
  definition: definition(
    'climatological_normal',
    'Climatological normals',
    'The mean of each day of the year, month, season or tropical season (or of the whole span) over a span of years, skipping no data. Winter seasons open in the December before their year.',
    ['cubes', 'climatology'],
    [
      param('data', 'A data cube with one temporal dimension spanning the years.', TEMPORAL_CUBE),
      param('period', 'What each normal covers.', { type: 'string', enum: [...NORMAL_PERIODS] }),
      param('climatology_period', 'The first and the last year of the span, both included.', { type: 'array', uniqueItems: true, minItems: 2, maxItems: 2, items: { type: 'integer', subtype: 'year' } }, { optional: true, default: DEFAULT_CLIMATOLOGY_PERIOD }),
    ],
    { description: 'The normals, labelled 001–365 (days), 01–12 (months), djf, mam, jja, son (seasons), ndjfma, mjjaso (tropical seasons) or climatology-period.', schema: TEMPORAL_CUBE },
  ),
  evaluate(args, context) {
    const cube = cubeArg('climatological_normal', args, 'data');
    const period = stringArg('climatological_normal', args, 'period');
    if (!(NORMAL_PERIODS as readonly string[]).includes(period)) throw invalid('climatological_normal', 'period', `must be one of ${NORMAL_PERIODS.join(', ')}`);
    const [first, last] = yearsArg(args.climatology_period);
    const dim = temporalDimensionArg('climatological_normal', cube, null);
    const keys = dim.labels.map((label) => normalOf(period as NormalPeriod, instantOf(label), first, last));
    // Day 366 exists only when a leap day is in the span.
    const labels = normalLabels(period as NormalPeriod, keys.includes('366') ? 366 : 365);
    const groups = labels.map((label) => keys.flatMap((key, i) => (key === label ? [i] : [])));
    const tree = { reducer: NORMAL_REDUCER, ignoreNodata: true } as const;
    const program = (data: IRNode): IRNode => ({ op: 'reduce', dim: dim.name, reducer: NORMAL_REDUCER, ignoreNodata: true, x: data });
    return new CubeValue(aggregateGroups(cube, dim, groups, labels, tree, program, context.builder, `${period} normals ${first}–${last} of ${cube.description}`));
  },
};

/** The normal label a data label belongs to: from a label of aggregate_temporal_period, or from a date. */
function normalKey(period: (typeof ANOMALY_PERIODS)[number], label: string): string | null {
  if (period === 'climatology-period' || period === 'single-period') return null;
  const t = /^\d{4}-\d{2}-\d{2}/.test(label) ? instantOf(label) : NaN;
  const periodic = Number.isNaN(t) ? label : periodLabel(period as Period, periodStart(period as Period, t));
  if (period === 'year' || period === 'decade' || period === 'decade-ad') return periodic;
  // Labels like 2020-01, 2020-032, 2023-djf, 2020-06-01-13: the part after the year.
  return periodic.replace(/^\d{4}-(?:\d{2}-\d{2}-)?/, '');
}

const anomaly: ProcessImplementation = {
  definition: definition(
    'anomaly',
    'Anomalies from normals',
    'Subtracts from each time step the normal of its period (e.g. the January normal from every January), matching the data\'s labels (dates, or labels of aggregate_temporal_period) with the normals\' labels. Normals on another grid are resampled (nearest) onto the data\'s.',
    ['climatology', 'cubes', 'math'],
    [
      param('data', 'A data cube with one temporal dimension.', TEMPORAL_CUBE),
      param('normals', 'Normals with one temporal dimension, e.g. from climatological_normal.', TEMPORAL_CUBE),
      param('period', 'The period the normals are for.', { type: 'string', enum: [...ANOMALY_PERIODS] }),
    ],
    { description: 'The anomalies: the data minus their normals (no data where a normal is missing).', schema: TEMPORAL_CUBE },
  ),
  evaluate(args, context) {
    const data = cubeArg('anomaly', args, 'data');
    const normalsCube = cubeArg('anomaly', args, 'normals');
    const period = stringArg('anomaly', args, 'period') as (typeof ANOMALY_PERIODS)[number];
    if (!ANOMALY_PERIODS.includes(period)) throw invalid('anomaly', 'period', `must be one of ${ANOMALY_PERIODS.join(', ')}`);
    const dim = temporalDimensionArg('anomaly', data, null);
    const normalsDim = temporalDimensionArg('anomaly', normalsCube, null);
    const whole = period === 'climatology-period' || period === 'single-period';
    if (whole && normalsDim.labels.length !== 1) throw invalid('anomaly', 'normals', `must have one time step for the ${period} period, it has ${normalsDim.labels.length}`);
    const positions = dim.labels.map((label) => {
      if (whole) return 0;
      const key = normalKey(period, label);
      const at = key === null ? -1 : normalsDim.labels.findIndex((n) => String(n) === key);
      return at >= 0 ? at : MISSING_LABEL;
    });
    if (positions.every((p) => p === MISSING_LABEL) && dim.labels.length > 0) {
      throw new OpenEOError('ProcessParameterInvalid', `anomaly: no time step of the data matches a normal (normals: ${normalsDim.labels.slice(0, 12).join(', ')})`);
    }
    // Normals are read by many time blocks: computed once each.
    const normals = materialize(alignSpatially('anomaly', normalsCube, data, 'near', context.builder), context.builder);
    const order = chunkDims(data);
    const result: LazyCube = {
      ...data,
      description: `${data.description}, anomalies from ${period} normals`,
      reload: undefined,
      chunk(coord) {
        // The data's only temporal dimension is the one cut into time blocks.
        const block = timeBlockRange(data, coord.tb);
        const matching = gatherTimeWithGaps(normals, coord.tx, coord.ty, positions.slice(block.start, block.end));
        const merged = mergePrograms([data.chunk(coord), matching]);
        const [values, normal] = merged.nodes as [IRNode, IRNode];
        const aligned: IRNode = normalsDim.name === dim.name ? normal : { op: 'rename', from: normalsDim.name, to: dim.name, x: normal };
        return { node: { op: 'transpose', dims: order, x: { op: 'binary', fn: 'sub', a: values, b: aligned } }, inputs: merged.inputs };
      },
    };
    return new CubeValue(result);
  },
};

export const CLIMATE_PROCESSES: ProcessImplementation[] = [climatologicalNormal, anomaly];

