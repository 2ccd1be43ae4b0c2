import { h, render } from 'preact';
import { useState, useEffect, useRef, useMemo } from 'preact/hooks';
import htm from 'htm';
import { request, ApiError, busy, retryDelay, sleep, newKey } from '../shared/api.js';
import { initialLang, translator, clock } from './i18n.js';
import './style.css';

const html = htm.bind(h);

// ---- storage of the fan's identity and places (this device only) ----

const store = {
  get(k) { try { return JSON.parse(localStorage.getItem('boxoffice.' + k)); } catch { return null; } },
  set(k, v) { if (v == null) localStorage.removeItem('boxoffice.' + k); else localStorage.setItem('boxoffice.' + k, JSON.stringify(v)); },
};
const ticketKey = (cid) => 'queue.' + cid;
const holdKeyOf = (cid) => 'hold.' + cid;

function rememberReservation(id) {
  const ids = store.get('reservations') || [];
  if (!ids.includes(id)) store.set('reservations', [id, ...ids].slice(0, 50));
}

// ---- announcements for screen readers ----

let announceEl;
function announce(msg) {
  if (!announceEl) return;
  announceEl.textContent = '';
  setTimeout(() => { announceEl.textContent = msg; }, 50);
}

// explain turns an API error into words for the fan.
function explain(t, err, ctx = {}) {
  if (!(err instanceof ApiError)) return t('errInternal');
  const n = Math.max(1, err.retryAfter || 1);
  switch (err.code) {
    case 'SEAT_UNAVAILABLE': return t(ctx.seats && ctx.seats.length > 1 ? 'errSeatTakenMany' : 'errSeatTaken', { seats: (ctx.seats || []).join(', ') });
    case 'SEAT_LIMIT_EXCEEDED': return t('errSeatLimit', { n: ctx.limit ?? '' });
    case 'HOLD_EXPIRED': return t('errHoldExpired');
    case 'ALREADY_PAID': return t('errAlreadyPaid');
    case 'INSUFFICIENT_BALANCE': return t('errBalance', { amount: t.money(ctx.shortfall || 0) });
    case 'QUEUE_TOKEN_EXPIRED': return t('errSessionOver');
    case 'QUEUE_TOKEN_INVALID': return t('errTokenInvalid');
    case 'NOT_ADMITTED': return t('errNotAdmitted', { n: err.position ?? '' });
    case 'SOLD_OUT': return t('errSoldOut');
    case 'PROOF_INVALID': return t('errProof');
    case 'RATE_LIMITED': return ctx.signup ? t('errRateSignup', { n: Math.ceil(n / 60) }) : t('errBusyAction', { n });
    case 'UNAVAILABLE': return t('errBusyAction', { n });
    case 'OUTCOME_UNKNOWN': return t('errUnknown');
    case 'UNAUTHENTICATED': return t('errUnauth');
    case 'FORBIDDEN': return t('errForbidden');
    case 'NOT_FOUND': return ctx.signup ? t('errSignupOff') : t('errNotFound');
    case 'INVALID_REQUEST': return t('errInvalid', { detail: err.detail });
    case 'IDEMPOTENCY_KEY_REUSED': return t('errKeyReused');
    case 'NETWORK': return t('errNetwork');
    default: return t('errInternal');
  }
}

// ---- small pieces ----

function Alert({ msg, kind = 'error', onClose, t, children }) {
  if (!msg) return null;
  return html`<div class=${'note ' + kind} role=${kind === 'error' ? 'alert' : 'status'}>
    <p>${msg}</p>${children}
    ${onClose && html`<button type="button" class="link" onClick=${onClose}>${t('dismiss')}</button>`}
  </div>`;
}

// useLandingFocus moves focus to ref's element when the control that had it
// went away (focus fell back to the page), so keyboard and screen reader
// users continue from the new step's heading.
function useLandingFocus(ref) {
  useEffect(() => {
    const a = document.activeElement;
    if (ref.current && (!a || a === document.body)) ref.current.focus();
  }, []);
}

// useNow ticks every second while mounted.
function useNow() {
  const [now, setNow] = useState(Date.now());
  useEffect(() => { const id = setInterval(() => setNow(Date.now()), 1000); return () => clearInterval(id); }, []);
  return now;
}

function Countdown({ to, label, onEnd }) {
  const now = useNow();
  const left = Math.max(0, (new Date(to).getTime() - now) / 1000);
  const ended = useRef(false);
  useEffect(() => { if (left <= 0 && !ended.current) { ended.current = true; onEnd && onEnd(); } }, [left <= 0]);
  return html`<p class="countdown"><span>${label}</span> <strong role="timer" aria-live="off" class=${left < 60 ? 'urgent' : ''}>${clock(left)}</strong></p>`;
}

// ---- sign up ----

function SignUp({ t, onUser }) {
  const [name, setName] = useState('');
  const [err, setErr] = useState('');
  const [busyNow, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    if (!name.trim()) return;
    setBusy(true); setErr('');
    try {
      const u = await request('POST', '/v1/users', { body: { name: name.trim() } });
      onUser({ userId: u.userId, name: u.name, accessToken: u.accessToken });
    } catch (er) { setErr(explain(t, er, { signup: true })); }
    setBusy(false);
  };
  return html`<section class="card narrow">
    <h1 tabindex="-1">${t('signupTitle')}</h1>
    <p>${t('signupIntro')}</p>
    <form onSubmit=${submit}>
      <label for="name">${t('nameLabel')}</label>
      <input id="name" name="name" autocomplete="nickname" maxlength="100" required value=${name} onInput=${(e) => setName(e.target.value)} />
      <button type="submit" class="primary" disabled=${busyNow}>${t('signupButton')}</button>
    </form>
    <${Alert} msg=${err} t=${t} />
  </section>`;
}

