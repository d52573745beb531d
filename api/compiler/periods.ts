/**
 * Calendar periods of openEO's temporal aggregation and climatology (UTC throughout): where the
 * period holding an instant starts, where the next one starts, and the period's label.
 */

export const PERIODS = ['hour', 'day', 'week', 'dekad', 'month', 'season', 'tropical-season', 'year', 'decade', 'decade-ad'] as const;
export type Period = (typeof PERIODS)[number];

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function utc(year: number, month: number, day = 1): number {
  return Date.UTC(year, month, day);
}

/** Day of the year, 1-based. */
export function dayOfYear(ms: number): number {
  const d = new Date(ms);
  return Math.floor((utc(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - utc(d.getUTCFullYear(), 0, 1)) / DAY_MS) + 1;
}

/** ISO 8601 week-numbering year and week of an instant. */
export function isoWeek(ms: number): { year: number; week: number } {
  const d = new Date(ms);
  const day = (d.getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
  // The Thursday of the same week decides the year.
  const thursday = utc(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day + 3);
  const year = new Date(thursday).getUTCFullYear();
  const week = Math.floor((thursday - utc(year, 0, 1)) / DAY_MS / 7) + 1;
  return { year, week };
}

/** Start of the period holding instant `ms`. */
export function periodStart(period: Period, ms: number): number {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  switch (period) {
    case 'hour':
      return Math.floor(ms / HOUR_MS) * HOUR_MS;
    case 'day':
      return utc(y, m, d.getUTCDate());
    case 'week':
      return utc(y, m, d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
    case 'dekad':
      return utc(y, m, d.getUTCDate() <= 10 ? 1 : d.getUTCDate() <= 20 ? 11 : 21);
    case 'month':
      return utc(y, m);
    case 'season':
      // December opens the winter of the following January and February.
      return m === 11 ? utc(y, 11) : m < 2 ? utc(y - 1, 11) : utc(y, m - ((m - 2) % 3));
    case 'tropical-season':
      return m >= 10 ? utc(y, 10) : m < 4 ? utc(y - 1, 10) : utc(y, 4);
    case 'year':
      return utc(y, 0);
    case 'decade':
      return utc(Math.floor(y / 10) * 10, 0);
    case 'decade-ad':
      return utc(Math.floor((y - 1) / 10) * 10 + 1, 0);
  }
}

/** Start of the period after the one starting at `start`. */
export function nextPeriod(period: Period, start: number): number {
  const d = new Date(start);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  switch (period) {
    case 'hour':
      return start + HOUR_MS;
    case 'day':
      return utc(y, m, d.getUTCDate() + 1);
    case 'week':
      return utc(y, m, d.getUTCDate() + 7);
    case 'dekad':
      return d.getUTCDate() === 21 ? utc(y, m + 1) : utc(y, m, d.getUTCDate() + 10);
    case 'month':
      return utc(y, m + 1);
    case 'season':
      return utc(y, m + 3);
    case 'tropical-season':
      return utc(y, m + 6);
    case 'year':
      return utc(y + 1, 0);
    case 'decade':
    case 'decade-ad':
      return utc(y + 10, 0);
  }
}

const SEASONS: Record<number, string> = { 11: 'djf', 2: 'mam', 5: 'jja', 8: 'son' };
const TROPICAL_SEASONS: Record<number, string> = { 10: 'ndjfma', 4: 'mjjaso' };

/** The label of the period starting at `start` (openEO's formats, e.g. 2024-03 for the third dekad). */
export function periodLabel(period: Period, start: number): string {
  const d = new Date(start);
  const y = pad(d.getUTCFullYear(), 4);
  const m = d.getUTCMonth();
  switch (period) {
    case 'hour':
      return `${y}-${pad(m + 1, 2)}-${pad(d.getUTCDate(), 2)}-${pad(d.getUTCHours(), 2)}`;
    case 'day':
      return `${y}-${pad(dayOfYear(start), 3)}`;
    case 'week': {
      const w = isoWeek(start);
      return `${pad(w.year, 4)}-${pad(w.week, 2)}`;
    }
    case 'dekad':
      return `${y}-${pad(m * 3 + Math.floor((d.getUTCDate() - 1) / 10) + 1, 2)}`;
    case 'month':
      return `${y}-${pad(m + 1, 2)}`;
    case 'season':
      return `${y}-${SEASONS[m]}`;
    case 'tropical-season':
      return `${y}-${TROPICAL_SEASONS[m]}`;
    case 'year':
    case 'decade':
    case 'decade-ad':
      return y;
  }
}

/**
 * The periods from the one holding the earliest instant to the one holding the latest, each
 * with the positions of the instants it holds (empty periods included, as openEO asks).
 */
export function periodGroups(period: Period, instants: number[]): { labels: string[]; groups: number[][] } {
  const valid = instants.filter((t) => !Number.isNaN(t));
  if (valid.length === 0) return { labels: [], groups: [] };
  const first = periodStart(period, Math.min(...valid));
  const last = periodStart(period, Math.max(...valid));
  const labels: string[] = [];
  const starts: number[] = [];
  for (let s = first; s <= last; s = nextPeriod(period, s)) {
    starts.push(s);
    labels.push(periodLabel(period, s));
  }
  const index = new Map(starts.map((s, i) => [s, i] as const));
  const groups: number[][] = starts.map(() => []);
  instants.forEach((t, i) => {
    if (Number.isNaN(t)) return;
    groups[index.get(periodStart(period, t))!]!.push(i);
  });
  return { labels, groups };
}
