/**
 * A browser as far as redirects and cookies go, across several origins: one cookie jar per host:port (so an
 * upstream provider's cookies never reach Gatehouse), redirects followed by hand, forms posted with the
 * Origin header a browser sends.
 */
export class MultiOriginAgent {
  private readonly jars = new Map<string, Map<string, string>>();

  private jar(url: URL): Map<string, string> {
    let jar = this.jars.get(url.host);
    if (!jar) {
      jar = new Map();
      this.jars.set(url.host, jar);
    }
    return jar;
  }

  cookie(origin: string, name: string): string | undefined {
    return this.jar(new URL(origin)).get(name);
  }

  setCookie(origin: string, name: string, value: string | undefined): void {
    if (value === undefined) this.jar(new URL(origin)).delete(name);
    else this.jar(new URL(origin)).set(name, value);
  }

  async request(
    target: string,
    init: {
      method?: string;
      form?: Record<string, string>;
      json?: unknown;
      headers?: Record<string, string>;
    } = {},
  ) {
    const url = new URL(target);
    const jar = this.jar(url);
    const body = init.form
      ? new URLSearchParams(init.form).toString()
      : init.json !== undefined
        ? JSON.stringify(init.json)
        : undefined;
    const response = await fetch(url, {
      method: init.method ?? (body !== undefined ? 'POST' : 'GET'),
      redirect: 'manual',
      headers: {
        cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; '),
        ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded', origin: url.origin } : {}),
        ...(init.json !== undefined ? { 'content-type': 'application/json', origin: url.origin } : {}),
        ...init.headers,
      },
      ...(body !== undefined ? { body } : {}),
    });
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(';')[0]!;
      const name = pair.slice(0, pair.indexOf('='));
      const value = pair.slice(pair.indexOf('=') + 1);
      if (value && !/expires=Thu, 01 Jan 1970/i.test(line) && !/max-age=0\b/i.test(line))
        jar.set(name, value);
      else jar.delete(name);
    }
    return {
      url: url.toString(),
      status: response.status,
      location: response.headers.get('location'),
      body: await response.text(),
    };
  }

  /** Follows redirects (across origins) until a page, or until `stopAt` says to stop at a URL. */
  async follow(
    target: string,
    init: { method?: string; form?: Record<string, string> } = {},
    stopAt?: (url: URL) => boolean,
  ) {
    let response = await this.request(target, init);
    const visited = [response.url];
    while (response.status >= 300 && response.status < 400 && response.location) {
      const next = new URL(response.location, response.url);
      if (stopAt?.(next)) return { ...response, url: next.toString(), visited, stopped: true };
      response = await this.request(next.toString());
      visited.push(response.url);
      if (visited.length > 20) throw new Error(`redirect loop: ${visited.join(' → ')}`);
    }
    return { ...response, visited, stopped: false };
  }
}
