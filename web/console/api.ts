/** The console talks to Gatehouse's JSON API with the session cookie; writes carry the session's CSRF token. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken: string | undefined;

export function rememberCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/**
 * Asks the person for their password when an action needs a recent sign-in (`reauthentication_required`);
 * resolves once they have confirmed it, rejects when they cancel. Set by the page that shows the prompt.
 */
let confirmIdentity: (() => Promise<void>) | undefined;

export function onReauthenticationRequired(prompt: (() => Promise<void>) | undefined): void {
  confirmIdentity = prompt;
}

export async function api<T>(path: string, options: { method?: string; body?: unknown } = {}): Promise<T> {
  try {
    return await request<T>(path, options);
  } catch (failure) {
    if (!(failure instanceof ApiError && failure.code === 'reauthentication_required' && confirmIdentity)) {
      throw failure;
    }
    await confirmIdentity();
    return request<T>(path, options);
  }
}

async function request<T>(path: string, options: { method?: string; body?: unknown }): Promise<T> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  const data = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (!response.ok) {
    const message = (data.detail ?? data.title ?? response.statusText) as string;
    throw new ApiError(response.status, data.code as string | undefined, message);
  }
  return data as T;
}

/** A query string from the filled-in fields only. */
export function queryString(values: Record<string, string | string[] | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) {
    if (Array.isArray(value)) for (const item of value) params.append(key, item);
    else if (value) params.set(key, value);
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** What to tell the person about a failure: the API's own message, which is safe to show. */
export function messageOf(failure: unknown): string {
  return failure instanceof ApiError ? failure.message : String(failure);
}

/** The signed-in person (`GET /api/v1/me`), remembering the session's CSRF token; null when nobody is signed in. */
export async function signedIn<T extends { csrfToken: string }>(): Promise<T | null> {
  try {
    const current = await api<T>('/api/v1/me');
    rememberCsrfToken(current.csrfToken);
    return current;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}
