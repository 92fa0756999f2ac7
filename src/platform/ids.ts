import { v7 } from 'uuid';

/** A new random id: UUIDv7, so ids sort by creation time and index well on both dialects. */
export function newId(): string {
  return v7();
}
