import { describe, expect, it } from 'vitest';
import { dateJson } from '../../lib/leanRead.js';

/** `dateJson` (lib/leanRead.ts) writes what `Date#toJSON` writes, for every date. */

/** The time of a UTC date (`Date.UTC` would read years 0 to 99 as 1900 to 1999). */
function utc(year: number, month = 0, day = 1, hours = 0, minutes = 0, seconds = 0, ms = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  date.setUTCHours(hours, minutes, seconds, ms);
  return date.getTime();
}

describe('dateJson', () => {
  it('When a date is formatted, then the text is Date#toJSON’s', () => {
    const edges = [
      0,
      -1,
      1,
      utc(0) - 1, // the last millisecond of year -1
      utc(0),
      utc(9, 8, 7, 6, 5, 4, 3),
      utc(99, 11, 31, 23, 59, 59, 999),
      utc(999, 11, 31, 23, 59, 59, 999),
      utc(1000),
      utc(9999, 11, 31, 23, 59, 59, 999),
      utc(10000),
      8.64e15,
      -8.64e15,
      utc(2026, 1, 28, 23, 59, 59, 5),
      utc(2024, 1, 29, 9, 5, 7, 50),
    ];
    // a fixed pseudo-random spread over the years -100 to 10,099
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const from = utc(-100);
    const to = utc(10100);
    const spread = Array.from({ length: 5000 }, () => Math.floor(from + random() * (to - from)));
    for (const time of [...edges, ...spread]) {
      const date = new Date(time);
      expect(dateJson(date), String(time)).toBe(date.toJSON());
    }
    expect(new Date(utc(99)).toJSON()).toBe('0099-01-01T00:00:00.000Z');
  });

  it('When a date is invalid, then it is null, as JSON.stringify writes it', () => {
    expect(dateJson(new Date(Number.NaN))).toBeNull();
    expect(JSON.stringify({ at: dateJson(new Date('not a date')) })).toBe(
      JSON.stringify({ at: new Date('not a date') }),
    );
  });
});
