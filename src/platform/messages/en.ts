/**
 * The English text of the pages people see without the console: sign-in, second factor, consent, device
 * codes, e-mailed links and invitations (server-rendered, and the portal's sign-in views), in one place so a translation is one more file of the same shape. `{name}` marks a value filled in by
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
    stepUpIntro: 'This application asks for a stronger sign-in. Confirm it is you with your second factor.',
    totp: 'Code from your authenticator app',
    email: 'Code we sent by e-mail',
    sms: 'Code we sent by text message',
    backup: 'a backup code',
    or: ', or ',
    sent: 'We sent a code.',
    sentTo: 'We sent a code to {to}.',
    emailMe: 'E-mail me a code ({name})',
    textMe: 'Text me a code ({name})',
    passkey: 'Use a passkey',
    passkeyFailed: 'The passkey did not work:',
    needsScript: 'Your passkey needs JavaScript, which is off in this browser.',
    enrolTitle: 'Set up two-step verification',
    enrol:
      'Your account needs a second factor before you can sign in to this application. Add one in your account, then try again.',
    tryAgain: 'Try again',
  },
  consent: {
    title: 'Allow access',
    wants: '{client} wants to',
    allow: 'Allow',
    deny: 'Deny',
    scope_openid: 'Know who you are',
    scope_email: 'See your e-mail address',
    scope_profile: 'See your name',
    scope_offline_access: 'Stay signed in (keep access when you are away)',
  },
  device: {
    title: 'Connect a device',
    enterCode: 'Enter the code shown on your device.',
    wrongCode: 'That code is not right, or it has expired. Try again.',
    cancelled: 'The sign-in was cancelled.',
    continue: 'Continue',
    confirmTitle: 'Connect {client}?',
    checkCode: 'Check that your device shows this code:',
    cancel: 'Cancel',
    doneTitle: 'Device connected',
    done: 'You can close this page and return to your device.',
  },
  engineSignOut: {
    question: 'Sign out of {product}?',
    yes: 'Yes, sign me out',
    no: 'No, stay signed in',
  },
  links: {
    verifyTitle: 'Confirm your e-mail address',
    confirm: 'Confirm',
    verifiedTitle: 'E-mail confirmed',
    verified: 'Thank you. You can close this page.',
    invalidTitle: 'Link not valid',
    resetTitle: 'Choose a new password',
    newPassword: 'New password',
    setPassword: 'Set password',
    passwordChangedTitle: 'Password changed',
    passwordChanged: 'Your password is set and every other session has been signed out.',
    changeTitle: 'Confirm your new e-mail address',
    changedTitle: 'E-mail address changed',
    changed: 'You now sign in as {email}.',
    inviteTitle: 'Create your account',
    invitedEmail: 'E-mail address (the invited one)',
    name: 'Name',
    password: 'Password',
    createAccount: 'Create account',
    createdTitle: 'Account created',
    created: 'Check your inbox to confirm your e-mail address, then sign in.',
  },
  organizationInvite: {
    title: 'Join the organization',
    signedInAs: 'You are signed in as {email}.',
    accept: 'Accept the invitation',
    signInFirstTitle: 'Sign in first',
    signInFirst: 'Sign in with the e-mail address the invitation was sent to, then open the link again.',
    signInThenOpen: 'Sign in, then open the invitation link again.',
    welcomeTitle: 'Welcome',
    welcome: 'Welcome to {name}',
    member: 'You are now a member. You can close this page.',
    invalidTitle: 'Invitation not valid',
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
    title: 'Something went wrong',
    back: 'Go back and try again, or start from the sign-in page.',
  },
  oauthError: {
    title: 'This sign-in cannot continue',
    text: 'The application that sent you here asked for something Gatehouse cannot do. Go back to the application and try again; if it keeps happening, tell its developers what this page says.',
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
