import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, createConcert, uniq, BASE } from './lib.mjs';

// The words each fan's browser language brings: one fan is English, the
// other's browser prefers Korean, so the app speaks Korean to them.
const words = {
  en: {
    name: 'Your name', start: 'Start', concerts: 'Concerts', join: 'Join the queue', inside: "You're in!",
    seat: (n, g, p, s) => `Seat ${n}, ${g}, ${p} won, ${s}`, available: 'available', held: 'held',
    hold: 'Hold selected seats (1)', holdDone: 'Your seats are held', taken: 'Someone just took seat 17 — pick another.',
  },
  ko: {
    name: '이름', start: '시작하기', concerts: '공연', join: '대기열 입장', inside: '입장했습니다!',
    seat: (n, g, p, s) => `${n}번 좌석, ${g}, ${p}원, ${s}`, available: '예매 가능', held: '선점됨',
    hold: '선택한 좌석 선점하기 (1)', holdDone: '좌석을 선점했습니다', taken: '방금 다른 분이 17번 좌석을 선택했어요. 다른 좌석을 골라 주세요.',
  },
};

test('two fans race for seat 17: one holds it, the other is told (in their language) and picks another', async () => {
  const c = await createConcert({ title: 'Race ' + uniq() });
  const b = await launch();
  try {
    const fans = [
      { page: await b.fan({ locale: 'en-US' }), w: words.en },
      { page: await b.fan({ locale: 'ko-KR' }), w: words.ko },
    ];
    await Promise.all(fans.map(async ({ page, w }, i) => {
      await page.goto(BASE + '/');
      await page.getByLabel(w.name).fill('Fan ' + i);
      await page.getByRole('button', { name: w.start }).click();
      await page.getByRole('heading', { name: w.concerts, level: 1 }).waitFor();
      await page.getByRole('link', { name: c.title }).click();
      await page.getByRole('button', { name: w.join }).click();
      await page.getByRole('heading', { name: w.inside }).waitFor({ timeout: 60000 });
      await page.getByRole('button', { name: w.seat(17, 'R', '90,000', w.available) }).click();
    }));
    await Promise.all(fans.map(({ page, w }) => page.getByRole('button', { name: w.hold }).click()));
    const outcome = async ({ page, w }) => {
      const held = page.getByRole('heading', { name: w.holdDone });
      const told = page.getByRole('main').getByText(w.taken);
      await held.or(told).first().waitFor();
      return (await held.isVisible()) ? 'held' : 'told';
    };
    const results = await Promise.all(fans.map(outcome));
    assert.deepEqual([...results].sort(), ['held', 'told'], `outcomes: ${results}`);
    const loser = fans[results.indexOf('told')];
    // The loser's map shows 17 taken and lets them hold 18.
    await loser.page.getByRole('button', { name: loser.w.seat(17, 'R', '90,000', loser.w.held) }).waitFor();
    await loser.page.getByRole('button', { name: loser.w.seat(18, 'R', '90,000', loser.w.available) }).click();
    await loser.page.getByRole('button', { name: loser.w.hold }).click();
    await loser.page.getByRole('heading', { name: loser.w.holdDone }).waitFor();
  } catch (e) {
    await b.failed('race');
    throw e;
  } finally {
    await b.close();
  }
});