// ---- concert list ----

function ConcertList({ t }) {
  const [list, setList] = useState(null);
  const [err, setErr] = useState('');
  useEffect(() => {
    let alive = true;
    (async () => {
      for (let attempt = 0; alive; attempt++) {
        try { const r = await request('GET', '/v1/concerts'); if (alive) { setList(r.concerts || []); setErr(''); } return; }
        catch (e) { if (!busy(e)) { setErr(explain(t, e)); return; } setErr(t('errBusy', { n: Math.round(retryDelay(e, attempt) / 1000) })); await sleep(retryDelay(e, attempt)); }
      }
    })();
    return () => { alive = false; };
  }, []);
  const now = Date.now();
  return html`<section>
    <h1 tabindex="-1">${t('concertsTitle')}</h1>
    <${Alert} msg=${err} t=${t} />
    ${list === null && !err && html`<p>${t('loading')}</p>`}
    ${list && list.length === 0 && html`<p>${t('noConcerts')}</p>`}
    <ul class="concerts">
      ${(list || []).map((c) => {
        const open = new Date(c.salesOpenAt).getTime() <= now;
        return html`<li class="card" key=${c.concertId}>
          <h2><a href=${'#/c/' + c.concertId}>${c.title}</a></h2>
          <p class="muted">${c.venue}</p>
          <p><span class=${'badge ' + (c.soldOut ? 'sold' : open ? 'open' : 'soon')}>${c.soldOut ? t('soldOut') : open ? t('onSale') : t('comingSoon')}</span>
          ${' '}${t(open ? 'salesOpen' : 'salesOpensAt', { time: t.time(c.salesOpenAt) })}</p>
        </li>`;
      })}
    </ul>
  </section>`;
}

// ---- one concert: info, join, wait, book, hold, pay, ticket ----

