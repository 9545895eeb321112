/**
 * A ConfigMap volume written the way the kubelet writes it (kubernetes pkg/volume/util/atomic_writer.go):
 * each version of the data lives in a timestamped directory `..2026_11_30_07_25_01.123456789`; the
 * `..data` symlink names the current one; every key is a symlink `key -> ..data/key`. An update writes
 * a new timestamped directory, points a `..data_tmp` symlink at it, renames that over `..data` (the
 * one atomic step) and removes the old directory. A watch on `key` itself never sees an update.
 */
import { mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

let serial = 0;

/** The timestamped directory name the kubelet's os.MkdirTemp("..2006_01_02_15_04_05.") would give. */
function timestamped(): string {
  const t = new Date().toISOString(); // 2026-11-30T07:25:01.123Z
  const stamp = `${t.slice(0, 4)}_${t.slice(5, 7)}_${t.slice(8, 10)}_${t.slice(11, 13)}_${t.slice(14, 16)}_${t.slice(17, 19)}`;
  return `..${stamp}.${process.pid}${String(++serial).padStart(6, '0')}`;
}

/**
 * Writes a new version of the volume's keys, as the kubelet does on a ConfigMap update (the first
 * call creates the layout and the key symlinks).
 * @param dir the volume's mount directory
 * @param files key -> content
 * @returns the name of the new timestamped directory
 */
export function kubeletWrite(dir: string, files: Record<string, string>): string {
  const dataLink = join(dir, '..data');
  const old = existsSync(dataLink) ? readlinkSync(dataLink) : undefined;
  const version = timestamped();
  mkdirSync(join(dir, version));
  for (const [key, content] of Object.entries(files)) writeFileSync(join(dir, version, key), content, { mode: 0o644 });
  const tmpLink = join(dir, '..data_tmp');
  symlinkSync(version, tmpLink);
  renameSync(tmpLink, dataLink);
  for (const key of Object.keys(files)) {
    if (!existsSync(join(dir, key))) symlinkSync(join('..data', key), join(dir, key));
  }
  if (old !== undefined) rmSync(join(dir, old), { recursive: true, force: true });
  return version;
}
