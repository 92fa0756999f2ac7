/** Events of the system module. */
export const SystemEvents = {
  configInitialized: 'config.initialized',
  configChanged: 'config.changed',
  jobRetried: 'system.job.retried',
  cachesCleared: 'system.caches.cleared',
} as const;
