import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import { GatehouseError } from '../errors.js';
import { OutboundErrors } from './errors.js';

const PUBLIC_RANGES = new Set(['unicast']);

/** Whether an address is on the public internet (not loopback, private, link-local, CGNAT, reserved…). */
export function isPublicAddress(address: string): boolean {
  try {
    let parsed = ipaddr.parse(address);
    if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
      parsed = (parsed as ipaddr.IPv6).toIPv4Address();
    }
    return PUBLIC_RANGES.has(parsed.range());
  } catch {
    return false;
  }
}

/**
 * Checks an operator-given URL before Gatehouse calls it: http(s) only, no credentials in it, and (unless
 * private networks are allowed) every address its host resolves to must be public, so a webhook cannot be
 * pointed at the metadata service or an internal admin port (SSRF). Checked when the URL is saved and again
 * before each call, since DNS answers change.
 */
export async function assertCallableUrl(
  text: string,
  options: { allowPrivateNetworks: boolean; field: string },
): Promise<URL> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new GatehouseError(
      OutboundErrors.destination_invalid,
      `${options.field} must be an http:// or https:// URL`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new GatehouseError(
      OutboundErrors.destination_invalid,
      `${options.field} must be an http:// or https:// URL`,
    );
  }
  if (url.username || url.password) {
    throw new GatehouseError(
      OutboundErrors.destination_invalid,
      `${options.field} must not carry credentials`,
    );
  }
  if (options.allowPrivateNetworks) return url;
  if (url.protocol !== 'https:') {
    throw new GatehouseError(OutboundErrors.destination_invalid, `${options.field} must be an https:// URL`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = ipaddr.isValid(host)
    ? [host]
    : (await lookup(host, { all: true }).catch(() => [])).map((entry) => entry.address);
  if (addresses.length === 0) {
    throw new GatehouseError(
      OutboundErrors.destination_invalid,
      `${options.field}: ${url.hostname} does not resolve`,
    );
  }
  if (!addresses.every(isPublicAddress)) {
    throw new GatehouseError(
      OutboundErrors.destination_not_public,
      `${options.field}: ${url.hostname} is on a private or local network (allow it with outbound.allowPrivateNetworks)`,
    );
  }
  return url;
}
