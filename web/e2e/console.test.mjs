import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, api, BASE, ADMIN_KEY, uniq, shot, audit } from './lib.mjs';

test('the console creates a concert, and a dashboard moves while an on-sale runs', async () => {
  const b = await launch();
  let load;
  try {
    const page = await b.fan({ viewport: { width: 1280, height: 1000 } });
    await page.goto(BASE + '/admin');
    await page.getByLabel('Admin key').waitFor();
    await audit(page, 'console key form');
    await page.getByLabel('Admin key').fill('not-the-admin-key-at-all');
    await page.getByRole('button', { name: 'Open the console' }).click();
    await page.getByRole('alert').filter({ hasText: 'That key was refused.' }).waitFor();
    await page.getByLabel('Admin key').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Open the console' }).click();
    assert.equal(await page.evaluate(() => Object.keys(localStorage).length), 0, 'the key must not reach localStorage');
    assert.equal(await page.evaluate(() => document.cookie), '');

    // Create a concert: the server's validation error shows at its field.
    await page.getByRole('link', { name: 'New concert' }).click();
    const title = 'Console ' + uniq();
    await page.getByLabel('Title').fill(title);
    await page.getByLabel('Venue', { exact: true }).fill('Jamsil Arena');
    await page.getByLabel('Grade 2 seats').fill('11-60');
    await page.getByRole('button', { name: 'Create the concert' }).click();
    await page.getByRole('group', { name: /Grades/ }).getByRole('alert').waitFor();
    await audit(page, 'new concert form with an error');
    await page.getByLabel('Grade 2 seats').fill('11-50');
    await page.getByRole('button', { name: 'Create the concert' }).click();
    await page.getByRole('heading', { name: title, level: 1 }).waitFor();
    await page.locator('.uplot').nth(2).waitFor();

    // A short on-sale creates its own concert: watch it in the console.
    const onsales = async () => (await api('GET', '/v1/concerts')).concerts.filter((x) => x.title.startsWith('On-sale')).map((x) => x.concertId);
    const before = new Set(await onsales());
    load = spawn(process.env.BOXOFFICE_BIN, ['loadtest', 'onsale', '--target', BASE, '--admin-key', ADMIN_KEY,
      '--fans', '300', '--dates', '1', '--no-ceiling', '--hold-seconds', '5', '--think', '50ms',
      '--admit-per-second', '60', '--max-active', '100', '--out', join(tmpdir(), `onsale-${uniq()}.json`)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    load.stdout.on('data', (d) => { out += d; });
    load.stderr.on('data', (d) => { out += d; });
    const done = new Promise((resolve) => load.on('exit', (code) => resolve(code)));
    let id;
    for (let i = 0; i < 300 && !id; i++) {
      id = (await onsales()).find((x) => !before.has(x));
      if (!id) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(id, 'the on-sale made no concert:\n' + out);
    await page.getByRole('navigation', { name: 'Concerts' }).locator(`a[href="#/c/${id}"]`).click({ timeout: 30000 });
    const metric = (name) => page.locator(`[data-metric="${name}"]`);
    await page.waitForFunction(() => {
      const v = document.querySelector('[data-metric="Seats sold"]');
      return v && parseInt(v.textContent, 10) > 0;
    }, null, { timeout: 60000 });
    assert.ok(parseInt(await metric('Admitted (total)').textContent(), 10) > 0);
    await audit(page, 'dashboard');
    await shot(page, 'web-console-desktop');

    // The strategy changes live.
    const room = page.getByRole('form', { name: 'Change the waiting room (live)' });
    await room.getByLabel('Strategy').selectOption('MAX_ACTIVE');
    await room.getByRole('button', { name: 'Apply now' }).click();
    await room.getByRole('status').filter({ hasText: 'Saved: the room now runs MAX_ACTIVE.' }).waitFor();

    const code = await done;
    load = null;
    console.log(`loadtest onsale exited ${code}:\n` + out.split('\n').slice(-12).join('\n'));
  } catch (e) {
    await b.failed('console');
    throw e;
  } finally {
    if (load) load.kill();
    await b.close();
  }
});
