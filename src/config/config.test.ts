import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, EXAMPLE_SECRETS, loadConfig, maskSecrets } from './load.js';

const KEY = 'a'.repeat(64);

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

function tempFile(name: string, content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'gatehouse-config-')), name);
  writeFileSync(path, content);
  return path;
}

describe('loadConfig', () => {
  it('has safe, working defaults for a bare machine', () => {
    const config = loadConfig({ env: {} });
    expect(config.env).toBe('development');
    expect(config.server).toMatchObject({
      host: 'localhost',
      port: 3000,
      publicUrl: 'http://localhost:3000',
      trustProxy: false,
    });
    expect(config.database.url).toBe('sqlite:data/gatehouse.db');
    expect(config.database.migrateOnStart).toBe(true);
    expect(config.redis.url).toBeUndefined();
    expect(config.http.corsOrigins).toEqual([]);
    expect(config.sources).toEqual(['defaults']);
  });

  it('reads the conventional environment variables and coerces their types', () => {
    const config = loadConfig({
      env: {
        PORT: '8080',
        HOST: '0.0.0.0',
        PUBLIC_URL: 'https://id.example.com/',
        DATABASE_URL: 'postgres://gatehouse@db/gatehouse',
        DATABASE_POOL_SIZE: '25',
        REDIS_URL: 'redis://cache:6379',
        CORS_ORIGINS: 'https://a.example.com,https://b.example.com',
        TRUST_PROXY: 'true',
      },
    });
    expect(config.server.port).toBe(8080);
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.server.publicUrl).toBe('https://id.example.com');
    expect(config.server.trustProxy).toBe(true);
    expect(config.database).toMatchObject({ url: 'postgres://gatehouse@db/gatehouse', poolSize: 25 });
    expect(config.redis.url).toBe('redis://cache:6379');
    expect(config.http.corsOrigins).toEqual(['https://a.example.com', 'https://b.example.com']);
  });

  it('reads TRUST_PROXY=1 as one hop and yes as true, and keeps boolean settings boolean', () => {
    expect(loadConfig({ env: { TRUST_PROXY: '1' } }).server.trustProxy).toBe(1);
    expect(loadConfig({ env: { TRUST_PROXY: 'yes' } }).server.trustProxy).toBe(true);
    expect(loadConfig({ env: { TRUST_PROXY: '10.0.0.0/8' } }).server.trustProxy).toBe('10.0.0.0/8');
    expect(loadConfig({ env: { GATEHOUSE__HTTP__COMPRESSION: '1' } }).http.compression).toBe(true);
  });

  it('reads any setting from GATEHOUSE__SECTION__KEY, case-insensitively', () => {
    const config = loadConfig({
      env: { GATEHOUSE__DATABASE__SLOWQUERYMS: '50', GATEHOUSE__http__compression: 'false' },
    });
    expect(config.database.slowQueryMs).toBe(50);
    expect(config.http.compression).toBe(false);
  });

  it('layers defaults < file < environment < overrides', () => {
    const file = tempFile(
      'gatehouse.yaml',
      'server:\n  port: 4000\n  host: 127.0.0.1\nlog:\n  level: debug\n',
    );
    const config = loadConfig({
      env: { GATEHOUSE_CONFIG: file, PORT: '5000' },
      overrides: { log: { level: 'warn' } },
    });
    expect(config.server.host).toBe('127.0.0.1');
    expect(config.server.port).toBe(5000);
    expect(config.log.level).toBe('warn');
    expect(config.sources).toEqual(['defaults', `file ${file}`, 'environment', 'overrides']);
  });

  it('reads JSON config files', () => {
    const file = tempFile('gatehouse.json', JSON.stringify({ metrics: { enabled: false } }));
    expect(loadConfig({ env: { GATEHOUSE_CONFIG: file } }).metrics.enabled).toBe(false);
  });

  it('names the setting and the reason for every invalid value, all at once', () => {
    const problems = problemsOf(() =>
      loadConfig({
        env: { DATABASE_URL: 'mysql://db/x', PORT: '70000', LOG_LEVEL: 'loud', GATEHOUSE__SERVER__NOPE: '1' },
      }),
    );
    expect(problems).toContain('database.url: must be a sqlite: or postgres: URL');
    expect(problems).toContain('server.port: must be a port number (0-65535)');
    expect(problems).toContain('log.level: must be one of fatal, error, warn, info, debug, trace, silent');
    expect(problems).toContain('GATEHOUSE__SERVER__NOPE: no such setting');
  });

  it('rejects unknown settings in the config file', () => {
    const file = tempFile('gatehouse.yaml', 'databse:\n  url: sqlite:x.db\n');
    expect(problemsOf(() => loadConfig({ env: { GATEHOUSE_CONFIG: file } }))).toEqual([
      'databse: no such setting',
    ]);
  });

  it('reports unreadable and unparsable config files', () => {
    expect(
      problemsOf(() => loadConfig({ env: { GATEHOUSE_CONFIG: '/nonexistent/gatehouse.yaml' } }))[0],
    ).toMatch(/^GATEHOUSE_CONFIG: cannot read \/nonexistent\/gatehouse.yaml \(ENOENT\)$/);
    const broken = tempFile('broken.json', '{ "server": ');
    expect(problemsOf(() => loadConfig({ env: { GATEHOUSE_CONFIG: broken } }))[0]).toMatch(
      /is not valid JSON/,
    );
  });

  it('is frozen all the way down', () => {
    const config = loadConfig({ env: {} });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.server)).toBe(true);
    expect(Object.isFrozen(config.http.corsOrigins)).toBe(true);
    expect(() => {
      (config.server as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('validates the secret key format', () => {
    expect(problemsOf(() => loadConfig({ env: { GATEHOUSE_SECRET_KEY: 'short' } }))).toEqual([
      'secrets.key: must be 32 bytes written as 64 hex characters or base64 (openssl rand -hex 32)',
    ]);
    expect(
      loadConfig({ env: { GATEHOUSE_SECRET_KEY: Buffer.alloc(32, 7).toString('base64') } }).secrets.key,
    ).toBeDefined();
  });

  it('refuses a CORS wildcard with credentials in every environment', () => {
    expect(
      problemsOf(() => loadConfig({ env: { CORS_ORIGINS: '*', GATEHOUSE__HTTP__CORSCREDENTIALS: 'true' } })),
    ).toEqual(['http.corsOrigins: a * origin cannot be combined with http.corsCredentials']);
  });

  it('checks upstream identity providers: complete, one slug each, https in production', () => {
    const providers = [
      { slug: 'corp', name: 'Corp', clientId: 'x' },
      { slug: 'corp', name: 'Again', issuer: 'https://corp.example.com', clientId: 'y' },
      { slug: 'hub', name: 'Hub', preset: 'generic', protocol: 'oauth2', clientId: 'z' },
      { slug: 'ms', name: 'Microsoft', preset: 'microsoft', clientId: 'w' },
    ];
    expect(problemsOf(() => loadConfig({ overrides: { federation: { providers } } }))).toEqual([
      'federation.providers (corp): issuer is required for OpenID Connect',
      'federation.providers: corp is listed twice',
      'federation.providers (hub): endpoints.authorization is required for OAuth 2.0',
      'federation.providers (hub): endpoints.token is required for OAuth 2.0',
      'federation.providers (hub): endpoints.userinfo is required for OAuth 2.0',
      'federation.providers (ms): tenant is required for microsoft (the Entra ID tenant id or domain)',
      'federation.providers (ms): issuer is required for OpenID Connect',
    ]);
    const google = { slug: 'google', name: 'Google', preset: 'google', clientId: 'g', clientSecret: 'sssh' };
    const config = loadConfig({ overrides: { federation: { providers: [google] } } });
    expect(JSON.stringify(maskSecrets(config))).not.toContain('sssh');
    expect(
      problemsOf(() =>
        loadConfig({
          env: { NODE_ENV: 'production', GATEHOUSE_SECRET_KEY: KEY, PUBLIC_URL: 'https://id.example.com' },
          overrides: { federation: { allowInsecureIssuers: true } },
        }),
      ),
    ).toContain('federation.allowInsecureIssuers: http:// identity providers are refused in production');
  });

  describe('in production', () => {
    const production = {
      NODE_ENV: 'production',
      GATEHOUSE_SECRET_KEY: KEY,
      PUBLIC_URL: 'https://id.example.com',
      GATEHOUSE__MAIL__TRANSPORT: 'smtp',
      GATEHOUSE__MAIL__SMTP__HOST: 'mail.example.com',
    };

    it('accepts a safe configuration', () => {
      expect(loadConfig({ env: production }).env).toBe('production');
    });

    it('requires a secret key', () => {
      expect(
        problemsOf(() => loadConfig({ env: { ...production, GATEHOUSE_SECRET_KEY: undefined } })),
      ).toEqual([
        'secrets.key: required in production (set GATEHOUSE_SECRET_KEY or GATEHOUSE_SECRET_KEY_FILE)',
      ]);
    });

    it('requires https unless the public URL is localhost', () => {
      expect(
        problemsOf(() => loadConfig({ env: { ...production, PUBLIC_URL: 'http://id.example.com' } })),
      ).toEqual(['server.publicUrl: must be https:// in production (http:// is allowed only for localhost)']);
      expect(
        loadConfig({ env: { ...production, PUBLIC_URL: 'http://localhost:3000' } }).server.publicUrl,
      ).toBe('http://localhost:3000');
    });

    it('refuses the development mail outbox', () => {
      expect(
        problemsOf(() => loadConfig({ env: { ...production, GATEHOUSE__MAIL__TRANSPORT: 'outbox' } })),
      ).toEqual(['mail.transport: outbox is for development; configure SMTP in production']);
    });

    it('refuses the example secrets from the documentation', () => {
      const example = [...EXAMPLE_SECRETS][0]!;
      expect(problemsOf(() => loadConfig({ env: { ...production, GATEHOUSE_SECRET_KEY: example } }))).toEqual(
        ['secrets.key: is the example value from the documentation; generate your own'],
      );
      expect(
        problemsOf(() => loadConfig({ env: { ...production, METRICS_TOKEN: 'change-me-metrics-token' } })),
      ).toEqual(['metrics.token: is the example value from the documentation; generate your own']);
    });
  });
});

describe('maskSecrets', () => {
  it('hides secrets and passwords in URLs but keeps where they point', () => {
    const config = loadConfig({
      env: {
        GATEHOUSE_SECRET_KEY: KEY,
        DATABASE_URL: 'postgres://gatehouse:hunter2@db.internal:5432/gatehouse',
        REDIS_URL: 'redis://:redispass@cache:6379',
        HEALTH_TOKEN: 'health-token-0123456789',
      },
    });
    const printed = JSON.stringify(maskSecrets(config));
    expect(printed).not.toContain(KEY);
    expect(printed).not.toContain('hunter2');
    expect(printed).not.toContain('redispass');
    expect(printed).not.toContain('health-token-0123456789');
    expect(printed).toContain('db.internal:5432');
    expect(printed).toContain('cache:6379');
  });
});
