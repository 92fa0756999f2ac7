const timeFormat = new Intl.DateTimeFormat('en-GB', {
  dateStyle: 'medium',
  timeStyle: 'medium',
});

export function formatTime(iso: string): string {
  return timeFormat.format(new Date(iso));
}

export function formatCount(value: number): string {
  return new Intl.NumberFormat('en').format(value);
}

/** `1 event`, `2 events`. */
export function plural(count: number, noun: string): string {
  return `${formatCount(count)} ${count === 1 ? noun : `${noun}s`}`;
}
