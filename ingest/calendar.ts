/** Calendar arithmetic on ISO dates (YYYY-MM-DD), in UTC so that no local time zone enters generated data. */

export const MS_PER_DAY = 86_400_000;

/** Day of the year (1 = 1 January) of a YYYY-MM-DD date. */
export function dayOfYear(date: string): number {
  const t = Date.parse(`${date}T00:00:00Z`);
  return Math.round((t - Date.UTC(new Date(t).getUTCFullYear(), 0, 1)) / MS_PER_DAY) + 1;
}

/** `count` consecutive dates from `first`, YYYY-MM-DD. */
export function consecutiveDates(first: string, count: number): string[] {
  const start = Date.parse(`${first}T00:00:00Z`);
  return Array.from({ length: count }, (_, day) => new Date(start + day * MS_PER_DAY).toISOString().slice(0, 10));
}

/** Days since 1970-01-01 of a YYYY-MM-DD date. */
export function daysSinceEpoch(date: string): number {
  return Date.parse(`${date}T00:00:00Z`) / MS_PER_DAY;
}
