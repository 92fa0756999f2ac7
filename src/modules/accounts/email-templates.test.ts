import { describe, expect, it } from 'vitest';
import { createMailComposer } from './email-templates.js';

describe('identity e-mails', () => {
  const compose = createMailComposer({ productName: 'Acme ID' });

  it('put the action link on its own line in text and escape everything in HTML', () => {
    const url = 'https://id.example.com/auth/verify-email?token=abc&x="y"';
    const mail = compose.verifyEmail({ name: '<img src=x onerror=alert(1)>', url, expiresInMinutes: 1440 });
    expect(mail.subject).toBe('Verify your e-mail address');
    expect(mail.text.split('\n')).toContain(url);
    expect(mail.text).toContain('expires in 1 day');
    expect(mail.html).not.toContain('<img');
    expect(mail.html).toContain('&#60;img src=x onerror=alert(1)&#62;');
    expect(mail.html).toContain(
      'href="https://id.example.com/auth/verify-email?token=abc&#38;x=&#34;y&#34;"',
    );
    expect(mail.text).toContain('Acme ID');
  });

  it('say when and from where for notifications', () => {
    const mail = compose.newSignIn({
      when: 'Mon, 23 Nov 2026 12:00:00 GMT',
      device: 'Firefox on Linux',
      ip: '203.0.113.7',
    });
    expect(mail.text).toContain('203.0.113.7');
    expect(mail.text).toContain('Firefox on Linux');
    expect(compose.passwordReset({ url: 'https://x/y?token=t', expiresInMinutes: 60 }).text).toContain(
      'expires in 1 hour',
    );
    expect(compose.emailChanged({ oldEmail: 'a@x.test', newEmail: 'b@x.test' }).text).toContain('b@x.test');
  });
});