function ConcertPage({ t, id, user, onSignedOut }) {
  const [concert, setConcert] = useState(null);
  const [err, setErr] = useState('');
  const [note, setNote] = useState('');
  const [qs, setQs] = useState(null); // QueueStatus
  const [phase, setPhase] = useState('info'); // info, proof, waiting, booking, hold, ticket
  const [challenge, setChallenge] = useState(null);
  const [joining, setJoining] = useState(false);
  const [reservation, setReservation] = useState(null);
  const [payment, setPayment] = useState(null);
  const auth = user.accessToken;

  const loadConcert = async () => {
    for (let attempt = 0; ; attempt++) {
      try { const c = await request('GET', '/v1/concerts/' + encodeURIComponent(id)); setConcert(c); return c; }
      catch (e) { if (!busy(e) || attempt > 5) { setErr(explain(t, e)); return null; } await sleep(retryDelay(e, attempt)); }
    }
  };

  const wasAdmitted = useRef(false);
  const applyStatus = (st) => {
    setQs(st);
    const admittedBefore = wasAdmitted.current;
    wasAdmitted.current = st.status === 'ADMITTED';
    if (st.token) store.set(ticketKey(id), st.token);
    switch (st.status) {
      case 'PREQUEUE': case 'WAITING': setPhase((p) => (p === 'hold' ? p : 'waiting')); break;
      case 'ADMITTED': setPhase((p) => { if (p === 'waiting' || p === 'info' || p === 'proof') announce(t('admitted')); return p === 'hold' || p === 'ticket' ? p : 'booking'; }); break;
      case 'EXPIRED': {
        // An admitted session that ended, or a waiting place that lapsed.
        const msg = t(admittedBefore ? 'errSessionOver' : 'errQueueExpired');
        store.set(ticketKey(id), null); store.set(holdKeyOf(id), null);
        setReservation(null); setPhase('info'); setNote(msg); announce(msg);
        break;
      }
      case 'SOLD_OUT': store.set(ticketKey(id), null); setPhase('info'); setNote(t('errSoldOut')); break;
    }
  };

  // sessionOver ends the fan's pass after an error that says it is gone.
  const sessionOver = (e) => {
    store.set(ticketKey(id), null);
    store.set(holdKeyOf(id), null);
    setQs(null); setReservation(null); setPhase('info');
    const msg = explain(t, e);
    setNote(msg); announce(msg);
  };

  const handleQueueError = (e) => {
    if (e.code === 'QUEUE_TOKEN_EXPIRED' || e.code === 'QUEUE_TOKEN_INVALID') { sessionOver(e); return true; }
    if (e.code === 'UNAUTHENTICATED') { onSignedOut(); return true; }
    if (e.code === 'NOT_ADMITTED') { setPhase('waiting'); return true; }
    return false;
  };

  useEffect(() => {
    let alive = true;
    (async () => {
      await loadConcert();
      const tok = store.get(ticketKey(id));
      if (!tok || !alive) return;
      try {
        const st = await request('GET', '/v1/queue', { auth, queueToken: tok });
        if (!alive) return;
        applyStatus(st);
        // A reload while holding seats comes back to the hold.
        const held = store.get(holdKeyOf(id));
        if (st.status === 'ADMITTED' && held) {
          try {
            const r = await request('GET', '/v1/reservations/' + encodeURIComponent(held), { auth });
            if (alive && r.status === 'HELD') { setReservation(r); setPhase('hold'); } else store.set(holdKeyOf(id), null);
          } catch { store.set(holdKeyOf(id), null); }
        }
      }
      catch (e) { if (alive && !busy(e)) store.set(ticketKey(id), null); else if (alive) { setQs({ token: tok, status: 'WAITING', position: 0, pollAfterSeconds: 2 }); setPhase('waiting'); } }
    })();
    return () => { alive = false; };
  }, [id]);

  const join = async (proof) => {
    setJoining(true); setErr(''); setNote('');
    try {
      const headers = proof ? { 'Queue-Proof': proof } : {};
      const st = await request('POST', '/v1/concerts/' + encodeURIComponent(id) + '/queue', { auth, headers });
      setChallenge(null);
      applyStatus(st);
      if (st.status === 'WAITING') announce(t('positionNow', { n: st.position }));
    } catch (e) {
      if (e.code === 'PROOF_INVALID' && !proof) {
        try {
          const ch = await request('GET', '/v1/concerts/' + encodeURIComponent(id) + '/queue/challenge', { auth });
          setChallenge(ch); setPhase('proof'); announce(t('powSolving'));
        } catch (e2) { setErr(explain(t, e2)); }
      } else if (e.code === 'UNAUTHENTICATED') onSignedOut();
      else { setErr(explain(t, e)); if (proof) { setChallenge(null); setPhase('info'); } }
    }
    setJoining(false);
  };

  const leave = async () => {
    const tok = store.get(ticketKey(id));
    store.set(ticketKey(id), null);
    store.set(holdKeyOf(id), null);
    setQs(null); setPhase('info'); setReservation(null);
    setNote(t('left')); announce(t('left'));
    if (tok) { try { await request('DELETE', '/v1/queue', { auth, queueToken: tok }); } catch { /* the place lapses by itself */ } }
  };

  if (!concert) return html`<section><h1 tabindex="-1">${t('loading')}</h1><${Alert} msg=${err} t=${t} /></section>`;
  const tok = qs && qs.token;
  const ctx = { t, concert, user, auth, tok, handleQueueError };

  return html`<section>
    <p><a href="#/">← ${t('back')}</a></p>
    <h1 tabindex="-1">${concert.title}</h1>
    <${Alert} msg=${note} kind="info" t=${t} onClose=${() => setNote('')} />
    <${Alert} msg=${err} t=${t} onClose=${() => setErr('')} />
    ${phase === 'info' && html`<${ConcertInfo} t=${t} concert=${concert} joining=${joining} onJoin=${() => join()} />`}
    ${phase === 'proof' && challenge && html`<${Proof} t=${t} challenge=${challenge} onSolved=${(p) => join(p)}
        onFailed=${() => { setChallenge(null); setPhase('info'); setErr(t('errProof')); }} />`}
    ${phase === 'waiting' && qs && html`<${Waiting} ...${ctx} qs=${qs} onStatus=${applyStatus} onError=${(e) => { if (!handleQueueError(e)) setErr(explain(t, e)); }} onLeave=${leave} />`}
    ${phase === 'booking' && qs && html`<${Booking} ...${ctx} qs=${qs} onStatus=${applyStatus} onLeave=${leave}
        onHeld=${(r) => { rememberReservation(r.reservationId); store.set(holdKeyOf(id), r.reservationId); setReservation(r); setPhase('hold'); }} />`}
    ${phase === 'hold' && reservation && html`<${Hold} ...${ctx} qs=${qs} reservation=${reservation} onLeave=${leave}
        onPaid=${(p) => { setPayment(p); store.set(ticketKey(id), null); store.set(holdKeyOf(id), null); setPhase('ticket'); }}
        onBack=${(msg) => { store.set(holdKeyOf(id), null); setReservation(null); setPhase('booking'); if (msg) { setNote(msg); announce(msg); } }} />`}
    ${phase === 'ticket' && reservation && payment && html`<${Ticket} t=${t} concert=${concert} reservation=${reservation} payment=${payment} />`}
  </section>`;
}

function ConcertInfo({ t, concert, joining, onJoin }) {
  const open = new Date(concert.salesOpenAt).getTime() <= Date.now();
  const wr = concert.waitingRoom || {};
  return html`<div class="card">
    <dl class="facts">
      <dt>${t('venue')}</dt><dd>${concert.venue}</dd>
      <dt>${t('dates')}</dt><dd><ul class="plain">${(concert.dates || []).map((d) => html`<li key=${d.date}>${t.time(d.startsAt)}</li>`)}</ul></dd>
      <dt>${t('prices')}</dt><dd><ul class="plain">${(concert.grades || []).map((g, i) => html`<li key=${g.name}><span class=${'swatch g' + (i % 6)} aria-hidden="true"></span> ${g.name} — ${t.money(g.price)} <span class="muted">(${t('gradeSeats', { range: g.seats })})</span></li>`)}</ul></dd>
    </dl>
    <p>${t(open ? 'salesOpen' : 'salesOpensAt', { time: t.time(concert.salesOpenAt) })}</p>
    <p class="muted">${t('perUser', { n: concert.maxSeatsPerUser, min: Math.round((concert.holdSeconds || 300) / 60) })}</p>
    ${concert.soldOut ? html`<p><span class="badge sold">${t('soldOut')}</span></p>` : html`
      <p class="muted">${wr.queueLength > 0 ? t('queueNow', { n: t.num(wr.queueLength), wait: t.wait(wr.estimatedWaitSeconds || 0) }) : t('queueEmpty')}</p>
      <button type="button" class="primary big" disabled=${joining} onClick=${onJoin}>${joining ? t('joining') : open ? t('join') : t('joinPre')}</button>`}
  </div>`;
}

