import { useEffect, useState } from 'preact/hooks';

/** The current time in milliseconds, updated every `everyMs`: "3 min ago" labels move on their own. */
export function useNow(everyMs = 15_000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** `14:05`: the time of day an operator reads at a glance. */
export const clockTime = (iso: string): string => clock.format(new Date(iso));

/** The full date and time, for a tooltip. */
export const fullTime = (iso: string): string => full.format(new Date(iso));

/** `just now`, `4 min ago`, `2 h ago`, `3 d ago`, counted from `now`. */
export function ago(iso: string, now: number): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return 'just now';
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}
