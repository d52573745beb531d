/**
 * Reproducible randomness for generated data: a stream is named, not drawn from a global
 * generator, so a file's content depends only on its names and never on how many numbers an
 * unrelated part of the generator drew before it.
 */

/** Seed of every generated sample stream unless a caller picks another: 20200603, the first sample date. */
export const DEFAULT_SAMPLE_SEED = 20200603;

/** 32-bit FNV-1a over the parts joined by "/": a seed per named stream, e.g. seedFrom(seed, 'cloud', 2). */
export function seedFrom(...parts: (string | number)[]): number {
  let hash = 0x811c9dc5;
  const text = parts.join('/');
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * mulberry32: 32 bits of state, period 2^32, passes the usual statistical batteries for the
 * sizes drawn here, and costs a handful of integer operations per number.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [min, max). */
  between(min: number, max: number): number {
    return min + (max - min) * this.uniform();
  }

  /** Integer in [min, maxExclusive). */
  integer(min: number, maxExclusive: number): number {
    return min + Math.floor((maxExclusive - min) * this.uniform());
  }

  /** Standard normal (Box-Muller; one of the pair is dropped so each call costs the same draws). */
  normal(): number {
    const u = 1 - this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fills `out` with standard normals. */
  normals(out: Float32Array): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.normal();
    return out;
  }
}
