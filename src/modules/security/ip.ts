import { BlockList, isIP } from 'node:net';

/** `::ffff:10.1.2.3` (an IPv4 client on a dual-stack socket) is matched as `10.1.2.3`. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** An address or CIDR range, validated; undefined when it is neither. */
export function parseRange(
  value: string,
): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', prefixText, ...rest] = value.trim().split('/');
  if (rest.length > 0) return undefined;
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!/^\d+$/.test(prefixText ?? String(max)) || prefix < 0 || prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** A list of addresses and CIDR ranges to test against (entries that are neither are skipped). */
export function rangeList(values: readonly string[]): BlockList {
  const list = new BlockList();
  for (const value of values) {
    const range = parseRange(value);
    if (range) list.addSubnet(range.address, range.prefix, range.family);
  }
  return list;
}

export const inList = (list: BlockList, ip: string) => {
  const version = isIP(ip);
  return version !== 0 && list.check(ip, version === 4 ? 'ipv4' : 'ipv6');
};