// Proof solves the room's proof of work with the altcha widget, then hands
// the join exactly the fields the API asks for.
function Proof({ t, challenge, onSolved, onFailed }) {
  const ref = useRef(null);
  const [ready, setReady] = useState(false);
  useEffect(() => { import('altcha').then(() => setReady(true)); }, []);
  useEffect(() => {
    const el = ref.current;
    if (!el || !ready) return;
    const onState = (ev) => {
      const d = ev.detail || {};
      if (d.state === 'verified' && d.payload) {
        let p;
        try { p = JSON.parse(atob(d.payload)); } catch { return; }
        const proof = { algorithm: p.algorithm, challenge: p.challenge, number: p.number, salt: p.salt, signature: p.signature };
        onSolved(btoa(JSON.stringify(proof)));
      } else if (d.state === 'error' || d.state === 'expired') onFailed();
    };
    el.addEventListener('statechange', onState);
    return () => el.removeEventListener('statechange', onState);
  }, [ready]);
  const strings = JSON.stringify(t.lang === 'ko'
    ? { label: '로봇이 아닙니다', verifying: '확인 중…', verified: '확인됨', error: '확인 실패. 다시 시도하세요.', expired: '만료됨. 다시 시도하세요.', footer: '', ariaLinkLabel: 'ALTCHA' }
    : { label: "I'm not a robot", verifying: 'Checking…', verified: 'Checked', error: 'Check failed. Try again.', expired: 'Expired. Try again.', footer: '', ariaLinkLabel: 'ALTCHA' });
  return html`<div class="card">
    <h2>${t('powTitle')}</h2>
    <p>${t('powIntro')}</p>
    ${ready ? html`<altcha-widget ref=${ref} challengejson=${JSON.stringify(challenge)} auto="onload" hidefooter hidelogo strings=${strings}></altcha-widget>`
      : html`<p role="status">${t('powSolving')}</p>`}
  </div>`;
}

// Waiting follows the fan's place: the event stream while it works,
// polling at the server's pollAfterSeconds when it does not (503, dropped),
// with the stream tried again later.
function Waiting({ t, concert, auth, tok, qs, onStatus, onError, onLeave }) {
  const [live, setLive] = useState(false);
  const [retryMsg, setRetryMsg] = useState('');
  const cb = useRef({ onStatus, onError });
  cb.current = { onStatus, onError };
  const lastAnnounce = useRef(0);

  useEffect(() => {
    let stopped = false, es = null, timer = null, streamTimer = null, attempt = 0;
    const ctrl = new AbortController();
    const final = (st) => st.status !== 'WAITING' && st.status !== 'PREQUEUE';
    const got = (st) => {
      cb.current.onStatus(st);
      if (st.status === 'WAITING' && Date.now() - lastAnnounce.current > 20000) {
        lastAnnounce.current = Date.now();
        announce(t('positionNow', { n: st.position }));
      }
      if (final(st)) stop();
    };
    const stop = () => { stopped = true; if (es) es.close(); clearTimeout(timer); clearTimeout(streamTimer); ctrl.abort(); };
    const poll = async () => {
      if (stopped) return;
      try {
        const st = await request('GET', '/v1/queue', { auth, queueToken: tok, signal: ctrl.signal });
        attempt = 0; setRetryMsg('');
        got(st);
        if (!stopped) timer = setTimeout(poll, Math.max(1, st.pollAfterSeconds || 2) * 1000 * (0.9 + Math.random() * 0.2));
      } catch (e) {
        if (stopped || (e && e.name === 'AbortError')) return;
        if (busy(e)) {
          attempt++;
          const d = retryDelay(e, attempt);
          setRetryMsg(e.status === 0 ? t('errNetwork') : t('errBusy', { n: Math.round(d / 1000) }));
          timer = setTimeout(poll, d);
        } else { stop(); cb.current.onError(e); }
      }
    };
    const stream = () => {
      if (stopped) return;
      if (typeof EventSource === 'undefined') { poll(); return; }
      const u = '/v1/queue/events?access_token=' + encodeURIComponent(auth) + '&token=' + encodeURIComponent(tok);
      es = new EventSource(u);
      es.addEventListener('status', (ev) => { setLive(true); setRetryMsg(''); try { got(JSON.parse(ev.data)); } catch { /* a malformed event is skipped */ } });
      es.onerror = () => {
        if (stopped) return;
        // Dropped or refused (503): poll, and try the stream again later.
        es.close(); es = null; setLive(false);
        clearTimeout(timer);
        timer = setTimeout(poll, 1000 + Math.random() * 1000);
        streamTimer = setTimeout(() => { clearTimeout(timer); stream(); }, 20000 + Math.random() * 20000);
      };
    };
    stream();
    return stop;
  }, [tok]);

  const head = useRef(null);
  useLandingFocus(head);
  if (qs.status === 'PREQUEUE') {
    return html`<div class="card">
      <h2 tabindex="-1" ref=${head}>${t('prequeueTitle')}</h2>
      <p>${t('prequeueIntro')}</p>
      <${Countdown} to=${concert.salesOpenAt} label=${t('opensIn')} />
      <p aria-live="polite">${t('prequeued', { n: t.num(qs.prequeued || 0) })}</p>
      ${concert.lottery && concert.lottery.commitment && html`<p class="small">${t('commitment')} <code class="hash">${concert.lottery.commitment}</code></p>
        <p class="small muted">${t('commitmentHow')}</p>`}
      <p class="muted">${live ? t('live') : t('polling')}</p>
      <${Alert} msg=${retryMsg} kind="info" t=${t} />
      <button type="button" onClick=${onLeave}>${t('leave')}</button>
    </div>`;
  }
  return html`<div class="card">
    <h2 tabindex="-1" ref=${head}>${t('waitingTitle')}</h2>
    <dl class="stats" aria-live="polite" aria-atomic="true">
      <div><dt>${t('position')}</dt><dd data-testid="position">${t.num(qs.position || 0)}</dd></div>
      <div><dt>${t('ahead')}</dt><dd>${t.num(Math.max(0, (qs.position || 1) - 1))}</dd></div>
      <div><dt>${t('eta')}</dt><dd>${t.wait(qs.estimatedWaitSeconds || 0)}</dd></div>
    </dl>
    <p class="muted">${live ? t('live') : t('polling')} · ${t('keepOpen')}</p>
    <${Alert} msg=${retryMsg} kind="info" t=${t} />
    <button type="button" onClick=${onLeave}>${t('leave')}</button>
  </div>`;
}

