// Helpers of the browser tests: a Boxoffice started by the Go test
// (BASE_URL, ADMIN_KEY), Debian's Chromium driven by playwright-core.
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BASE = process.env.BASE_URL || 'http://127.0.0.1:8080';
export const ADMIN_KEY = process.env.ADMIN_KEY || '';
export const SHOTS = process.env.SCREENSHOT_DIR || '';

const flags = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];

// launch starts a headless Chromium with a fresh profile of its own; each
// context made from it is another fan.
export async function launch() {
  const pages = [];
  const dir = mkdtempSync(join(tmpdir(), 'boxoffice-chromium-'));
  const ctx0 = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: flags,
  });
  const browser = ctx0.browser();
  return {
    async fan(opts = {}) {
      const ctx = await browser.newContext({ locale: 'en-US', timezoneId: 'Asia/Seoul', viewport: { width: 1280, height: 900 }, ...opts });
      const page = await ctx.newPage();
      page.setDefaultTimeout(30000);
      page.on('pageerror', (e) => console.error('page error:', e.message));
      page.on('console', (m) => { if (m.type() === 'error') console.error('console:', m.text()); });
      pages.push(page);
      return page;
    },
    // failed saves each page's screen and text, for the test's log.
    async failed(name) {
      for (const [i, p] of pages.entries()) {
        try {
          const file = join(tmpdir(), `boxoffice-e2e-${name}-${i}.png`);
          await p.screenshot({ path: file, fullPage: true });
          console.error(`page ${i} (${file}):\n` + (await p.locator('main').innerText()).slice(0, 1500));
        } catch { /* the page is gone */ }
      }
    },
    close: () => ctx0.close(),
  };
}

export async function api(method, path, { body, auth, queueToken, headers = {} } = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  if (auth) h.Authorization = 'Bearer ' + auth;
  if (queueToken) h['Queue-Token'] = queueToken;
  const res = await fetch(BASE + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return json;
}

let powKnown;
// proofOfWork reports whether the server has the contract's proof of work
// (GET /v1/concerts/{concertId}/queue/challenge in its OpenAPI document).
export async function proofOfWork() {
  if (powKnown === undefined) {
    const doc = await api('GET', '/openapi.json');
    powKnown = Object.keys(doc.paths || {}).some((p) => p.endsWith('/queue/challenge'));
  }
  return powKnown;
}

const iso = (d) => d.toISOString().replace(/\.\d+Z$/, 'Z');
export const uniq = () => Math.random().toString(36).slice(2, 8);

// createConcert makes a concert on sale now unless spec says otherwise.
export async function createConcert(spec = {}) {
  const day = (n) => { const d = new Date(Date.now() + n * 86400000); return d.toISOString().slice(0, 10) + 'T19:00:00+09:00'; };
  const body = {
    title: 'Concert ' + uniq(), venue: 'Olympic Hall',
    dates: [day(30), day(31)],
    grades: [{ name: 'VIP', seats: '1-10', price: 150000 }, { name: 'R', seats: '11-50', price: 90000 }],
    salesOpenAt: iso(new Date(Date.now() - 60000)), holdSeconds: 300, maxSeatsPerUser: 4,
    waitingRoom: { strategy: 'RATE', admitPerSecond: 50, sessionSeconds: 600, idleSeconds: 60 },
    ...spec,
  };
  return api('POST', '/v1/admin/concerts', { body, auth: ADMIN_KEY });
}

// apiFan signs a fan up and joins the concert's queue through the API.
export async function apiFan(concertId, name = 'Fan ' + uniq()) {
  const u = await api('POST', '/v1/users', { body: { name } });
  const st = await api('POST', `/v1/concerts/${concertId}/queue`, { auth: u.accessToken });
  return { ...u, token: st.token, status: st };
}

// admittedFan polls the fan's place until it is admitted.
export async function admittedFan(fan) {
  for (let i = 0; i < 100; i++) {
    const st = await api('GET', '/v1/queue', { auth: fan.accessToken, queueToken: fan.token });
    if (st.status === 'ADMITTED') return st;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the fan was never admitted');
}

// signUp signs a fan up through the app.
export async function signUp(page, name = 'Fan ' + uniq()) {
  await page.goto(BASE + '/');
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Your name').press('Enter');
  await page.getByRole('heading', { name: 'Concerts', level: 1 }).waitFor();
}

// admitted opens the concert, joins and waits until the seats show.
export async function joinAndEnter(page, title) {
  await page.getByRole('link', { name: title }).click();
  await page.getByRole('button', { name: 'Join the queue' }).click();
  await page.getByRole('heading', { name: "You're in!" }).waitFor({ timeout: 60000 });
  await page.getByRole('button', { name: /^Seat 1,/ }).waitFor();
}

export async function shot(page, name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, name + '.png'), fullPage: true });
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// audit checks the page against WCAG 2 A and AA with axe-core (names of
// controls, contrast, labels, ARIA) and fails on any violation.
export async function audit(page, where) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(axeSource);
  const r = await page.evaluate(() => window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  const found = r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(found, [], `accessibility violations on ${where}`);
}

// noSideScroll fails when the page is wider than the viewport (phones).
export async function noSideScroll(page, where) {
  const [sw, vw] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(sw <= vw, `${where}: the page is ${sw}px wide in a ${vw}px viewport`);
}

// viewport is the journey's screen: PHONE=1 makes it a 360 px phone.
export const phone = process.env.E2E_PHONE === '1';
export const fanOptions = phone
  ? { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 }
  : {};

// tabTo presses Tab until the locator's element has the focus, as a
// keyboard user would, and fails if it is never reached.
export async function tabTo(page, locator, most = 120) {
  await locator.waitFor();
  for (let i = 0; i < most; i++) {
    if (await locator.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error('Tab never reached ' + locator);
}
