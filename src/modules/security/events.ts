/** Security events of the security layer (stored in the audit log). */
export const SecurityEvents = {
  rateLimited: 'security.rate_limited',
  rateLimitDegraded: 'security.rate_limit.degraded',
  ipBlocked: 'security.ip.blocked',
  userAgentBlocked: 'security.user_agent.blocked',
  blockLifted: 'security.block.lifted',
  blockedRequest: 'security.blocked_request',
  honeypotHit: 'security.honeytoken.used',
  riskElevated: 'security.risk.elevated',
  signInRefused: 'security.sign_in.refused',
  sessionMoved: 'security.session.moved',
  dataKeyRotated: 'key.data_rotated',
} as const;
