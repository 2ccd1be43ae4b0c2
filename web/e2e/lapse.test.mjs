import { test } from 'node:test';
import { launch, createConcert, signUp, joinAndEnter, uniq } from './lib.mjs';

test('a lapsed hold says what happened and lets the fan pick again', async () => {
  const c = await createConcert({ title: 'Lapse ' + uniq(), holdSeconds: 5 });
  const b = await launch();
  try {
    const page = await b.fan();
    await signUp(page, 'Slow Fan');
    await joinAndEnter(page, c.title);
    await page.getByRole('button', { name: 'Seat 5, VIP, 150,000 won, available' }).click();
    await page.getByRole('button', { name: 'Hold selected seats (1)' }).click();
    await page.getByRole('heading', { name: 'Your seats are held' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Your seats are held' }).waitFor();
    await page.getByRole('alert').filter({ hasText: 'Time is up: your hold lapsed and the seats went back on sale.' }).waitFor();
    await page.getByRole('button', { name: 'Pick seats again' }).click();
    await page.getByRole('button', { name: 'Seat 5, VIP, 150,000 won, available' }).waitFor();
  } catch (e) {
    await b.failed('lapse');
    throw e;
  } finally {
    await b.close();
  }
});

test('a session that ends says what happened and offers to join again', async () => {
  const c = await createConcert({ title: 'Session ' + uniq(), waitingRoom: { strategy: 'RATE', admitPerSecond: 50, sessionSeconds: 600, idleSeconds: 60, maxSessionSeconds: 6 } });
  const b = await launch();
  try {
    const page = await b.fan();
    await signUp(page, 'Browsing Fan');
    await joinAndEnter(page, c.title);
    await page.getByRole('main').getByText('Your time to book ended, so your place was given to the next fan. Join the queue again to try once more.').waitFor();
    await page.getByRole('button', { name: 'Join the queue' }).click();
    await page.getByRole('heading', { name: "You're in!" }).waitFor();
  } catch (e) {
    await b.failed('session');
    throw e;
  } finally {
    await b.close();
  }
});
