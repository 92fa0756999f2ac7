import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

const FILE = /^gatehouse-(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})-(\d{3})Z\.ghbk$/;

/** The file name of a scheduled backup taken at `time` (sortable, and parsed back by `backupTime`). */
export function scheduledBackupName(time: number): string {
  return `gatehouse-${new Date(time).toISOString().replace(/[:.]/g, '-')}.ghbk`;
}

export function backupTime(name: string): number | undefined {
  const match = FILE.exec(name);
  return match ? Date.parse(`${match[1]}T${match[2]}:${match[3]}:${match[4]}.${match[5]}Z`) : undefined;
}

const DAY = 86_400_000;
/** Monday 00:00 UTC of the week holding `time` (ISO weeks). */
const weekOf = (time: number) => {
  const day = Math.floor(time / DAY);
  return (day - ((new Date(day * DAY).getUTCDay() + 6) % 7)) * DAY;
};

/**
 * Which scheduled backups to keep: the newest of each of the last `keepDaily` days (UTC) and the newest of
 * each of the last `keepWeekly` ISO weeks, counted from `now`. Everything else may go.
 */
export function planRetention(
  times: readonly number[],
  now: number,
  keepDaily: number,
  keepWeekly: number,
): { keep: number[]; remove: number[] } {
  const newestFirst = [...times].sort((a, b) => b - a);
  const keep = new Set<number>();
  const today = Math.floor(now / DAY) * DAY;
  const thisWeek = weekOf(now);
  const pick = (start: number, end: number) => newestFirst.find((time) => time >= start && time < end);
  for (let day = 0; day < keepDaily; day += 1) {
    const found = pick(today - day * DAY, today - (day - 1) * DAY);
    if (found !== undefined) keep.add(found);
  }
  for (let week = 0; week < keepWeekly; week += 1) {
    const found = pick(thisWeek - week * 7 * DAY, thisWeek - (week - 1) * 7 * DAY);
    if (found !== undefined) keep.add(found);
  }
  return {
    keep: newestFirst.filter((time) => keep.has(time)),
    remove: newestFirst.filter((time) => !keep.has(time)),
  };
}

/** Deletes the scheduled backups in `directory` that the retention plan does not keep; returns their names. */
export async function pruneScheduledBackups(
  directory: string,
  now: number,
  keepDaily: number,
  keepWeekly: number,
): Promise<string[]> {
  const files = (await readdir(directory)).filter((name) => backupTime(name) !== undefined);
  const { remove } = planRetention(
    files.map((name) => backupTime(name)!),
    now,
    keepDaily,
    keepWeekly,
  );
  const removed = files.filter((name) => remove.includes(backupTime(name)!));
  for (const name of removed) await rm(join(directory, name), { force: true });
  return removed;
}
