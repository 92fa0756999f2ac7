import { expect } from 'vitest';
import type { TestApp } from './app.js';

export const TEST_PASSWORD = 'violet-harbor-lantern-42';

export interface SignedInAccount {
  readonly id: string;
  readonly email: string;
  /** What a browser sends on the JSON API: the session cookie and its CSRF token. */
  readonly headers: { cookie: string; 'x-csrf-token': string };
}

/** Signs up `<name>-<suffix>@example.com` and signs in, as a person would through the JSON API. */
export async function signedInAccount(
  app: TestApp['app'],
  name: string,
  suffix: string,
): Promise<SignedInAccount> {
  const email = `${name}-${suffix}@example.com`;
  const created = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/signup',
    payload: { email, password: TEST_PASSWORD },
  });
  expect(created.statusCode, created.body).toBe(201);
  const login = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { email, password: TEST_PASSWORD },
  });
  return {
    id: created.json().user.id,
    email,
    headers: {
      cookie: String(login.headers['set-cookie']).split(';')[0]!,
      'x-csrf-token': login.json().csrfToken,
    },
  };
}