// performance is the start of the concert's performance on a reservation's
// date, in words, or the date alone.
function performance(t, concert, day) {
  const d = (concert.dates || []).find((x) => x.date === day);
  return d ? t.time(d.startsAt) : t.day(day);
}

const gradeIndex = (concert, name) => Math.max(0, (concert.grades || []).findIndex((g) => g.name === name)) % 6;

function Booking({ t, concert, auth, tok, qs, onStatus, onLeave, onHeld, handleQueueError }) {
  const [dates, setDates] = useState(null);
  const [date, setDate] = useState(null);
  const [seats, setSeats] = useState(null);
  const [chosen, setChosen] = useState([]);
  const [err, setErr] = useState('');
  const [holding, setHolding] = useState(false);
  const [blockedUntil, setBlockedUntil] = useState(0);
  const holdKey = useRef(null);
  const limit = concert.maxSeatsPerUser || 4;
  const cid = concert.concertId;
  const head = useRef(null);
  useLandingFocus(head);

  const q = (method, path, body, headers) => request(method, path, { auth, queueToken: tok, body, headers });
  const fail = (e) => { if (!handleQueueError(e)) setErr(explain(t, e, { limit })); };

  // At the countdown's end, ask: the session may have been extended by use,
  // or it is over and the fan is told so.
  const checkSession = async () => {
    try { onStatus(await request('GET', '/v1/queue', { auth, queueToken: tok })); }
    catch (e) { if (!busy(e)) handleQueueError(e); }
  };

  // The session's end moves while the fan is active: read it now and then.
  useEffect(() => {
    let alive = true, timer;
    const tick = async () => {
      try { const st = await request('GET', '/v1/queue', { auth, queueToken: tok }); if (alive) onStatus(st); }
      catch (e) { if (alive && !busy(e)) handleQueueError(e); }
      if (alive) timer = setTimeout(tick, 20000);
    };
    timer = setTimeout(tick, 20000);
    return () => { alive = false; clearTimeout(timer); };
  }, [tok]);

  useEffect(() => {
    (async () => {
      try { const r = await q('GET', '/v1/concerts/' + cid + '/dates'); setDates(r.dates || []); if (r.dates && r.dates.length) setDate(r.dates[0].date); }
      catch (e) { fail(e); }
    })();
  }, [tok]);

  const loadSeats = async (d) => {
    const r = await q('GET', '/v1/concerts/' + cid + '/dates/' + d + '/seats');
    setSeats(r.seats || []);
    return r.seats || [];
  };

  // The seat map is read again every few seconds while it is open.
  useEffect(() => {
    if (!date) return;
    let alive = true, timer, attempt = 0;
    setSeats(null); setChosen([]);
    const tick = async () => {
      try { await loadSeats(date); attempt = 0; if (alive) timer = setTimeout(tick, 5000); }
      catch (e) {
        if (!alive) return;
        if (busy(e)) { attempt++; timer = setTimeout(tick, retryDelay(e, attempt)); } else fail(e);
      }
    };
    tick();
    return () => { alive = false; clearTimeout(timer); };
  }, [date]);

  // A seat chosen by this fan and then taken by someone else is dropped.
  useEffect(() => {
    if (!seats) return;
    const gone = chosen.filter((n) => { const s = seats.find((x) => x.number === n); return !s || s.status !== 'AVAILABLE'; });
    if (gone.length) {
      setChosen((c) => c.filter((n) => !gone.includes(n)));
      const msg = t(gone.length > 1 ? 'errSeatTakenMany' : 'errSeatTaken', { seats: gone.join(', ') });
      setErr(msg); announce(msg);
    }
  }, [seats]);

  const toggle = (s) => {
    if (s.status !== 'AVAILABLE') return;
    holdKey.current = null;
    if (chosen.includes(s.number)) { setChosen(chosen.filter((n) => n !== s.number)); return; }
    if (chosen.length >= limit) { const m = t('limitReached', { n: limit }); setErr(m); announce(m); return; }
    setErr('');
    setChosen([...chosen, s.number].sort((a, b) => a - b));
  };

  const hold = async () => {
    if (!chosen.length) return;
    setHolding(true); setErr('');
    if (!holdKey.current) holdKey.current = newKey();
    const body = { concertId: cid, date, seatNumbers: chosen };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const r = await q('POST', '/v1/reservations', body, { 'Idempotency-Key': holdKey.current });
        holdKey.current = null;
        setHolding(false);
        onHeld(r);
        return;
      } catch (e) {
        if (e.code === 'OUTCOME_UNKNOWN') { setErr(t('errUnknown')); await sleep(retryDelay(e, attempt)); continue; }
        holdKey.current = null;
        if (e.code === 'SEAT_UNAVAILABLE') {
          let fresh = [];
          try { fresh = await loadSeats(date); } catch { /* keep the old map */ }
          const taken = chosen.filter((n) => { const s = fresh.find((x) => x.number === n); return s && s.status !== 'AVAILABLE'; });
          const msg = taken.length
            ? t(taken.length > 1 ? 'errSeatTakenMany' : 'errSeatTaken', { seats: taken.join(', ') })
            : t('errSeatRehold', { seats: chosen.join(', ') });
          setChosen((c) => c.filter((n) => !taken.includes(n)));
          setErr(msg); announce(msg);
        } else if (busy(e)) {
          const n = Math.max(1, e.retryAfter || 2);
          setBlockedUntil(Date.now() + n * 1000);
          setTimeout(() => setBlockedUntil(0), n * 1000);
          const msg = t('errBusyAction', { n }); setErr(msg); announce(msg);
        } else fail(e);
        break;
      }
    }
    setHolding(false);
  };

  const total = chosen.reduce((sum, n) => sum + ((seats || []).find((s) => s.number === n)?.price || 0), 0);
  const statusWord = (s) => (chosen.includes(s.number) ? t('selected') : t(s.status === 'AVAILABLE' ? 'available' : s.status === 'HELD' ? 'held' : 'sold'));

  return html`<div>
    <div class="card session">
      <h2 tabindex="-1" ref=${head}>${t('admittedTitle')}</h2>
      ${qs.sessionExpiresAt && html`<${Countdown} key=${qs.sessionExpiresAt} to=${qs.sessionExpiresAt} label=${t('sessionLeft')} onEnd=${checkSession} />`}
      <button type="button" class="link" onClick=${onLeave}>${t('leave')}</button>
    </div>
    <${Alert} msg=${err} t=${t} onClose=${() => setErr('')} />
    <div class="card">
      <h2 id="dates-h">${t('chooseDate')}</h2>
      ${dates === null && html`<p>${t('loading')}</p>`}
      ${dates && dates.length === 0 && html`<p>${t('noDates')}</p>`}
      <div class="dates" role="group" aria-labelledby="dates-h">
        ${(dates || []).map((d) => html`<button type="button" key=${d.date} class="date" aria-pressed=${d.date === date ? 'true' : 'false'} onClick=${() => setDate(d.date)}>
          <span>${t.time(d.startsAt)}</span><span class="muted">${t('seatsLeft', { n: d.availableSeats })}</span></button>`)}
      </div>
    </div>
    ${date && html`<div class="card">
      <h2 id="map-h">${t('seatMap', { date: t.day(date) })}</h2>
      <ul class="legend" aria-label=${t('legend')}>
        ${(concert.grades || []).map((g, i) => html`<li key=${g.name}><span class=${'swatch g' + (i % 6)} aria-hidden="true"></span>${g.name} ${t.money(g.price)}</li>`)}
        <li><span class="swatch held" aria-hidden="true"></span>${t('held')}</li>
        <li><span class="swatch sold" aria-hidden="true"></span>${t('sold')}</li>
        <li><span class="swatch chosen" aria-hidden="true"></span>${t('selected')}</li>
      </ul>
      <div class="stage" aria-hidden="true">${t('stage')}</div>
      ${seats === null ? html`<p>${t('loading')}</p>` : html`<div class="seats" role="group" aria-labelledby="map-h">
        ${seats.map((s) => html`<button type="button" key=${s.number}
          class=${'seat g' + gradeIndex(concert, s.grade) + ' ' + s.status.toLowerCase() + (chosen.includes(s.number) ? ' chosen' : '')}
          aria-pressed=${chosen.includes(s.number) ? 'true' : 'false'}
          aria-disabled=${s.status !== 'AVAILABLE' ? 'true' : undefined}
          aria-label=${t('seatName', { n: s.number, grade: s.grade, price: t.money(s.price), status: statusWord(s) })}
          onClick=${() => toggle(s)}>${s.number}</button>`)}
      </div>`}
      <div class="basket" aria-live="polite">
        <p>${chosen.length ? t('chosen', { seats: chosen.join(', ') }) : t('noneChosen', { n: limit })}</p>
        ${chosen.length > 0 && html`<p><strong>${t('total')}: ${t.money(total)}</strong></p>`}
      </div>
      <button type="button" class="primary big" disabled=${!chosen.length || holding || blockedUntil > Date.now()} onClick=${hold}>${holding ? t('holding') : t('hold', { n: chosen.length })}</button>
    </div>`}
  </div>`;
}

