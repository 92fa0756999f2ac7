/** Events of the system module. */
export const SystemEvents = {
  configInitialized: 'config.initialized',
  configChanged: 'config.changed',
  configReloaded: 'config.reloaded',
  configReloadFailed: 'config.reload_failed',
  jobRetried: 'system.job.retried',
  cachesCleared: 'system.caches.cleared',
} as const;
