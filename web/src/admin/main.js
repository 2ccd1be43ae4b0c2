import { h, render } from 'preact';
import { useState, useEffect, useRef } from 'preact/hooks';
import htm from 'htm';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { request, ApiError, busy, retryDelay } from '../shared/api.js';
import './style.css';

const html = htm.bind(h);

// The admin key lives in this tab only (sessionStorage), never on disk.
const KEY = 'boxoffice.adminKey';
const getKey = () => sessionStorage.getItem(KEY) || '';

let announceEl;
const announce = (m) => { if (announceEl) { announceEl.textContent = ''; setTimeout(() => { announceEl.textContent = m; }, 50); } };

const won = (n) => new Intl.NumberFormat('en-US').format(n) + ' won';
const fmt = (n, d = 1) => (Number.isFinite(n) ? (Math.round(n * 10 ** d) / 10 ** d).toString() : '–');

// checkKey asks the server whether key is the admin key: a concert that
// cannot exist is NOT_FOUND for the right key and UNAUTHENTICATED for a
// wrong one.
async function checkKey(key) {
  try {
    await request('GET', '/v1/admin/concerts/00000000-0000-7000-8000-000000000000/stats', { auth: key });
    return '';
  } catch (e) {
    if (e.code === 'NOT_FOUND') return '';
    if (e.code === 'UNAUTHENTICATED' || e.code === 'FORBIDDEN') return 'That key was refused. Check it and try again.';
    if (e.code === 'RATE_LIMITED') return `Too many wrong keys from this address. Try again in ${Math.max(1, e.retryAfter)} s.`;
    return 'The server could not check the key: ' + e.message;
  }
}

function KeyForm({ onKey, err: given }) {
  const [v, setV] = useState('');
  const [err, setErr] = useState(given);
  const [checking, setChecking] = useState(false);
  return html`<section class="card narrow">
    <h1 tabindex="-1">Boxoffice console</h1>
    <p>Enter the admin key printed when the server started. It is kept in this tab only and forgotten when the tab closes.</p>
    <form onSubmit=${async (e) => {
      e.preventDefault();
      if (!v) return;
      setChecking(true);
      const bad = await checkKey(v);
      setChecking(false);
      if (bad) { setErr(bad); announce(bad); return; }
      sessionStorage.setItem(KEY, v); onKey(v);
    }}>
      <label for="key">Admin key</label>
      <input id="key" type="password" autocomplete="off" required value=${v} onInput=${(e) => setV(e.target.value)} aria-invalid=${err ? 'true' : undefined} aria-describedby=${err ? 'key-err' : undefined} />
      <button type="submit" class="primary" disabled=${checking}>Open the console</button>
    </form>
    ${err && html`<div class="note error" role="alert" id="key-err"><p>${err}</p></div>`}
  </section>`;
}

// ---- creating a concert ----

