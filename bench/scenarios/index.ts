import type { Scenario } from '../harness.js';
import { auditThroughput } from './audit.js';
import { authzChecks } from './authz.js';
import { clusterThroughput } from './cluster.js';
import { healthLive } from './health-live.js';
import { passwordLogin, sessionOverhead } from './identity.js';
import { oidcThroughput } from './oidc.js';
import { rateLimitOverhead } from './rate-limit.js';

/** Every scenario `npm run bench` knows, in the order it runs them. Add new ones here. */
export const scenarios: readonly Scenario[] = [
  healthLive,
  sessionOverhead,
  passwordLogin,
  oidcThroughput,
  authzChecks,
  rateLimitOverhead,
  auditThroughput,
  clusterThroughput,
];
