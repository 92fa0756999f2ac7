import { type RenderedEmail, renderEmail } from '../../platform/mailer/render.js';
import type { MailComposer } from './service.js';

/** Every English sentence of the identity e-mails, in one place so it can be translated. */
export const messages = {
  verifyEmail: {
    subject: 'Verify your e-mail address',
    heading: 'Confirm your e-mail address',
    greeting: (name?: string | null) => (name ? `Hello ${name},` : 'Hello,'),
    body: 'Please confirm that this address belongs to you.',
    action: 'Confirm e-mail address',
    expiry: (minutes: number) =>
      `The link works once and expires in ${describeMinutes(minutes)}. If you did not sign up, ignore this e-mail.`,
  },
  passwordReset: {
    subject: 'Reset your password',
    heading: 'Reset your password',
    body: 'Someone asked to reset the password of the account with this e-mail address. If it was you, choose a new password:',
    action: 'Choose a new password',
    expiry: (minutes: number) =>
      `The link works once and expires in ${describeMinutes(minutes)}. If you did not ask, ignore this e-mail: your password stays as it is.`,
  },
  emailChange: {
    subject: 'Confirm your new e-mail address',
    heading: 'Confirm your new e-mail address',
    body: (newEmail: string) => `Confirm that you want to sign in with ${newEmail} from now on.`,
    action: 'Confirm new address',
    expiry: (minutes: number) => `The link works once and expires in ${describeMinutes(minutes)}.`,
  },
  passwordChanged: {
    subject: 'Your password was changed',
    heading: 'Your password was changed',
    body: (when: string, ip?: string) =>
      `The password of your account was changed on ${when}${ip ? ` from ${ip}` : ''}.`,
    warning: 'If this was not you, reset your password at once and contact your administrator.',
  },
  emailChanged: {
    subject: 'Your e-mail address was changed',
    heading: 'Your e-mail address was changed',
    body: (oldEmail: string, newEmail: string) =>
      `The account that used ${oldEmail} now signs in with ${newEmail}.`,
    warning:
      'If this was not you, contact your administrator at once: this address no longer receives messages for the account.',
  },
  newSignIn: {
    subject: 'New sign-in to your account',
    heading: 'New sign-in',
    body: (when: string, device: string, ip: string, location?: string) =>
      `Your account was signed in to on ${when} from ${device}, IP address ${ip}${location ? ` (${location})` : ''}.`,
    warning: 'If this was not you, change your password and sign out your other sessions.',
  },
  mfaCode: {
    subject: (code: string) => `${code} is your sign-in code`,
    heading: 'Your sign-in code',
    body: 'Enter this code to finish signing in:',
    expiry: (minutes: number) =>
      `The code works once and expires in ${describeMinutes(minutes)}. If you did not try to sign in, change your password: someone knows it.`,
    sms: (productName: string, code: string, minutes: number) =>
      `${code} is your ${productName} code. It expires in ${describeMinutes(minutes)}. Do not share it.`,
  },
  organizationInvitation: {
    subject: (organization: string) => `Join ${organization}`,
    heading: (organization: string) => `You are invited to ${organization}`,
    body: (organization: string) =>
      `You have been invited to join the organization ${organization}. Sign in with this e-mail address, then accept.`,
    action: 'Accept the invitation',
    expiry: (minutes: number) => `The invitation works once and expires in ${describeMinutes(minutes)}.`,
  },
  invitation: {
    subject: 'You are invited',
    heading: 'You are invited',
    body: 'You have been invited to create an account.',
    action: 'Create your account',
    expiry: (minutes: number) => `The invitation works once and expires in ${describeMinutes(minutes)}.`,
  },
};

function describeMinutes(minutes: number): string {
  if (minutes % 1440 === 0) return `${minutes / 1440} day${minutes === 1440 ? '' : 's'}`;
  if (minutes % 60 === 0) return `${minutes / 60} hour${minutes === 60 ? '' : 's'}`;
  return `${minutes} minutes`;
}

export function createMailComposer(branding: { productName: string }): MailComposer {
  const render = (content: Parameters<typeof renderEmail>[0]): RenderedEmail =>
    renderEmail(content, branding);
  return {
    verifyEmail: ({ name, url, expiresInMinutes }) =>
      render({
        subject: messages.verifyEmail.subject,
        heading: messages.verifyEmail.heading,
        paragraphs: [messages.verifyEmail.greeting(name), messages.verifyEmail.body],
        action: { label: messages.verifyEmail.action, url },
        footer: messages.verifyEmail.expiry(expiresInMinutes),
      }),
    passwordReset: ({ url, expiresInMinutes }) =>
      render({
        subject: messages.passwordReset.subject,
        heading: messages.passwordReset.heading,
        paragraphs: [messages.passwordReset.body],
        action: { label: messages.passwordReset.action, url },
        footer: messages.passwordReset.expiry(expiresInMinutes),
      }),
    emailChange: ({ url, newEmail, expiresInMinutes }) =>
      render({
        subject: messages.emailChange.subject,
        heading: messages.emailChange.heading,
        paragraphs: [messages.emailChange.body(newEmail)],
        action: { label: messages.emailChange.action, url },
        footer: messages.emailChange.expiry(expiresInMinutes),
      }),
    passwordChanged: ({ when, ip }) =>
      render({
        subject: messages.passwordChanged.subject,
        heading: messages.passwordChanged.heading,
        paragraphs: [messages.passwordChanged.body(when, ip), messages.passwordChanged.warning],
      }),
    emailChanged: ({ oldEmail, newEmail }) =>
      render({
        subject: messages.emailChanged.subject,
        heading: messages.emailChanged.heading,
        paragraphs: [messages.emailChanged.body(oldEmail, newEmail), messages.emailChanged.warning],
      }),
    newSignIn: ({ when, device, ip, location }) =>
      render({
        subject: messages.newSignIn.subject,
        heading: messages.newSignIn.heading,
        paragraphs: [messages.newSignIn.body(when, device, ip, location), messages.newSignIn.warning],
      }),
    mfaCode: ({ code, expiresInMinutes }) =>
      render({
        subject: messages.mfaCode.subject(code),
        heading: messages.mfaCode.heading,
        paragraphs: [messages.mfaCode.body, code],
        footer: messages.mfaCode.expiry(expiresInMinutes),
      }),
    organizationInvitation: ({ organization, url, expiresInMinutes }) =>
      render({
        subject: messages.organizationInvitation.subject(organization),
        heading: messages.organizationInvitation.heading(organization),
        paragraphs: [messages.organizationInvitation.body(organization)],
        action: { label: messages.organizationInvitation.action, url },
        footer: messages.organizationInvitation.expiry(expiresInMinutes),
      }),
    invitation: ({ url, expiresInMinutes }) =>
      render({
        subject: messages.invitation.subject,
        heading: messages.invitation.heading,
        paragraphs: [messages.invitation.body],
        action: { label: messages.invitation.action, url },
        footer: messages.invitation.expiry(expiresInMinutes),
      }),
  };
}
