import { type Static, Type } from '@sinclair/typebox';

const Policy = (limit: number, burst: number, description: string) =>
  Type.Object(
    {
      limit: Type.Integer({ minimum: 1, default: limit, description: 'Requests per window.' }),
      windowSeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: 60 }),
      burst: Type.Integer({
        minimum: 0,
        default: burst,
        description: 'Extra requests allowed once the limit is spent, renewed every ten windows.',
      }),
    },
    { default: {}, additionalProperties: false, description },
  );

const SessionChange = (fallback: 'reauthenticate' | 'record' | 'ignore', description: string) =>
  Type.Union([Type.Literal('reauthenticate'), Type.Literal('record'), Type.Literal('ignore')], {
    default: fallback,
    description: `${description} reauthenticate: the session ends and the user signs in again; record: a security event; ignore: nothing.`,
  });

/** Route classes and who their budget belongs to: see classify() in rate-limit.ts. */
export const RATE_LIMIT_CLASSES = ['auth', 'token', 'check', 'admin', 'api', 'anonymous'] as const;
export type RateLimitClass = (typeof RATE_LIMIT_CLASSES)[number];

const Cidr = Type.String({
  minLength: 2,
  maxLength: 64,
  description: 'An IPv4 or IPv6 address or CIDR range',
});

export const SecuritySettingsSchema = Type.Object(
  {
    rateLimits: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        auth: Policy(10, 3, 'Sign-in, sign-up, password reset, second factors, device codes: per IP.'),
        token: Policy(600, 100, 'Token, introspection, revocation, PAR, device authorization: per client.'),
        check: Policy(12_000, 2_000, 'The check API: per calling service or user.'),
        admin: Policy(30, 10, 'The admin API: per user, API key or service.'),
        api: Policy(120, 30, 'The rest of the API: per signed-in user or API key.'),
        anonymous: Policy(30, 10, 'Everything else a caller without credentials asks for: per IP.'),
      },
      { default: {}, additionalProperties: false },
    ),
    allowList: Type.Array(Cidr, {
      default: [],
      description: 'Sources never blocked or rate limited (monitoring, your own proxies).',
    }),
    denyList: Type.Array(Cidr, { default: [], description: 'Sources refused on every request.' }),
    userAgentDenyList: Type.Array(Type.String({ minLength: 2, maxLength: 100 }), {
      default: [
        'sqlmap',
        'nikto',
        'nmap',
        'masscan',
        'zgrab',
        'gobuster',
        'dirbuster',
        'wpscan',
        'nuclei',
        'hydra',
        'acunetix',
        'netsparker',
        'havij',
        'w3af',
        'feroxbuster',
        'ffuf',
        'jaeles',
        'commix',
      ],
      description: 'User agents (case-insensitive substrings) of attack tools, refused on every request.',
    }),
    autoBlock: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        offences: Type.Integer({
          minimum: 1,
          default: 20,
          description: 'Refusals (429s, denied user agents) from one IP within the window that block it.',
        }),
        windowSeconds: Type.Integer({ minimum: 1, default: 600 }),
        durationsSeconds: Type.Array(Type.Integer({ minimum: 1 }), {
          minItems: 1,
          default: [900, 3_600, 86_400],
          description: 'How long each successive automatic block of the same IP lasts (the last repeats).',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    honeypotPaths: Type.Array(Type.String({ pattern: '^/' }), {
      default: [
        '/wp-login.php',
        '/wp-admin',
        '/xmlrpc.php',
        '/.env',
        '/.git/config',
        '/phpmyadmin',
        '/admin.php',
        '/config.php',
        '/.aws/credentials',
        '/server-status',
      ],
      description: 'Paths no real user asks for; a request to one is a critical security event.',
    }),
    redaction: Type.Object(
      {
        patterns: Type.Array(
          Type.Object(
            {
              name: Type.String({ pattern: '^[a-z][a-z0-9 _-]*$', maxLength: 40 }),
              pattern: Type.String({ minLength: 2, maxLength: 500 }),
            },
            { additionalProperties: false },
          ),
          {
            default: [],
            description:
              'More patterns (JavaScript regular expressions) masked as [name] in logs and event details.',
          },
        ),
        fieldNames: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
          default: [],
          description: 'More field names whose values are masked whole in logs and event details.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    risk: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        geoip: Type.Boolean({
          default: true,
          description:
            'Locate sign-ins with the offline DB-IP city database (about 65 MB in memory per address family, loaded on first use).',
        }),
        weights: Type.Object(
          {
            newDevice: Type.Integer({ minimum: 0, maximum: 100, default: 15 }),
            newNetwork: Type.Integer({ minimum: 0, maximum: 100, default: 10 }),
            newCountry: Type.Integer({ minimum: 0, maximum: 100, default: 30 }),
            impossibleTravel: Type.Integer({ minimum: 0, maximum: 100, default: 60 }),
            accountVelocity: Type.Integer({ minimum: 0, maximum: 100, default: 25 }),
            ipVelocity: Type.Integer({ minimum: 0, maximum: 100, default: 25 }),
            ipManyAccounts: Type.Integer({ minimum: 0, maximum: 100, default: 40 }),
            passwordManyAccounts: Type.Integer({ minimum: 0, maximum: 100, default: 50 }),
            badIp: Type.Integer({ minimum: 0, maximum: 100, default: 60 }),
            honeypotSource: Type.Integer({ minimum: 0, maximum: 100, default: 90 }),
          },
          { default: {}, additionalProperties: false },
        ),
        thresholds: Type.Object(
          {
            notify: Type.Integer({ minimum: 0, maximum: 101, default: 30 }),
            mfa: Type.Integer({ minimum: 0, maximum: 101, default: 50 }),
            alert: Type.Integer({ minimum: 0, maximum: 101, default: 70 }),
            deny: Type.Integer({ minimum: 0, maximum: 101, default: 90 }),
          },
          { default: {}, additionalProperties: false },
        ),
        windowSeconds: Type.Integer({ minimum: 60, default: 900 }),
        accountFailures: Type.Integer({ minimum: 1, default: 5 }),
        ipFailures: Type.Integer({ minimum: 1, default: 10 }),
        ipAccounts: Type.Integer({ minimum: 2, default: 5 }),
        passwordAccounts: Type.Integer({ minimum: 2, default: 3 }),
        travelSpeedKmh: Type.Integer({ minimum: 100, default: 1_000 }),
        badIps: Type.Array(Cidr, { default: [] }),
        historyDays: Type.Integer({
          minimum: 1,
          maximum: 3_650,
          default: 180,
          description: 'How long sign-in history is kept (and so how far back devices and places are known).',
        }),
        sessionDeviceChange: SessionChange(
          'reauthenticate',
          'A session used from another browser or device than it started on (version numbers aside).',
        ),
        sessionNetworkChange: SessionChange(
          'record',
          'A session used from another network (/24 or /48) than it started on; phones change networks often.',
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    honeypotBlocks: Type.Boolean({
      default: true,
      description: 'Block the source of a honeypot request at once (as an automatic block).',
    }),
  },
  { default: {}, additionalProperties: false },
);

export type SecuritySettings = Static<typeof SecuritySettingsSchema>;
export type RateLimitPolicy = SecuritySettings['rateLimits']['auth'];
