/** How the dashboard writes its figures: few digits, the unit where it is not obvious. */

const whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const twoDecimals = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

/** A count: sockets, jobs, connections. */
export function formatCount(value: number): string {
  return whole.format(value);
}

/** Per second: one decimal below 10 (3.4), whole above. */
export function formatRate(value: number): string {
  return (value < 10 ? oneDecimal : whole).format(value);
}

/** Milliseconds, with as many digits as a human reads: 2.31, 41.7, 230. */
export function formatMs(value: number): string {
  return (value < 10 ? twoDecimals : value < 100 ? oneDecimal : whole).format(value);
}

/** A duration in whole seconds or minutes: 4 s, 2 min 5 s. */
export function formatSeconds(seconds: number): string {
  const s = Math.floor(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}
