// The waiting room's throughput with k6, to compare with `boxoffice loadtest
// join`: 600 virtual users, each one connection, in a closed loop.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e ADMIN_KEY=... -e STEP=healthz loadtest/k6/join.js
//   k6 run ... -e STEP=join loadtest/k6/join.js   # create a user, join (both timed, tagged apart)
//   k6 run ... -e STEP=poll loadtest/k6/join.js   # poll GET /v1/queue as a waiting fan
//
// STEP=healthz measures the bare handler with k6's own client, the ceiling
// the other steps are compared with. The server must run with
// BOXOFFICE_RATE_LIMIT=0 and BOXOFFICE_SIGNUP_LIMIT=0.
import http from 'k6/http';
import { check, fail } from 'k6';

const BASE = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const ADMIN_KEY = __ENV.ADMIN_KEY || '';
const STEP = __ENV.STEP || 'join';
const VUS = Number(__ENV.VUS || 600);
const DURATION = __ENV.DURATION || '10s';

const json = { 'Content-Type': 'application/json', Accept: 'application/json' };

export const options = {
  scenarios: {
    [STEP]: { executor: 'constant-vus', vus: VUS, duration: DURATION, gracefulStop: '5s' },
  },
  setupTimeout: '120s',
  discardResponseBodies: false,
  summaryTrendStats: ['avg', 'p(50)', 'p(90)', 'p(99)', 'max'],
  // One threshold per endpoint makes k6 print its own line for each.
  thresholds: {
    'http_req_duration{name:healthz}': ['max>=0'],
    'http_req_duration{name:createUser}': ['max>=0'],
    'http_req_duration{name:join}': ['p(99)<40'],
    'http_req_duration{name:queueStatus}': ['p(99)<40'],
    'http_reqs{name:healthz}': ['count>=0'],
    'http_reqs{name:join}': ['count>=0'],
    'http_reqs{name:queueStatus}': ['count>=0'],
    'checks': ['rate>0.99'],
  },
};

function concert() {
  const start = new Date(Date.now() + 60 * 86400 * 1000);
  const spec = {
    title: 'k6 join', venue: 'Load Test Arena',
    dates: [start.toISOString()],
    grades: [{ name: 'VIP', seats: '1-10', price: 150000 }, { name: 'R', seats: '11-50', price: 90000 }],
    salesOpenAt: new Date(Date.now() - 60000).toISOString(),
    // Admits almost nobody: fans keep waiting.
    waitingRoom: { strategy: 'RATE', admitPerSecond: 0.01, sessionSeconds: 60, idleSeconds: 3600 },
  };
  const res = http.post(`${BASE}/v1/admin/concerts`, JSON.stringify(spec), {
    headers: Object.assign({ Authorization: `Bearer ${ADMIN_KEY}` }, json),
  });
  if (res.status !== 201) fail(`create concert: ${res.status} ${res.body}`);
  return res.json('concertId');
}

function newUser(i) {
  const res = http.post(`${BASE}/v1/users`, JSON.stringify({ name: `k6 fan ${i}` }), { headers: json, tags: { name: 'createUser' } });
  check(res, { 'user created': (r) => r.status === 201 });
  return res.json();
}

export function setup() {
  if (STEP === 'healthz') return {};
  if (!ADMIN_KEY) fail('set -e ADMIN_KEY=<the server admin key>');
  const concertId = concert();
  if (STEP !== 'poll') return { concertId };
  // One waiting fan per virtual user, joined before the measurement.
  const fans = [];
  for (let i = 0; i < VUS; i += 50) {
    const users = http.batch(Array.from({ length: Math.min(50, VUS - i) }, (_, k) => ({
      method: 'POST', url: `${BASE}/v1/users`, body: JSON.stringify({ name: `k6 fan ${i + k}` }), params: { headers: json },
    })));
    const joins = http.batch(users.map((u) => ({
      method: 'POST', url: `${BASE}/v1/concerts/${concertId}/queue`, body: null,
      params: { headers: Object.assign({ Authorization: `Bearer ${u.json('accessToken')}` }, json) },
    })));
    joins.forEach((j, k) => fans.push({ access: users[k].json('accessToken'), token: j.json('token') }));
  }
  return { concertId, fans };
}

export default function (data) {
  if (STEP === 'healthz') {
    const res = http.get(`${BASE}/healthz`, { tags: { name: 'healthz' } });
    check(res, { 'healthz 200': (r) => r.status === 200 });
    return;
  }
  if (STEP === 'join') {
    const u = newUser(`${__VU}-${__ITER}`);
    const res = http.post(`${BASE}/v1/concerts/${data.concertId}/queue`, null, {
      headers: Object.assign({ Authorization: `Bearer ${u.accessToken}` }, json), tags: { name: 'join' },
    });
    check(res, { 'joined': (r) => r.status === 201 || r.status === 200 });
    return;
  }
  const fan = data.fans[(__VU - 1) % data.fans.length];
  const res = http.get(`${BASE}/v1/queue`, {
    headers: { Authorization: `Bearer ${fan.access}`, 'Queue-Token': fan.token, Accept: 'application/json' }, tags: { name: 'queueStatus' },
  });
  check(res, { 'status read': (r) => r.status === 200 });
}
