/**
 * Waiting for something that happens after the event a test can await (a log line written when
 * the server side of a connection closes, an upstream socket torn down).
 */
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `ok` every 10 ms until it holds or `ms` pass.
 * @returns its last value, so `t.ok(await eventually(...))` fails with a clear message
 */
export async function eventually(ok: () => boolean | Promise<boolean>, ms = 3000): Promise<boolean> {
  const until = performance.now() + ms;
  while (!(await ok()) && performance.now() < until) await sleep(10);
  return ok();
}
