import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, createConcert, apiFan, admittedFan, api, signUp, uniq, shot, audit } from './lib.mjs';

test("a waiting fan's place moves live, without reloading, until they are in", async () => {
  // One fan shopping at a time: the first API fan is in, two wait ahead.
  const c = await createConcert({ title: 'Live ' + uniq(), waitingRoom: { strategy: 'MAX_ACTIVE', maxActive: 1, sessionSeconds: 600, idleSeconds: 60 } });
  const a = await apiFan(c.concertId);
  await admittedFan(a);
  const ahead = [await apiFan(c.concertId), await apiFan(c.concertId)];
  const b = await launch();
  try {
    const page = await b.fan();
    await signUp(page, 'Patient Fan');
    await page.getByRole('link', { name: c.title }).click();
    await page.getByRole('button', { name: 'Join the queue' }).click();
    const position = page.getByTestId('position');
    await page.getByRole('heading', { name: 'You are in line' }).waitFor();
    await position.filter({ hasText: /^3$/ }).waitFor();
    await page.getByRole('main').getByText(/Updates live/).waitFor();
    await audit(page, 'waiting');
    await shot(page, 'web-waiting-desktop');
    await page.evaluate(() => { window.__notReloaded = true; });
    // Fans ahead leave, one by one: the place follows.
    await api('DELETE', '/v1/queue', { auth: ahead[0].accessToken, queueToken: ahead[0].token });
    await position.filter({ hasText: /^2$/ }).waitFor();
    await api('DELETE', '/v1/queue', { auth: ahead[1].accessToken, queueToken: ahead[1].token });
    await position.filter({ hasText: /^1$/ }).waitFor();
    // The shopper leaves: this fan is in.
    await api('DELETE', '/v1/queue', { auth: a.accessToken, queueToken: a.token });
    await page.getByRole('heading', { name: "You're in!" }).waitFor();
    assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the page was reloaded');
    // Leaving is one click.
    await page.getByRole('button', { name: 'Leave the queue' }).click();
    await page.getByRole('status').filter({ hasText: 'You left the queue.' }).first().waitFor();
  } catch (e) {
    await b.failed('live');
    throw e;
  } finally {
    await b.close();
  }
});

test('when the event stream is refused, the place still moves by polling, backing off on 429', async () => {
  const c = await createConcert({ title: 'Poll ' + uniq(), waitingRoom: { strategy: 'MAX_ACTIVE', maxActive: 1, sessionSeconds: 600, idleSeconds: 60 } });
  const a = await apiFan(c.concertId);
  await admittedFan(a);
  const ahead = await apiFan(c.concertId);
  const b = await launch();
  try {
    const page = await b.fan();
    await page.route('**/v1/queue/events**', (r) => r.fulfill({ status: 503, contentType: 'application/problem+json', headers: { 'Retry-After': '5' },
      body: JSON.stringify({ type: 'about:blank', title: 'Unavailable', status: 503, code: 'UNAVAILABLE', detail: 'too many open event streams' }) }));
    const polls = [];
    let refused = 0;
    await page.route('**/v1/queue', (r) => {
      if (r.request().method() !== 'GET') return r.continue();
      polls.push(Date.now());
      if (refused < 2) {
        refused++;
        return r.fulfill({ status: 429, contentType: 'application/problem+json', headers: { 'Retry-After': '1' },
          body: JSON.stringify({ type: 'about:blank', title: 'Rate limited', status: 429, code: 'RATE_LIMITED', detail: 'slow down' }) });
      }
      return r.continue();
    });
    await signUp(page, 'Polling Fan');
    await page.getByRole('link', { name: c.title }).click();
    await page.getByRole('button', { name: 'Join the queue' }).click();
    await page.getByTestId('position').filter({ hasText: /^2$/ }).waitFor();
    await page.getByRole('main').getByText(/Updates every few seconds/).waitFor();
    await api('DELETE', '/v1/queue', { auth: ahead.accessToken, queueToken: ahead.token });
    await page.getByTestId('position').filter({ hasText: /^1$/ }).waitFor();
    await api('DELETE', '/v1/queue', { auth: a.accessToken, queueToken: a.token });
    await page.getByRole('heading', { name: "You're in!" }).waitFor();
    // Retry-After was honoured: no two polls closer than a second while refused.
    for (let i = 1; i <= 2 && i < polls.length; i++) assert.ok(polls[i] - polls[i - 1] >= 900, `polls ${polls[i] - polls[i - 1]} ms apart after a 429`);
  } catch (e) {
    await b.failed('poll');
    throw e;
  } finally {
    await b.close();
  }
});

test('before the opening a fan waits in the pre-queue with a countdown and the lottery commitment', async () => {
  const opens = new Date(Date.now() + 3600 * 1000);
  const c = await createConcert({ title: 'Opening ' + uniq(), salesOpenAt: opens.toISOString().replace(/\.\d+Z$/, 'Z') });
  const b = await launch();
  try {
    const page = await b.fan();
    await signUp(page, 'Early Fan');
    await page.getByRole('link', { name: c.title }).click();
    await page.getByRole('button', { name: 'Join the pre-queue' }).click();
    await page.getByRole('heading', { name: 'You are in the pre-queue' }).waitFor();
    await page.getByRole('timer').filter({ hasText: /^(59|1:00):\d\d/ }).waitFor();
    const detail = await api('GET', '/v1/concerts/' + c.concertId);
    await page.getByRole('main').getByText(detail.lottery.commitment).waitFor();
    await audit(page, 'pre-queue');
    await shot(page, 'web-prequeue-desktop');
    await page.getByRole('button', { name: 'Leave the queue' }).click();
    await page.getByRole('button', { name: 'Join the pre-queue' }).waitFor();
  } catch (e) {
    await b.failed('prequeue');
    throw e;
  } finally {
    await b.close();
  }
});
