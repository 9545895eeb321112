/**
 * Issue 3 capability 2 in a real process: `src/main.ts` as a child process follows a kubelet `..data`
 * swap of its ConfigMap volume (the swap a watch on the file itself misses).
 */
import { join } from 'node:path';
import t from 'tap';
import { getToken, request } from '../helpers/client.js';
import { BASIC } from '../helpers/config.js';
import { configText } from '../helpers/config-file.js';
import { kubeletWrite } from '../helpers/kubelet.js';
import { spawnSidecar } from '../helpers/sidecar-process.js';
import { namedUpstreams } from '../helpers/upstream.js';
import { eventually } from '../helpers/wait.js';

const upstreams = namedUpstreams(t);

/** The fixture config on upstream A or B, without an admin listener. */
const on = (name: 'A' | 'B'): string => configText(upstreams[name].url, { admin_listen: undefined });

async function servedBy(port: number, token: string): Promise<string> {
  const answer = await request(port, 'GET', '/orders/x', { authorization: `Bearer ${token}` });
  return answer.status === 200 ? String(answer.json.upstream) : `status ${answer.status}`;
}

t.test('issue 3 capability 2: a child process follows a kubelet ..data swap of its ConfigMap within 2 s', async (t) => {
  const root = t.testdir({ volume: {}, scratch: {} });
  const dir = join(root, 'volume');
  kubeletWrite(dir, { 'config.yaml': on('A') });
  // spawnSidecar writes its (empty) config text to scratch/; the process reads the volume's config.yaml.
  const child = await spawnSidecar(t, join(root, 'scratch', 'config.yaml'), '', {
    command: [process.execPath, ...process.execArgv, 'src/main.ts', '--config', join(dir, 'config.yaml')],
  });
  const tokenA = await getToken(child.port, BASIC.aForm);
  const since = performance.now();
  kubeletWrite(dir, { 'config.yaml': on('B') });
  t.ok(await eventually(async () => (await servedBy(child.port, tokenA)) === 'B', 2000));
  t.comment(`kubelet swap -> new upstream on the wire: ${(performance.now() - since).toFixed(0)} ms`);
});
