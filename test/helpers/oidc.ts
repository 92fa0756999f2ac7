/** A browser as far as redirects and cookies go: follows 30x by hand and keeps cookies for our origin. (Used by bench/ too, so no vitest here.) */
export class BrowserlessAgent {
  private readonly cookies = new Map<string, string>();

  constructor(private readonly issuer: string) {}

  async request(url: string, init: { method?: string; form?: Record<string, string> } = {}) {
    const response = await fetch(url, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: {
        cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '),
        ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded', origin: this.issuer } : {}),
      },
      ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}),
    });
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(';')[0]!;
      const name = pair.slice(0, pair.indexOf('='));
      const value = pair.slice(pair.indexOf('=') + 1);
      if (value && !/expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.set(name, value);
      else this.cookies.delete(name);
    }
    return {
      status: response.status,
      location: response.headers.get('location'),
      body: await response.text(),
    };
  }

  /** Follows redirects until a page or a URL outside the issuer (the client's callback). */
  async follow(url: string, init: { method?: string; form?: Record<string, string> } = {}) {
    let response = await this.request(url, init);
    let current = url;
    while (response.status >= 300 && response.status < 400 && response.location) {
      current = new URL(response.location, current).toString();
      if (!current.startsWith(this.issuer)) return { url: current, status: response.status, body: '' };
      response = await this.request(current);
    }
    return { url: current, status: response.status, body: response.body };
  }

  /** Authorization request → sign-in form (when asked) → consent (when asked) → the client's callback. */
  async authorize(url: URL, credentials: { email: string; password: string }, appName: string) {
    let step = await this.follow(url.toString());
    if (step.body.includes('name="password"')) {
      if (!step.body.includes('name="email"')) throw new Error('the sign-in form has no email field');
      const action = /action="([^"]+\/login)"/.exec(step.body)![1]!;
      step = await this.follow(new URL(action, this.issuer).toString(), {
        method: 'POST',
        form: credentials,
      });
    }
    if (step.body.includes('/confirm"')) {
      if (!step.body.includes(appName)) throw new Error(`the consent page does not name ${appName}`);
      const action = /action="([^"]+\/confirm)"/.exec(step.body)![1]!;
      step = await this.follow(new URL(action, this.issuer).toString(), { method: 'POST', form: {} });
    }
    return { callback: new URL(step.url), step };
  }
}