function Hold({ t, concert, user, auth, tok, reservation, onPaid, onBack, onLeave, handleQueueError }) {
  const [balance, setBalance] = useState(null);
  const [amount, setAmount] = useState('');
  const [err, setErr] = useState('');
  const [msg, setMsg] = useState('');
  const [working, setWorking] = useState('');
  const [lapsed, setLapsed] = useState(false);
  const payKey = useRef(newKey());
  const head = useRef(null);
  useLandingFocus(head);
  const r = reservation;
  const short = balance === null ? 0 : Math.max(0, r.amount - balance);

  const readBalance = async () => {
    try { const b = await request('GET', '/v1/users/' + user.userId + '/balance', { auth }); setBalance(b.balance); return b.balance; }
    catch (e) { setErr(explain(t, e)); return null; }
  };
  const typed = useRef(false);
  // Suggest the shortfall, unless the fan already typed an amount.
  const suggest = (need) => { if (!typed.current && need > 0) setAmount(String(Math.ceil(need / 10000) * 10000)); };
  useEffect(() => { readBalance().then((b) => { if (b !== null) suggest(r.amount - b); }); }, []);
  useEffect(() => { announce(t('holdTitle')); }, []);

  const charge = async (e) => {
    e.preventDefault();
    const n = parseInt(amount, 10);
    if (!(n > 0)) return;
    setWorking('charge'); setErr('');
    try {
      const c = await request('POST', '/v1/users/' + user.userId + '/balance/charges', { auth, body: { amount: n }, headers: { 'Idempotency-Key': newKey() } });
      setBalance(c.balance);
      const m = t('charged', { amount: t.money(n), balance: t.money(c.balance) }); setMsg(m); announce(m);
    } catch (er) { setErr(explain(t, er)); }
    setWorking('');
  };

  const pay = async () => {
    setWorking('pay'); setErr(''); setMsg('');
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const p = await request('POST', '/v1/payments', { auth, queueToken: tok, body: { reservationId: r.reservationId }, headers: { 'Idempotency-Key': payKey.current } });
        setWorking('');
        onPaid(p);
        return;
      } catch (e) {
        if (e.code === 'OUTCOME_UNKNOWN') { setErr(t('errUnknown')); await sleep(retryDelay(e, attempt)); continue; }
        if (e.code === 'HOLD_EXPIRED') { setWorking(''); onBack(t('errHoldExpired')); return; }
        if (e.code === 'ALREADY_PAID') {
          setWorking('');
          onPaid({ paymentId: '', reservationId: r.reservationId, amount: r.amount, paidAt: new Date().toISOString() });
          return;
        }
        if (e.code === 'INSUFFICIENT_BALANCE') {
          const b = await readBalance();
          const need = b === null ? r.amount : Math.max(0, r.amount - b);
          typed.current = false;
          suggest(need);
          const m = t('errBalance', { amount: t.money(need) }); setErr(m); announce(m);
        } else if (!handleQueueError(e)) setErr(explain(t, e));
        break;
      }
    }
    payKey.current = newKey();
    setWorking('');
  };

  const release = async () => {
    setWorking('release');
    try { await request('DELETE', '/v1/reservations/' + r.reservationId, { auth, queueToken: tok }); onBack(t('released')); }
    catch (e) { if (!handleQueueError(e)) setErr(explain(t, e)); }
    setWorking('');
  };

  if (lapsed) {
    return html`<div class="card">
      <${Alert} msg=${t('errHoldLapsedClock')} t=${t} />
      <button type="button" class="primary" onClick=${() => onBack(t('errHoldLapsedClock'))}>${t('pickAgain')}</button>
    </div>`;
  }
  return html`<div class="card">
    <h2 tabindex="-1" ref=${head}>${t('holdTitle')}</h2>
    <${Countdown} to=${r.expiresAt} label=${t('holdLeft')} onEnd=${() => { setLapsed(true); announce(t('errHoldLapsedClock')); }} />
    <dl class="facts">
      <dt>${t('date')}</dt><dd>${performance(t, concert, r.date)}</dd>
      <dt>${t('seats')}</dt><dd>${r.seats.map((s) => s.number).join(', ')}</dd>
      <dt>${t('amount')}</dt><dd><strong>${t.money(r.amount)}</strong></dd>
      <dt>${t('balance')}</dt><dd data-testid="balance">${balance === null ? '…' : t.money(balance)}</dd>
    </dl>
    <${Alert} msg=${err} t=${t} onClose=${() => setErr('')} />
    <${Alert} msg=${msg} kind="info" t=${t} />
    ${short > 0 && html`<p>${t('needMore', { amount: t.money(short) })}</p>`}
    <form class="inline" onSubmit=${charge}>
      <label for="charge">${t('chargeAmount')}</label>
      <input id="charge" type="number" inputmode="numeric" min="1" max="1000000" step="1" value=${amount} onInput=${(e) => { typed.current = true; setAmount(e.target.value); }} />
      <button type="submit" disabled=${!!working}>${working === 'charge' ? t('charging') : t('charge')}</button>
    </form>
    <div class="actions">
      <button type="button" class="primary big" disabled=${!!working || short > 0 || balance === null} onClick=${pay}>${working === 'pay' ? t('paying') : t('pay', { amount: t.money(r.amount) })}</button>
      <button type="button" disabled=${!!working} onClick=${release}>${t('cancelHold')}</button>
      <button type="button" class="link" disabled=${!!working} onClick=${onLeave}>${t('leave')}</button>
    </div>
  </div>`;
}