const pad = (n) => String(n).padStart(2, '0');
function localInput(d) { return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`; }
// withOffset turns a datetime-local value into RFC 3339 at the venue's offset.
const withOffset = (v, off) => (v ? (v.length === 16 ? v + ':00' : v) + off : '');

// fieldOf names the form field an error is about: huma's location
// (body.grades[0].price) or the field the domain's message starts with.
function fieldOf(err) {
  const out = {};
  const known = ['title', 'venue', 'dates', 'grades', 'salesOpenAt', 'holdSeconds', 'maxSeatsPerUser', 'strategy', 'admitPerSecond', 'maxActive', 'sessionSeconds', 'idleSeconds', 'maxSessionSeconds', 'proofOfWork'];
  const put = (f, m) => { if (!out[f]) out[f] = m; };
  for (const e of err.errors || []) {
    const loc = (e.location || '').replace(/^body\.?/, '');
    const name = loc.split(/[.[]/).filter(Boolean);
    const f = known.includes(name[name.length - 1]) ? name[name.length - 1] : known.find((k) => name.includes(k)) || (name[0] === 'waitingRoom' ? name[1] : name[0]);
    put(f && known.includes(f) ? f : 'form', e.message + (loc ? ` (${loc})` : ''));
  }
  if (!Object.keys(out).length) {
    const d = err.detail || '';
    const first = d.split(/[\s:(]/)[0];
    let f = known.find((k) => k === first) || known.find((k) => d.includes(k));
    if (!f && /seat|grade/i.test(d)) f = 'grades';
    if (!f && /performance|date/i.test(d)) f = 'dates';
    put(f || 'form', d);
  }
  return out;
}

function Field({ id, label, errors, children, hint }) {
  const e = errors[id];
  return html`<div class=${'field' + (e ? ' bad' : '')}>
    <label for=${'f-' + id}>${label}</label>
    ${children}
    ${hint && html`<p class="hint" id=${'h-' + id}>${hint}</p>`}
    ${e && html`<p class="field-error" id=${'e-' + id} role="alert">${e}</p>`}
  </div>`;
}
const described = (errors, id, hint) => [errors[id] ? 'e-' + id : '', hint ? 'h-' + id : ''].filter(Boolean).join(' ') || undefined;

function CreateConcert({ onCreated, onAuthFail }) {
  const now = new Date();
  const inDays = (d, hr) => { const x = new Date(now); x.setDate(x.getDate() + d); x.setHours(hr, 0, 0, 0); return localInput(x); };
  const [f, setF] = useState({
    title: '', venue: '', offset: '+09:00',
    dates: [inDays(30, 19), inDays(31, 19)],
    grades: [{ name: 'VIP', seats: '1-10', price: 150000 }, { name: 'R', seats: '11-50', price: 90000 }],
    salesOpenAt: localInput(new Date(now.getTime() + 10 * 60000)),
    holdSeconds: 300, maxSeatsPerUser: 4,
    strategy: 'RATE', admitPerSecond: 50, maxActive: 500, sessionSeconds: 600, idleSeconds: 60, maxSessionSeconds: 900, proofOfWork: 0,
  });
  const [errors, setErrors] = useState({});
  const [sending, setSending] = useState(false);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const num = (v) => (v === '' ? 0 : Number(v));

  const submit = async (e) => {
    e.preventDefault();
    setSending(true); setErrors({});
    const spec = {
      title: f.title, venue: f.venue,
      dates: f.dates.filter(Boolean).map((d) => withOffset(d, f.offset)),
      grades: f.grades.map((g) => ({ name: g.name, seats: g.seats, price: num(g.price) })),
      salesOpenAt: withOffset(f.salesOpenAt, f.offset),
      holdSeconds: num(f.holdSeconds), maxSeatsPerUser: num(f.maxSeatsPerUser),
      waitingRoom: {
        strategy: f.strategy, admitPerSecond: num(f.admitPerSecond), maxActive: num(f.maxActive),
        sessionSeconds: num(f.sessionSeconds), idleSeconds: num(f.idleSeconds),
        maxSessionSeconds: num(f.maxSessionSeconds), proofOfWork: num(f.proofOfWork),
      },
    };
    try {
      const c = await request('POST', '/v1/admin/concerts', { auth: getKey(), body: spec });
      if (c.waitingRoom) sessionStorage.setItem('boxoffice.room.' + c.concertId, JSON.stringify(c.waitingRoom));
      announce('Concert created: ' + c.title);
      onCreated(c);
    } catch (er) {
      if (er.code === 'UNAUTHENTICATED') { onAuthFail(); return; }
      const fe = er instanceof ApiError && er.code === 'INVALID_REQUEST' ? fieldOf(er) : { form: er.message };
      setErrors(fe);
      announce('The concert was not created: ' + Object.values(fe).join('; '));
      setTimeout(() => { const el = document.querySelector('.field.bad input, .field.bad select, .field.bad textarea'); if (el) el.focus(); }, 0);
    }
    setSending(false);
  };

  const grade = (i, k) => (e) => { const g = f.grades.slice(); g[i] = { ...g[i], [k]: e.target.value }; setF({ ...f, grades: g }); };
  const date = (i) => (e) => { const d = f.dates.slice(); d[i] = e.target.value; setF({ ...f, dates: d }); };
  const inp = (id, props = {}) => html`<input id=${'f-' + id} name=${id} value=${f[id]} onInput=${set(id)} aria-invalid=${errors[id] ? 'true' : undefined} aria-describedby=${described(errors, id, props.hint)} ...${props} />`;

  return html`<section>
    <h1 tabindex="-1">New concert</h1>
    <form class="card grid" onSubmit=${submit} novalidate>
      ${errors.form && html`<div class="note error" role="alert"><p>${errors.form}</p></div>`}
      <${Field} id="title" label="Title" errors=${errors}>${inp('title', { required: true, maxlength: 200 })}<//>
      <${Field} id="venue" label="Venue" errors=${errors}>${inp('venue', { required: true, maxlength: 200 })}<//>
      <${Field} id="offset" label="Venue's UTC offset" errors=${errors}>${inp('offset', { pattern: '[+-][0-9]{2}:[0-9]{2}' })}<//>
      <fieldset class=${'field wide' + (errors.dates ? ' bad' : '')}>
        <legend>Performances (local time at the venue)</legend>
        ${f.dates.map((d, i) => html`<div class="row" key=${i}>
          <label class="visually-hidden" for=${'f-dates-' + i}>Performance ${i + 1}</label>
          <input id=${i === 0 ? 'f-dates' : 'f-dates-' + i} type="datetime-local" value=${d} onInput=${date(i)} aria-label=${'Performance ' + (i + 1)} aria-invalid=${errors.dates ? 'true' : undefined} />
          <button type="button" aria-label=${'Remove performance ' + (i + 1)} onClick=${() => setF({ ...f, dates: f.dates.filter((_, j) => j !== i) })}>Remove</button>
        </div>`)}
        <button type="button" onClick=${() => setF({ ...f, dates: [...f.dates, ''] })}>Add a performance</button>
        ${errors.dates && html`<p class="field-error" role="alert">${errors.dates}</p>`}
      </fieldset>
      <fieldset class=${'field wide' + (errors.grades ? ' bad' : '')}>
        <legend>Grades (together they cover seats 1–50 once)</legend>
        ${f.grades.map((g, i) => html`<div class="row" key=${i}>
          <input id=${i === 0 ? 'f-grades' : undefined} aria-label=${'Grade ' + (i + 1) + ' name'} placeholder="Name" value=${g.name} onInput=${grade(i, 'name')} />
          <input aria-label=${'Grade ' + (i + 1) + ' seats'} placeholder="1-10" value=${g.seats} onInput=${grade(i, 'seats')} size="6" />
          <input aria-label=${'Grade ' + (i + 1) + ' price in won'} type="number" min="0" value=${g.price} onInput=${grade(i, 'price')} />
          <button type="button" aria-label=${'Remove grade ' + (i + 1)} onClick=${() => setF({ ...f, grades: f.grades.filter((_, j) => j !== i) })}>Remove</button>
        </div>`)}
        <button type="button" onClick=${() => setF({ ...f, grades: [...f.grades, { name: '', seats: '', price: 0 }] })}>Add a grade</button>
        ${errors.grades && html`<p class="field-error" role="alert">${errors.grades}</p>`}
      </fieldset>
      <${Field} id="salesOpenAt" label="Sales open (local time at the venue)" errors=${errors}>${inp('salesOpenAt', { type: 'datetime-local' })}<//>
      <${Field} id="holdSeconds" label="Hold time (seconds)" errors=${errors}>${inp('holdSeconds', { type: 'number', min: 1 })}<//>
      <${Field} id="maxSeatsPerUser" label="Seats per fan and date" errors=${errors}>${inp('maxSeatsPerUser', { type: 'number', min: 1, max: 50 })}<//>
      <${RoomFields} f=${f} set=${set} errors=${errors} inp=${inp} />
      <div class="wide"><button type="submit" class="primary" disabled=${sending}>${sending ? 'Creating…' : 'Create the concert'}</button></div>
    </form>
  </section>`;
}

function RoomFields({ f, set, errors, inp }) {
  return html`<fieldset class="wide grid">
    <legend>Waiting room</legend>
    <${Field} id="strategy" label="Strategy" errors=${errors}>
      <select id="f-strategy" value=${f.strategy} onChange=${set('strategy')}>
        <option value="RATE">RATE — admit a steady number per second</option>
        <option value="MAX_ACTIVE">MAX_ACTIVE — keep at most N shopping at once</option>
        <option value="RATE_AND_MAX_ACTIVE">RATE_AND_MAX_ACTIVE — both</option>
      </select><//>
    <${Field} id="admitPerSecond" label="Admissions per second" errors=${errors}>${inp('admitPerSecond', { type: 'number', min: 0, step: 'any' })}<//>
    <${Field} id="maxActive" label="Most fans shopping at once" errors=${errors}>${inp('maxActive', { type: 'number', min: 0 })}<//>
    <${Field} id="sessionSeconds" label="Session, idle limit (seconds)" errors=${errors}>${inp('sessionSeconds', { type: 'number', min: 1 })}<//>
    <${Field} id="maxSessionSeconds" label="Session, absolute limit (seconds)" errors=${errors}>${inp('maxSessionSeconds', { type: 'number', min: 1 })}<//>
    <${Field} id="idleSeconds" label="Drop a silent waiting fan after (seconds)" errors=${errors}>${inp('idleSeconds', { type: 'number', min: 1 })}<//>
    <${Field} id="proofOfWork" label="Proof of work (ALTCHA maxnumber, 0 = off)" errors=${errors}>${inp('proofOfWork', { type: 'number', min: 0 })}<//>
  </fieldset>`;
}

// ---- a concert's dashboard ----

const WINDOW = 300; // seconds of history in the charts

function Chart({ title, series, data }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const el = box.current;
    const width = Math.max(280, Math.min(el.clientWidth || 600, 900));
    const opts = {
      title, width, height: 200,
      // Always the last five minutes, however few points there are yet.
      scales: { x: { time: true, range: (u, min, max) => [max - WINDOW, max] } },
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2 }))],
      axes: [{}, { size: 60 }],
    };
    plot.current = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() => { plot.current && plot.current.setSize({ width: Math.max(280, Math.min(el.clientWidth, 900)), height: 200 }); });
    ro.observe(el);
    return () => { ro.disconnect(); plot.current.destroy(); plot.current = null; };
  }, []);
  useEffect(() => { if (plot.current) plot.current.setData(data); }, [data]);
  return html`<figure class="chart"><div ref=${box} role="img" aria-label=${title + ' over the last five minutes: ' + series.map((s, i) => s.label + ' now ' + fmt(data[i + 1][data[i + 1].length - 1] ?? NaN)).join(', ')}></div></figure>`;
}

function Dashboard({ id, onAuthFail }) {
  const [concert, setConcert] = useState(null);
  const [stats, setStats] = useState(null);
  const [hist, setHist] = useState({ t: [], waiting: [], active: [], admitRate: [], abandonRate: [], held: [], sold: [] });
  const [err, setErr] = useState('');

  useEffect(() => {
    let alive = true, timer, attempt = 0;
    request('GET', '/v1/concerts/' + id).then((c) => alive && setConcert(c)).catch((e) => alive && setErr(e.message));
    const tick = async () => {
      try {
        const s = await request('GET', '/v1/admin/concerts/' + id + '/stats', { auth: getKey() });
        if (!alive) return;
        attempt = 0; setErr('');
        setStats(s);
        setHist((hs) => {
          const now = Date.now() / 1000;
          const keep = (arr, v) => [...arr, v];
          let n = { t: keep(hs.t, now), waiting: keep(hs.waiting, s.waiting), active: keep(hs.active, s.active), admitRate: keep(hs.admitRate, s.admitRate || 0), abandonRate: keep(hs.abandonRate, s.abandonRate || 0), held: keep(hs.held, s.held), sold: keep(hs.sold, s.sold) };
          const cut = n.t.findIndex((x) => x >= now - WINDOW);
          if (cut > 0) for (const k in n) n[k] = n[k].slice(cut);
          return n;
        });
        timer = setTimeout(tick, 1000);
      } catch (e) {
        if (!alive) return;
        if (e.code === 'UNAUTHENTICATED') { onAuthFail(); return; }
        attempt++;
        setErr(busy(e) ? 'The server is busy; retrying.' : e.message);
        timer = setTimeout(tick, busy(e) ? retryDelay(e, attempt) : 5000);
      }
    };
    tick();
    return () => { alive = false; clearTimeout(timer); };
  }, [id]);

  const s = stats || {};
  const cards = [
    ['Waiting', s.waiting], ['Admitted (total)', s.admitted], ['Shopping now', s.active], ['Seats held', s.held],
    ['Seats sold', s.sold], ['Revenue', s.revenue === undefined ? undefined : won(s.revenue)],
    ['Admission rate', s.admitRate === undefined ? undefined : fmt(s.admitRate) + ' /s'],
    ['Abandonment', s.abandonRate === undefined ? undefined : fmt(s.abandonRate, 2) + ' /s (' + (s.abandoned ?? 0) + ' total)'],
    ['Wait p50', s.waitP50Seconds === undefined ? undefined : fmt(s.waitP50Seconds) + ' s'],
    ['Wait p90', s.waitP90Seconds === undefined ? undefined : fmt(s.waitP90Seconds) + ' s'],
  ];
  return html`<section>
    <h1 tabindex="-1">${concert ? concert.title : 'Concert'}</h1>
    ${concert && html`<p class="muted">${concert.venue} · sales open ${new Date(concert.salesOpenAt).toLocaleString()} · ${s.total ?? '…'} seats, ${s.available ?? '…'} available${s.paused ? ' · admission paused (no seat free)' : ''}${s.soldOut ? ' · SOLD OUT' : ''}</p>`}
    ${err && html`<div class="note error" role="alert"><p>${err}</p></div>`}
    <dl class="metrics">
      ${cards.map(([k, v]) => html`<div key=${k}><dt>${k}</dt><dd data-metric=${k}>${v ?? '…'}</dd></div>`)}
    </dl>
    <div class="charts">
      <${Chart} title="Fans waiting and shopping" series=${[{ label: 'waiting', color: '#0b57d0' }, { label: 'shopping', color: '#1b6e34' }]} data=${[hist.t, hist.waiting, hist.active]} />
      <${Chart} title="Admission and abandonment (fans/s)" series=${[{ label: 'admitted/s', color: '#6a1b9a' }, { label: 'abandoned/s', color: '#b3261e' }]} data=${[hist.t, hist.admitRate, hist.abandonRate]} />
      <${Chart} title="Seats held and sold" series=${[{ label: 'held', color: '#9a4a00' }, { label: 'sold', color: '#00615a' }]} data=${[hist.t, hist.held, hist.sold]} />
    </div>
    ${concert && html`<${RoomEditor} id=${id} concert=${concert} onAuthFail=${onAuthFail} />`}
    ${concert && html`<${Lottery} id=${id} />`}
  </section>`;
}

function RoomEditor({ id, concert, onAuthFail }) {
  // The API tells fans the strategy only: the rest is what this tab last
  // sent for the concert, or the defaults.
  const known = JSON.parse(sessionStorage.getItem('boxoffice.room.' + id) || 'null');
  const [f, setF] = useState({ admitPerSecond: 50, maxActive: 500, sessionSeconds: 600, idleSeconds: 60, maxSessionSeconds: 900, proofOfWork: 0, ...(known || {}), strategy: (concert.waitingRoom && concert.waitingRoom.strategy) || 'RATE' });
  const [errors, setErrors] = useState({});
  const [done, setDone] = useState('');
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const inp = (fid, props = {}) => html`<input id=${'f-' + fid} value=${f[fid]} onInput=${set(fid)} aria-invalid=${errors[fid] ? 'true' : undefined} aria-describedby=${described(errors, fid)} ...${props} />`;
  const submit = async (e) => {
    e.preventDefault();
    setErrors({}); setDone('');
    const body = {};
    for (const k of Object.keys(f)) body[k] = k === 'strategy' ? f[k] : Number(f[k]);
    try {
      const w = await request('PUT', '/v1/admin/concerts/' + id + '/waiting-room', { auth: getKey(), body });
      sessionStorage.setItem('boxoffice.room.' + id, JSON.stringify({ ...body, ...w }));
      setDone('Saved: the room now runs ' + w.strategy + '.'); announce('Waiting room saved: ' + w.strategy);
    } catch (er) {
      if (er.code === 'UNAUTHENTICATED') { onAuthFail(); return; }
      const fe = er.code === 'INVALID_REQUEST' ? fieldOf(er) : { form: er.message };
      setErrors(fe); announce('Not saved: ' + Object.values(fe).join('; '));
    }
  };
  return html`<form class="card grid" onSubmit=${submit} novalidate aria-labelledby="room-h">
    <h2 id="room-h" class="wide">Change the waiting room (live)</h2>
    ${!known && html`<p class="hint wide">The API shows this room's strategy but not its other settings: the fields start at the defaults, and every field is sent.</p>`}
    ${errors.form && html`<div class="note error wide" role="alert"><p>${errors.form}</p></div>`}
    <${RoomFields} f=${f} set=${set} errors=${errors} inp=${inp} />
    <div class="wide"><button type="submit" class="primary">Apply now</button> ${done && html`<span role="status">${done}</span>`}</div>
  </form>`;
}

async function sha256hex(hex) {
  const bytes = new Uint8Array(hex.match(/../g).map((x) => parseInt(x, 16)));
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

function Lottery({ id }) {
  const [l, setL] = useState(null);
  const [check, setCheck] = useState('');
  const load = async () => {
    try {
      const x = await request('GET', '/v1/concerts/' + id + '/lottery');
      setL(x);
      if (x.seed && crypto.subtle) setCheck((await sha256hex(x.seed)) === x.commitment ? 'SHA-256(seed) equals the commitment: the seed is the one sealed before the opening.' : 'SHA-256(seed) does NOT equal the commitment.');
    } catch (e) { setL({ error: e.message }); }
  };
  useEffect(() => { load(); }, [id]);
  const url = location.origin + '/v1/concerts/' + id + '/lottery';
  return html`<div class="card">
    <h2>Lottery publication</h2>
    ${!l && html`<p>Loading…</p>`}
    ${l && l.error && html`<p class="note error">${l.error}</p>`}
    ${l && !l.error && html`<dl class="facts">
      <dt>Commitment</dt><dd><code class="hash">${l.commitment}</code></dd>
      <dt>Seed</dt><dd>${l.seed ? html`<code class="hash">${l.seed}</code>` : 'sealed until the opening'}</dd>
      <dt>Drawn</dt><dd>${l.drawnAt ? new Date(l.drawnAt).toLocaleString() + ' — ' + (l.entries || []).length + ' places' : 'not yet'}</dd>
    </dl>
    ${check && html`<p role="status">${check}</p>`}`}
    <p>How anyone verifies it: the commitment is published before sales open; after the opening the seed is published.
    SHA-256 of the seed must equal the commitment, and ordering the entries by HMAC-SHA256(seed, entry) must give the published positions. The command does both:</p>
    <pre><code>boxoffice verify-lottery --url ${url}</code></pre>
    <button type="button" onClick=${load}>Refresh</button>
  </div>`;
}

// ---- the console ----

function ConcertNav({ current }) {
  const [list, setList] = useState(null);
  useEffect(() => {
    let alive = true, timer;
    const load = () => request('GET', '/v1/concerts').then((r) => alive && setList(r.concerts || [])).catch(() => {}).finally(() => { if (alive) timer = setTimeout(load, 5000); });
    load();
    return () => { alive = false; clearTimeout(timer); };
  }, [current]);
  return html`<nav class="side" aria-label="Concerts">
    <p><a class="button primary" href="#/new">New concert</a></p>
    <h2>Concerts</h2>
    <ul>${(list || []).map((c) => html`<li key=${c.concertId}><a href=${'#/c/' + c.concertId} aria-current=${current === c.concertId ? 'page' : undefined}>${c.title}</a></li>`)}</ul>
  </nav>`;
}

function route() {
  const m = location.hash.match(/^#\/c\/([^/]+)/);
  if (m) return { name: 'concert', id: m[1] };
  if (location.hash.startsWith('#/new')) return { name: 'new' };
  return { name: 'home' };
}

function App() {
  const [key, setKey] = useState(getKey());
  const [keyErr, setKeyErr] = useState('');
  const [r, setR] = useState(route());
  useEffect(() => { const on = () => setR(route()); addEventListener('hashchange', on); return () => removeEventListener('hashchange', on); }, []);
  useEffect(() => { const hd = document.querySelector('main h1'); if (hd) hd.focus(); }, [r.name, r.id, !!key]);
  const authFail = () => { sessionStorage.removeItem(KEY); setKey(''); setKeyErr('The admin key was refused. Enter it again.'); };
  if (!key) return html`<main id="main"><${KeyForm} onKey=${(k) => { setKeyErr(''); setKey(k); }} err=${keyErr} /></main>`;
  let page;
  if (r.name === 'new') page = html`<${CreateConcert} onAuthFail=${authFail} onCreated=${(c) => { location.hash = '#/c/' + c.concertId; }} />`;
  else if (r.name === 'concert') page = html`<${Dashboard} key=${r.id} id=${r.id} onAuthFail=${authFail} />`;
  else page = html`<section><h1 tabindex="-1">Boxoffice console</h1><p>Choose a concert to watch its sale, or create one.</p></section>`;
  return html`<header class="top"><a class="brand" href="#/">Boxoffice console</a>
      <button type="button" class="link" onClick=${() => { sessionStorage.removeItem(KEY); setKey(''); }}>Forget the key</button></header>
    <div class="layout"><${ConcertNav} current=${r.id} /><main id="main">${page}</main></div>`;
}

announceEl = document.getElementById('announcer');
render(html`<${App} />`, document.getElementById('app'));
