import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, createConcert, apiFan, admittedFan, api, signUp, uniq, shot } from './lib.mjs';

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
    await page.getByText(/Updates live/).waitFor();
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
