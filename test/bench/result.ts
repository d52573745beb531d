/** One benchmark figure, printed with its ratio to the target. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  target: number;
  /** value / target when higher is better, target / value otherwise: ≥ 1 meets the target. */
  ratio: number;
  higherIsBetter: boolean;
  /** Extra context (sizes, machine load) printed beside the figure. */
  note?: string;
}

export function result(name: string, value: number, unit: string, target: number, higherIsBetter: boolean, note?: string): BenchResult {
  const ratio = higherIsBetter ? value / target : target / value;
  return { name, value, unit, target, ratio, higherIsBetter, ...(note ? { note } : {}) };
}

export function formatResult(r: BenchResult): string {
  const fmt = (n: number): string => (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(3));
  const verdict = r.ratio >= 1 ? 'meets target' : 'BELOW target';
  return `${r.name.padEnd(52)} ${fmt(r.value).padStart(10)} ${r.unit.padEnd(10)} target ${r.higherIsBetter ? '≥' : '≤'} ${fmt(r.target)} ${r.unit}  ratio ${r.ratio.toFixed(2)}  ${verdict}${r.note ? `  (${r.note})` : ''}`;
}
