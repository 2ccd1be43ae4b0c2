import { test } from 'node:test';
import { createHash, createHmac, randomBytes, randomInt } from 'node:crypto';
import assert from 'node:assert/strict';
import { launch, createConcert, proofOfWork, signUp, uniq, shot, audit, noSideScroll, phone, fanOptions, BASE, tabTo } from './lib.mjs';

test('a fan signs up, solves the proof of work, holds a seat, pays and sees the ticket, by keyboard alone', async () => {
  const pow = await proofOfWork();
  if (!pow) console.log('note: this server has no proof of work yet: the room asking for it is played by the test');
  const room = { strategy: 'RATE', admitPerSecond: 50, sessionSeconds: 600, idleSeconds: 60 };
  if (pow) room.proofOfWork = 20000;
  const c = await createConcert({ title: 'Journey ' + uniq(), waitingRoom: room });
  const b = await launch();
  try {
    const page = await b.fan(fanOptions);
    const check = async (where) => { await audit(page, where); await noSideScroll(page, where); };
    const size = phone ? 'phone' : 'desktop';
    const proofs = [];
    page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/queue')) proofs.push(r.headers()['queue-proof'] || ''); });
    await page.goto(BASE + '/');
    await page.getByLabel('Your name').waitFor();
    await check('sign up');
    let stub;
    if (!pow) stub = await askForProof(page);
    await signUp(page, 'Minji');
    await check('concert list');
    await shot(page, 'web-list-' + size);
    // From here on, the keyboard only.
    const press = async (locator) => { await tabTo(page, locator); await page.keyboard.press('Enter'); };
    await press(page.getByRole('link', { name: c.title }));
    const join = page.getByRole('button', { name: 'Join the queue' });
    await join.waitFor();
    await check('concert page');
    await shot(page, 'web-concert-' + size);
    await press(join);
    await page.getByRole('heading', { name: "You're in!" }).waitFor({ timeout: 60000 });
    {
      const proof = proofs.find(Boolean);
      assert.ok(proof, 'the join carried no Queue-Proof');
      const p = JSON.parse(Buffer.from(proof, 'base64').toString());
      assert.deepEqual(Object.keys(p).sort(), ['algorithm', 'challenge', 'number', 'salt', 'signature']);
      if (stub) assert.equal(p.number, stub.number, 'the widget found the wrong number');
    }
    await press(page.getByRole('button', { name: 'Seat 17, R, 90,000 won, available' }));
    await page.getByRole('button', { name: /^Seat 17, R, 90,000 won, selected/ }).waitFor();
    await check('seat map');
    await shot(page, 'web-seats-' + size);
    await press(page.getByRole('button', { name: 'Hold selected seats (1)' }));
    await page.getByRole('heading', { name: 'Your seats are held' }).waitFor();
    await page.getByRole('timer').waitFor();
    // A new fan has nothing: pay is refused until the balance covers it.
    await page.getByTestId('balance').filter({ hasText: /^0 won$/ }).waitFor();
    await tabTo(page, page.getByLabel('Amount to add (won)'));
    await page.keyboard.press('Control+A');
    await page.keyboard.type('100000');
    await page.keyboard.press('Enter');
    await page.getByRole('main').getByText(/100,000 won added/).waitFor();
    await check('hold');
    await shot(page, 'web-hold-' + size);
    await press(page.getByRole('button', { name: 'Pay 90,000 won' }));
    await page.getByRole('heading', { name: 'Your ticket' }).waitFor();
    assert.equal((await page.getByTestId('ticket-seats').textContent()).trim(), '17');
    await check('ticket');
    await shot(page, 'web-ticket-' + size);
    await press(page.getByRole('main').getByRole('link', { name: 'My reservations' }));
    await page.getByRole('heading', { name: 'My reservations', level: 1 }).waitFor();
    await page.getByRole('main').getByText('Paid', { exact: true }).waitFor();
    await check('my reservations');
    // Korean, switchable.
    await press(page.getByRole('button', { name: /Switch to Korean/ }));
    await page.getByRole('heading', { name: '내 예매', level: 1 }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'ko');
    await check('my reservations in Korean');
    await shot(page, 'web-mine-ko-' + size);
  } catch (e) {
    await b.failed('journey');
    throw e;
  } finally {
    await b.close();
  }
});

// askForProof plays a room whose proof of work is on, for servers without
// it: a join without Queue-Proof is refused PROOF_INVALID and the challenge
// is an ALTCHA challenge made here; the join with a proof goes through.
async function askForProof(page) {
  const salt = randomBytes(12).toString('hex');
  const maxnumber = 20000;
  const number = randomInt(maxnumber);
  const challenge = createHash('sha256').update(salt + number).digest('hex');
  const signature = createHmac('sha256', 'test').update(challenge).digest('hex');
  await page.route('**/v1/concerts/*/queue', (r) => {
    if (r.request().method() !== 'POST' || r.request().headers()['queue-proof']) return r.continue();
    return r.fulfill({ status: 403, contentType: 'application/problem+json',
      body: JSON.stringify({ type: 'about:blank', title: 'Proof invalid', status: 403, code: 'PROOF_INVALID', detail: 'this room asks for a proof of work' }) });
  });
  await page.route('**/v1/concerts/*/queue/challenge', (r) => r.fulfill({ status: 200, contentType: 'application/json',
    body: JSON.stringify({ algorithm: 'SHA-256', challenge, salt, maxnumber, signature }) }));
  return { number };
}
