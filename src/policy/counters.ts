export interface CounterStore {
  /** Counts one hit against `key` in the fixed window of `windowS` seconds that contains now (wall clock, windows aligned to the Unix epoch); a hit over `limit` is not counted. @returns whether allowed, the count in this window after the hit, and seconds until the window resets */
  hit(key: string, limit: number, windowS: number): Promise<{ allowed: boolean; count: number; resetS: number }>;
  close(): void;
}
