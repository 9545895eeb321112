/**
 * Timestamps in config (`previous_not_after`, `tokens_issued_after`). YAML 1.2 (the default) reads
 * an unquoted `2026-12-31T00:00:00Z` as a string, while a `%YAML 1.1` document or a `!!timestamp`
 * tag yields a Date: both, and quoted strings, are accepted and mean the same instant.
 */

/** What a config timestamp must look like (the message of every timestamp problem). */
export const TIMESTAMP_FORM = 'must be a timestamp such as 2026-12-31T00:00:00Z (RFC 3339, with Z or an offset) or a date';

// RFC 3339 date-time with an offset, or a date alone (midnight UTC, as YAML's timestamp type reads it).
const FORM = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))?$/;

/**
 * Parses a config timestamp: `2026-12-31T00:00:00Z`, `2026-12-31T01:00:00+01:00`, `2026-12-31`
 * (midnight UTC), or a Date from the YAML parser.
 * @returns epoch ms, or a message saying what is wrong
 */
export function parseTimestamp(value: string | Date): number | string {
  if (value instanceof Date) return value.getTime(); // zod's z.date() has refused invalid dates
  const m = FORM.exec(value);
  const message = TIMESTAMP_FORM;
  if (!m) return message;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((part = '0') => Number(part)) as [number, number, number, number, number, number];
  // Date.parse rolls 2026-02-30 over into March: check each field against the day it names.
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return message;
  const ms = Date.parse(m[4] === undefined ? `${value}T00:00:00Z` : value.replace(/[ t]/, 'T').replace(/z$/, 'Z'));
  return Number.isNaN(ms) ? message : ms; // an offset such as +24:00
}
