import { TaskError } from '../common/errors.js';
import { SeededRandom, seedFrom } from './seeded-random.js';

/**
 * Smooth random fields for generated rasters (value noise): standard normals on a lattice one
 * `cell` apart, interpolated to pixel centres with smoothstep weights. Several cells summed give
 * fractal detail: large structures with finer ones on top, as in landscapes, clouds or ocean
 * temperature anomalies.
 */

export interface Lattice {
  rows: number;
  cols: number;
  /** Lattice spacing in pixels. */
  cell: number;
  /** Whether the last column's right neighbour is the first column (a field around the globe). */
  wrapX: boolean;
  values: Float32Array;
}

export interface Octave {
  /** Correlation length in pixels. */
  cell: number;
  weight: number;
}

/**
 * Variance of an interpolated lattice of unit-variance values, averaged over a cell: (26/35)^2.
 * Along one axis smoothstep weights s, 1-s give E[s^2 + (1-s)^2] = 26/35; the axes multiply.
 * Dividing by its square root makes fields unit-variance, so thresholds read as standard scores.
 */
export const SMOOTHSTEP_VARIANCE_2D = (26 / 35) ** 2;

/** A lattice covering height x width pixels; with wrapX the width must be a multiple of the cell. */
export function emptyLattice(height: number, width: number, cell: number, wrapX = false): Lattice {
  if (wrapX && width % cell !== 0) throw new TaskError('internal', `a wrapping lattice needs the width (${width}) to be a multiple of the cell (${cell})`);
  const rows = Math.floor((height - 0.5) / cell) + 2;
  const cols = wrapX ? width / cell : Math.floor((width - 0.5) / cell) + 2;
  return { rows, cols, cell, wrapX, values: new Float32Array(rows * cols) };
}

export function randomLattice(random: SeededRandom, height: number, width: number, cell: number, wrapX = false): Lattice {
  const lattice = emptyLattice(height, width, cell, wrapX);
  random.normals(lattice.values);
  return lattice;
}

/** Adds weight x (the lattice interpolated at every pixel centre) to `out` (height x width, row-major). */
export function addInterpolated(lattice: Lattice, out: Float32Array, height: number, width: number, weight: number): void {
  const { cell, cols, values } = lattice;
  const scale = weight / Math.sqrt(SMOOTHSTEP_VARIANCE_2D);
  const left = new Int32Array(width);
  const right = new Int32Array(width);
  const wx = new Float32Array(width);
  for (let j = 0; j < width; j++) {
    const x = (j + 0.5) / cell;
    const c = Math.floor(x);
    left[j] = c;
    right[j] = lattice.wrapX ? (c + 1) % cols : c + 1;
    wx[j] = smoothstep(x - c);
  }
  for (let i = 0; i < height; i++) {
    const y = (i + 0.5) / cell;
    const r = Math.floor(y);
    const wy = smoothstep(y - r);
    const top = r * cols;
    const bottom = top + cols;
    const row = i * width;
    for (let j = 0; j < width; j++) {
      const a = values[top + left[j]!]!;
      const b = values[top + right[j]!]!;
      const c = values[bottom + left[j]!]!;
      const d = values[bottom + right[j]!]!;
      const w = wx[j]!;
      const upper = a + (b - a) * w;
      const lower = c + (d - c) * w;
      out[row + j] = out[row + j]! + scale * (upper + (lower - upper) * wy);
    }
  }
}

/** The octaves summed with their weights, scaled back to unit variance; each octave has its own stream. */
export function fractalNoise(seed: number, height: number, width: number, octaves: readonly Octave[], wrapX = false): Float32Array {
  const out = new Float32Array(height * width);
  const norm = Math.sqrt(octaves.reduce((sum, { weight }) => sum + weight * weight, 0));
  for (const { cell, weight } of octaves) {
    const lattice = randomLattice(new SeededRandom(seedFrom(seed, 'octave', cell)), height, width, cell, wrapX);
    addInterpolated(lattice, out, height, width, weight / norm);
  }
  return out;
}

function smoothstep(f: number): number {
  return f * f * (3 - 2 * f);
}