function Ticket({ t, concert, reservation, payment }) {
  const ref = useRef(null);
  useEffect(() => { announce(t('ticketTitle')); if (ref.current) ref.current.focus(); }, []);
  return html`<div class="card ticket">
    <h2 tabindex="-1" ref=${ref}>${t('ticketTitle')}</h2>
    <p class="big-title">${concert.title}</p>
    <dl class="facts">
      <dt>${t('venue')}</dt><dd>${concert.venue}</dd>
      <dt>${t('date')}</dt><dd>${performance(t, concert, reservation.date)}</dd>
      <dt>${t('seats')}</dt><dd data-testid="ticket-seats">${reservation.seats.map((s) => s.number).join(', ')}</dd>
      <dt>${t('amount')}</dt><dd>${t.money(payment.amount)}</dd>
      <dt>${t('reservationId')}</dt><dd><code>${reservation.reservationId}</code></dd>
      ${payment.paymentId && html`<dt>${t('paymentId')}</dt><dd><code>${payment.paymentId}</code></dd>`}
    </dl>
    <p>${t('ticketPaid', { amount: t.money(payment.amount), time: t.time(payment.paidAt) })}</p>
    <p><a href="#/me">${t('navMine')}</a></p>
  </div>`;
}

function Mine({ t, user, onSignedOut }) {
  const [items, setItems] = useState(null);
  const [titles, setTitles] = useState({});
  const [err, setErr] = useState('');
  useEffect(() => {
    (async () => {
      const auth = user.accessToken;
      request('GET', '/v1/concerts').then((r) => setTitles(Object.fromEntries((r.concerts || []).map((c) => [c.concertId, c.title])))).catch(() => {});
      try {
        const r = await request('GET', '/v1/users/' + user.userId + '/reservations?limit=50', { auth });
        setItems(r.reservations || []);
      } catch (e) {
        if (e.code === 'UNAUTHENTICATED') { onSignedOut(); return; }
        if (e.code !== 'NOT_FOUND') { setErr(explain(t, e)); }
        // Without the list, read the reservations made on this device.
        const ids = store.get('reservations') || [];
        const got = [];
        for (const id of ids) {
          try { got.push(await request('GET', '/v1/reservations/' + id, { auth })); } catch { /* gone */ }
        }
        setItems(got);
      }
    })();
  }, []);
  return html`<section>
    <h1 tabindex="-1">${t('mineTitle')}</h1>
    <${Alert} msg=${err} t=${t} />
    ${items === null && html`<p>${t('loading')}</p>`}
    ${items && items.length === 0 && html`<p>${t('mineEmpty')}</p>`}
    <ul class="concerts">
      ${(items || []).map((r) => html`<li class="card" key=${r.reservationId}>
        <h2>${titles[r.concertId] || r.concertId}</h2>
        <p><span class=${'badge ' + (r.status === 'PAID' ? 'open' : r.status === 'HELD' ? 'soon' : 'sold')}>${t('status' + r.status)}</span> ${t.day(r.date)}</p>
        <p>${t('seats')}: ${r.seats.map((s) => s.number).join(', ')} · ${t.money(r.amount)}</p>
      </li>`)}
    </ul>
  </section>`;
}

