import type { Breakers } from './breakers.js';
import { assertCallableUrl } from './destinations.js';

/**
 * POSTs a JSON body to an operator-given URL: the destination checked again (DNS answers change), through the
 * target's circuit breaker and time limit, redirects not followed. Resolves with the status of a 2xx answer;
 * any other answer rejects (and counts against the breaker). The answer's body is not read.
 */
export async function postJson(
  breakers: Breakers,
  input: {
    target: string;
    url: string;
    body: string;
    headers?: Readonly<Record<string, string>>;
    userAgent: string;
    timeoutMs: number;
    allowPrivateNetworks: boolean;
    field?: string;
  },
  onAnswer?: (status: number) => void,
): Promise<number> {
  const url = await assertCallableUrl(input.url, {
    allowPrivateNetworks: input.allowPrivateNetworks,
    field: input.field ?? 'url',
  });
  return breakers.get(input.target, { timeoutMs: input.timeoutMs }).execute(async (signal) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': input.userAgent, ...input.headers },
      body: input.body,
      redirect: 'manual',
      signal,
    });
    onAnswer?.(response.status);
    await response.body?.cancel().catch(() => {});
    if (response.status < 200 || response.status > 299)
      throw new Error(`the endpoint answered ${response.status}`);
    return response.status;
  });
}
