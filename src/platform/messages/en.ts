/**
 * The English text of the pages people sign in through (server-rendered and in the portal's sign-in), in
 * one place so a translation is one more file of the same shape. `{name}` marks a value filled in by
 * `format`; values are escaped by whoever puts the result into HTML.
 */
export const en = {
  signIn: {
    title: 'Sign in',
    email: 'E-mail',
    password: 'Password',
    passwordError: 'Check the password (and the e-mail above).',
    submit: 'Sign in',
    forgot: 'Forgot your password?',
    createAccount: 'Create an account',
    passkey: 'Sign in with a passkey',
    passkeyFailed: 'The passkey did not work. Try again, or sign in with your password.',
  },
  code: {
    title: 'Two-step verification',
    labelWithApp: 'Code from your authenticator app, or a backup code',
    labelBackupOnly: 'A backup code',
    error: 'That code did not work. Codes from an app change every 30 seconds.',
    submit: 'Verify',
    startAgain: 'Start again',
  },
  signUp: {
    title: 'Create an account',
    name: 'Name (optional)',
    email: 'E-mail',
    password: 'Password',
    passwordHint: 'At least 8 characters; a passphrase of a few words is best.',
    submit: 'Create account',
    haveAccount: 'I have an account',
    checkMailTitle: 'Check your e-mail',
    checkMail: 'We sent a link to {email} to confirm the address.',
    signIn: 'Sign in',
  },
  forgot: {
    title: 'Forgot your password?',
    intro: 'We will e-mail you a link to choose a new one.',
    email: 'E-mail',
    submit: 'Send the link',
    back: 'Back to sign in',
    sentTitle: 'Check your e-mail',
    sent: 'If {email} has an account, a link to choose a new password is on its way.',
  },
  signOut: {
    title: 'Sign out',
    question: 'Sign out of this browser?',
    submit: 'Sign out',
    doneTitle: 'Signed out',
    done: 'You are signed out',
    again: 'Sign in again',
  },
  notFound: {
    title: 'Page not found',
    text: 'There is nothing at this address. It may have moved, or the link may be mistyped.',
    account: 'Your account',
    signIn: 'Sign in',
    reference: 'Reference: {id}',
  },
  failure: {
    generic: 'Something went wrong. Please try again.',
  },
} as const;

/** Every catalogue has the shape of the English one. */
export type Messages = {
  readonly [Section in keyof typeof en]: { readonly [Key in keyof (typeof en)[Section]]: string };
};

/** Fills `{name}` placeholders. */
export function format(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
}
