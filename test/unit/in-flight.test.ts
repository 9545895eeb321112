/**
 * The in-flight list (src/in-flight.ts) that replaced per-request `Set`s (a GC bug: see its header):
 * membership, order, deletion during iteration, and items that are not in the list.
 */
import t from 'tap';
import { InFlight } from '../../src/in-flight.js';

const items = (n: number) => Array.from({ length: n }, (_, id) => ({ id }));
const ids = (list: InFlight<{ id: number }>) => [...list].map((item) => item.id);

t.test('added items are listed newest first and counted', async (t) => {
  const list = new InFlight<{ id: number }>();
  for (const item of items(3)) list.add(item);
  t.same(ids(list), [2, 1, 0]);
  t.equal(list.size, 3);
});

t.test('deleting the head, a middle item and the tail leaves the rest in order', async (t) => {
  const list = new InFlight<{ id: number }>();
  const [a, b, c, d] = items(4) as [{ id: number }, { id: number }, { id: number }, { id: number }];
  for (const item of [a, b, c, d]) list.add(item);
  list.delete(d); // head
  t.same(ids(list), [2, 1, 0]);
  list.delete(b); // middle
  t.same(ids(list), [2, 0]);
  list.delete(a); // tail
  t.same(ids(list), [2]);
  list.delete(c); // the last one
  t.same(ids(list), []);
  t.equal(list.size, 0);
});

t.test('an item added twice is listed once', async (t) => {
  const list = new InFlight<{ id: number }>();
  const [a, b] = items(2) as [{ id: number }, { id: number }];
  list.add(a);
  list.add(a); // as the head
  list.add(b);
  list.add(a); // not the head any more
  t.same(ids(list), [1, 0]);
  t.equal(list.size, 2);
});

t.test('deleting an item that is not in the list changes nothing', async (t) => {
  const list = new InFlight<{ id: number }>();
  const [a, b] = items(2) as [{ id: number }, { id: number }];
  list.add(a);
  list.delete(b);
  list.delete(b);
  t.same(ids(list), [0]);
  t.equal(list.size, 1);
});

t.test('a deleted item can be added again', async (t) => {
  const list = new InFlight<{ id: number }>();
  const [a, b] = items(2) as [{ id: number }, { id: number }];
  list.add(a);
  list.add(b);
  list.delete(a);
  list.add(a);
  t.same(ids(list), [0, 1]);
});

t.test('the current item may be deleted while iterating (the drain and the idle sweep do)', async (t) => {
  const list = new InFlight<{ id: number }>();
  for (const item of items(5)) list.add(item);
  const seen: number[] = [];
  for (const item of list) {
    seen.push(item.id);
    if (item.id % 2 === 0) list.delete(item);
  }
  t.same(seen, [4, 3, 2, 1, 0]);
  t.same(ids(list), [3, 1]);
  t.equal(list.size, 2);
});
