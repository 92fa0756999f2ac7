import Fastify from 'fastify';
import { expect, it } from 'vitest';
import { en, format, type Messages } from '../../platform/messages/en.js';
import type { MfaService } from '../mfa/service.js';
import type { AccountService } from './service.js';
import { registerSignInPages, safeNext } from './sign-in-pages.js';

const cookie = { name: 'gh', secure: false };

async function pagesWith(messages?: Messages) {
  const app = Fastify();
  app.decorateRequest('session', undefined);
  // GET pages render without touching accounts or second factors.
  registerSignInPages(app, {
    accounts: {} as AccountService,
    mfa: {} as MfaService,
    cookie,
    pendingCookie: cookie,
    deviceCookie: cookie,
    productName: 'Gatehouse',
    ...(messages ? { messages } : {}),
  });
  return app;
}

it('renders its text from the message catalogue, so a translation is one more catalogue', async () => {
  const french: Messages = {
    ...en,
    signIn: { ...en.signIn, title: 'Connexion', forgot: 'Mot de passe oublié ?', submit: 'Se connecter' },
  };
  const english = await (await pagesWith()).inject({ method: 'GET', url: '/login' });
  expect(english.body).toContain(`<h1>${en.signIn.title}</h1>`);
  expect(english.body).toContain(en.signIn.forgot);
  const translated = await (await pagesWith(french)).inject({ method: 'GET', url: '/login' });
  expect(translated.body).toContain('<h1>Connexion</h1>');
  expect(translated.body).toContain('Mot de passe oublié ?');
  expect(translated.body).toContain('<button type="submit">Se connecter</button>');
  expect(translated.body).not.toContain(en.signIn.forgot);
});

it('fills placeholders and leaves unknown ones visible', () => {
  expect(format(en.signUp.checkMail, { email: 'a@example.com' })).toBe(
    'We sent a link to a@example.com to confirm the address.',
  );
  expect(format('{missing} stays', {})).toBe('{missing} stays');
});

it('follows only paths on this site after sign-in', () => {
  expect(safeNext('/account')).toBe('/account');
  expect(safeNext('/oauth2/auth?client_id=x')).toBe('/oauth2/auth?client_id=x');
  for (const unsafe of [
    '//evil.example',
    '/\\evil.example',
    'https://evil.example',
    'javascript:alert(1)',
    '',
    undefined,
  ]) {
    expect(safeNext(unsafe)).toBe('/account');
  }
});
