import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, createConcert, signUp, joinAndEnter, uniq } from './lib.mjs';

test('two fans race for seat 17: one holds it, the other is told and picks another', async () => {
  const c = await createConcert({ title: 'Race ' + uniq() });
  const b = await launch();
  try {
    const [p1, p2] = [await b.fan(), await b.fan()];
    await Promise.all([signUp(p1, 'Fan One'), signUp(p2, 'Fan Two')]);
    await Promise.all([joinAndEnter(p1, c.title), joinAndEnter(p2, c.title)]);
    for (const p of [p1, p2]) await p.getByRole('button', { name: 'Seat 17, R, 90,000 won, available' }).click();
    const holds = [p1, p2].map((p) => p.getByRole('button', { name: 'Hold selected seats (1)' }));
    await Promise.all(holds.map((h) => h.click()));
    const outcome = async (p) => {
      const held = p.getByRole('heading', { name: 'Your seats are held' });
      const told = p.getByRole('alert').filter({ hasText: 'Someone just took seat 17 — pick another.' });
      await held.or(told).first().waitFor();
      return (await held.isVisible()) ? 'held' : 'told';
    };
    const results = await Promise.all([outcome(p1), outcome(p2)]);
    assert.deepEqual([...results].sort(), ['held', 'told'], `outcomes: ${results}`);
    const loser = results[0] === 'told' ? p1 : p2;
    // The loser's map shows 17 taken and lets them hold 18.
    await loser.getByRole('button', { name: 'Seat 17, R, 90,000 won, held' }).waitFor();
    await loser.getByRole('button', { name: 'Seat 18, R, 90,000 won, available' }).click();
    await loser.getByRole('button', { name: 'Hold selected seats (1)' }).click();
    await loser.getByRole('heading', { name: 'Your seats are held' }).waitFor();
  } catch (e) {
    await b.failed('race');
    throw e;
  } finally {
    await b.close();
  }
});
