// The whole fan flow with k6, to compare with `boxoffice loadtest onsale`:
// each iteration is one fan who creates a user, charges the wallet, joins
// the waiting room, polls until admitted, lists the dates, reads a seat map,
// holds seats (most want the front rows; SEAT_UNAVAILABLE is retried) and
// pays. At the end the sale is read back from the admin stats.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e ADMIN_KEY=... -e FANS=2000 -e DATES=20 loadtest/k6/flow.js
//
// The server must run with BOXOFFICE_RATE_LIMIT=0 and BOXOFFICE_SIGNUP_LIMIT=0.
import http from 'k6/http';
import { check, fail, sleep } from 'k6';
import { Counter } from 'k6/metrics';

const BASE = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const ADMIN_KEY = __ENV.ADMIN_KEY || '';
const FANS = Number(__ENV.FANS || 2000);
const DATES = Number(__ENV.DATES || 20);
const VUS = Number(__ENV.VUS || 600);
const ADMIT = Number(__ENV.ADMIT_PER_SECOND || 200);

const json = { 'Content-Type': 'application/json', Accept: 'application/json' };
const seatsBought = new Counter('seats_bought');
const paid = new Counter('won_paid');
const holdRetries = new Counter('hold_retries');
const soldOut = new Counter('fans_found_sold_out');

export const options = {
  scenarios: {
    fans: { executor: 'shared-iterations', vus: VUS, iterations: FANS, maxDuration: '10m' },
  },
  setupTimeout: '60s',
  summaryTrendStats: ['avg', 'p(50)', 'p(90)', 'p(99)', 'max'],
  thresholds: {
    'http_req_duration{name:join}': ['max>=0'],
    'http_req_duration{name:queueStatus}': ['max>=0'],
    'http_req_duration{name:dates}': ['max>=0'],
    'http_req_duration{name:seats}': ['max>=0'],
    'http_req_duration{name:hold}': ['max>=0'],
    'http_req_duration{name:pay}': ['max>=0'],
    'http_req_failed{name:pay}': ['rate<0.01'],
    // Any 5xx fails the run.
    'http_reqs{status:500}': ['count==0'],
    'http_reqs{status:503}': ['count==0'],
  },
};

function auth(access, token) {
  const h = Object.assign({ Authorization: `Bearer ${access}` }, json);
  if (token) h['Queue-Token'] = token;
  return { headers: h };
}

function tagged(params, name, expected) {
  return Object.assign(params, { tags: { name }, responseCallback: http.expectedStatuses(...expected) });
}

export function setup() {
  if (!ADMIN_KEY) fail('set -e ADMIN_KEY=<the server admin key>');
  const first = Date.now() + 60 * 86400 * 1000;
  const spec = {
    title: 'k6 flow', venue: 'Load Test Arena',
    dates: Array.from({ length: DATES }, (_, i) => new Date(first + i * 86400 * 1000).toISOString()),
    grades: [{ name: 'VIP', seats: '1-10', price: 150000 }, { name: 'R', seats: '11-50', price: 90000 }],
    salesOpenAt: new Date(Date.now() - 1000).toISOString(),
    holdSeconds: 30, maxSeatsPerUser: 4,
    waitingRoom: { strategy: 'RATE', admitPerSecond: ADMIT, sessionSeconds: 120, idleSeconds: 60 },
  };
  const res = http.post(`${BASE}/v1/admin/concerts`, JSON.stringify(spec), auth(ADMIN_KEY));
  if (res.status !== 201) fail(`create concert: ${res.status} ${res.body}`);
  return { concertId: res.json('concertId') };
}

export default function (data) {
  const c = data.concertId;
  const user = http.post(`${BASE}/v1/users`, JSON.stringify({ name: `k6 fan ${__VU}-${__ITER}` }), tagged({ headers: json }, 'createUser', [201]));
  if (user.status !== 201) return;
  const { userId, accessToken } = user.json();
  http.post(`${BASE}/v1/users/${userId}/balance/charges`, JSON.stringify({ amount: 600000 }), tagged(auth(accessToken), 'charge', [200]));

  let st = http.post(`${BASE}/v1/concerts/${c}/queue`, null, tagged(auth(accessToken), 'join', [200, 201, 409]));
  if (st.status === 409) { soldOut.add(1); return; }
  const token = st.json('token');
  let status = st.json('status');
  while (status === 'WAITING' || status === 'PREQUEUE') {
    sleep(Math.max(1, st.json('pollAfterSeconds')));
    st = http.get(`${BASE}/v1/queue`, tagged(auth(accessToken, token), 'queueStatus', [200]));
    if (st.status !== 200) return;
    status = st.json('status');
  }
  if (status !== 'ADMITTED') { soldOut.add(1); return; }

  for (let attempt = 0; attempt < 8; attempt++) {
    const dates = http.get(`${BASE}/v1/concerts/${c}/dates`, tagged(auth(accessToken, token), 'dates', [200]));
    if (dates.status !== 200) return;
    const list = dates.json('dates');
    if (list.length === 0) { soldOut.add(1); return; }
    const day = Math.random() < 0.5 ? list[0].date : list[Math.floor(Math.random() * list.length)].date;
    const map = http.get(`${BASE}/v1/concerts/${c}/dates/${day}/seats`, tagged(auth(accessToken, token), 'seats', [200]));
    if (map.status !== 200) return;
    const free = map.json('seats').filter((s) => s.status === 'AVAILABLE').map((s) => s.number);
    if (free.length === 0) continue;
    const want = Math.min(free.length, 1 + Math.floor(Math.random() * 4));
    const seats = Math.random() < 0.7 ? free.slice(0, want) : free.sort(() => Math.random() - 0.5).slice(0, want).sort((a, b) => a - b);
    const hold = http.post(`${BASE}/v1/reservations`, JSON.stringify({ concertId: c, date: day, seatNumbers: seats }),
      tagged(auth(accessToken, token), 'hold', [201, 409]));
    if (hold.status === 409) { holdRetries.add(1); continue; }
    if (hold.status !== 201) return;
    const r = hold.json();
    const pay = http.post(`${BASE}/v1/payments`, JSON.stringify({ reservationId: r.reservationId }),
      tagged(auth(accessToken, token), 'pay', [201]));
    if (check(pay, { 'paid': (p) => p.status === 201 })) {
      seatsBought.add(r.seats.length);
      paid.add(r.amount);
    }
    return;
  }
}

export function teardown(data) {
  const res = http.get(`${BASE}/v1/admin/concerts/${data.concertId}/stats`, auth(ADMIN_KEY));
  const st = res.json();
  console.log(`sale: sold ${st.sold} of ${st.total} seats, revenue ${st.revenue} won (compare with seats_bought and won_paid)`);
}