// ---- the app ----

function parseRoute() {
  const hsh = location.hash.replace(/^#/, '');
  let m;
  if ((m = hsh.match(/^\/c\/([^/]+)/))) return { name: 'concert', id: decodeURIComponent(m[1]) };
  if (hsh.startsWith('/me')) return { name: 'mine' };
  return { name: 'list' };
}

function App() {
  const [lang, setLang] = useState(initialLang());
  const [user, setUser] = useState(store.get('user'));
  const [route, setRoute] = useState(parseRoute());
  const t = useMemo(() => translator(lang), [lang]);
  const main = useRef(null);

  useEffect(() => {
    const on = () => setRoute(parseRoute());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  useEffect(() => { document.documentElement.lang = lang; document.title = t('brand'); }, [lang]);
  // Move focus to the new page's heading so that keyboard and screen
  // reader users start there.
  useEffect(() => {
    const hd = main.current && main.current.querySelector('h1');
    if (hd && document.activeElement !== hd && route) hd.focus({ preventScroll: false });
  }, [route.name, route.id, !!user]);

  const switchLang = () => { const l = lang === 'ko' ? 'en' : 'ko'; localStorage.setItem('boxoffice.lang', l); setLang(l); };
  const signedIn = (u) => { store.set('user', u); setUser(u); };
  const signedOut = () => { store.set('user', null); setUser(null); };

  let page;
  if (!user) page = html`<${SignUp} t=${t} onUser=${signedIn} />`;
  else if (route.name === 'concert') page = html`<${ConcertPage} key=${route.id} t=${t} id=${route.id} user=${user} onSignedOut=${signedOut} />`;
  else if (route.name === 'mine') page = html`<${Mine} t=${t} user=${user} onSignedOut=${signedOut} />`;
  else page = html`<${ConcertList} t=${t} />`;

  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); main.current && main.current.querySelector('h1')?.focus(); }}>${t('skip')}</a>
    <header class="top">
      <a class="brand" href="#/">${t('brand')}</a>
      <nav aria-label=${t('brand')}>
        ${user && html`<a href="#/">${t('navConcerts')}</a>`}
        ${user && html`<a href="#/me">${t('navMine')}</a>`}
        <button type="button" class="link" onClick=${switchLang}><span lang=${lang === 'ko' ? 'en' : 'ko'}>${t('switchLang')}</span><span class="visually-hidden"> (${t('switchLangLabel')})</span></button>
      </nav>
      ${user && html`<span class="who muted">${t('signedInAs', { name: user.name })}</span>`}
    </header>
    <main id="main" ref=${main}>${page}</main>`;
}

announceEl = document.getElementById('announcer');
render(html`<${App} />`, document.getElementById('app'));
