// pgwarden web console: pending approvals, live sessions, recorded
// sessions and their transcripts, recent decisions.
//
// Plain script, no framework, served under a strict Content-Security-Policy
// (script-src 'self': no inline code, no eval). Everything the API returns
// (SQL, identities, rules, even approval ids) may be chosen by an attacker,
// so the DOM is built with createElement and textContent only: nothing here
// parses HTML.
'use strict';
(() => {
  const POLL_MS = 1500;
  const TOKEN_KEY = 'pgwarden.console.token';
  const ACTIONS = new Set(['allow', 'deny', 'approve', 'masked']);

  const $ = (id) => document.getElementById(id);
  let token = null;
  let me = { user: '', may_approve: false };
  let generation = 0;  // bumped on sign-out or a new token: late answers are dropped
  let timer = null;
  let inFlight = false;
  let again = false;
  let lastUpdate = '';  // time of the last poll that answered
  const rows = new Map();  // approval id -> row state (kept across polls)
  let sessionsKey = '';
  let decisionsKey = '';
  let recordingsKey = '';
  let transcriptId = null;  // the recording whose transcript is open

  // ---- small DOM helpers (text only) ----
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const kid of kids) e.append(kid);  // strings become text nodes
    return e;
  }
  function setText(node, text) {
    text = String(text);
    if (node.textContent !== text) node.textContent = text;
  }
  function cell(label, ...kids) { return el('td', { 'data-label': label }, ...kids); }
  function sqlBlock(sql) { return el('pre', { class: 'sql' }, el('code', {}, String(sql ?? ''))); }
  function chips(list) {
    const span = el('span', { class: 'chips' });
    for (const c of list || []) span.append(el('span', { class: 'chip' }, String(c)));
    return span;
  }
  function fmtDur(s) {
    s = Math.floor(Number(s));
    if (!Number.isFinite(s)) return '—';
    if (s < 0) s = 0;
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
    if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
    return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
  }
  function fmtBytes(n) {
    n = Number(n);
    if (!Number.isFinite(n)) return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
  }

  // ---- messages ----
  function say(kind, ...parts) {
    const m = $('message');
    m.replaceChildren(...parts);
    m.className = 'message' + (kind ? ' ' + kind : '');
  }
  function setUpdated(text, bad) {
    const u = $('updated');
    u.hidden = false;
    setText(u, text);
    u.classList.toggle('stale', bad);
  }

  // ---- token and sign-in state ----
  function takeToken() {
    const fromUrl = new URLSearchParams(location.hash.replace(/^#/, '')).get('token');
    if (fromUrl) {
      sessionStorage.setItem(TOKEN_KEY, fromUrl);
      history.replaceState(null, '', location.pathname + location.search);  // token out of the address bar
    }
    return sessionStorage.getItem(TOKEN_KEY);
  }
  function signedOut(why) {
    token = null;
    me = { user: '', may_approve: false };
    generation++;
    clearTimeout(timer);
    sessionStorage.removeItem(TOKEN_KEY);
    for (const id of ['console', 'account', 'updated']) $(id).hidden = true;
    say('error', why ? why + ' ' : '', 'Open the URL printed by ',
        el('code', {}, 'pgwarden console url'), ' to use the console.');
  }
  function start() {
    token = takeToken();
    generation++;
    clearTimeout(timer);
    if (!token) { signedOut(''); return; }
    say('');
    poll();
  }

  // ---- API ----
  class HttpError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }
  async function api(method, path, body) {
    const headers = { Authorization: 'Bearer ' + token, Accept: 'application/json' };
    const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new HttpError(0, 'cannot reach pgwarden');
    }
    let data = null;
    try { data = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok) {
      const text = data && typeof data.error === 'string' ? data.error : 'HTTP ' + res.status;
      throw new HttpError(res.status, text);
    }
    return data && typeof data === 'object' ? data : {};
  }

  // ---- polling ----
  async function poll() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    clearTimeout(timer);
    const gen = generation;
    try { await refresh(gen); } catch (e) { setUpdated('Not updated: ' + e.message, true); }
    inFlight = false;
    if (!token) return;
    if (again || gen !== generation) { again = false; poll(); return; }
    timer = setTimeout(poll, POLL_MS);
  }
  async function refresh(gen) {
    const names = ['whoami', 'approvals', 'sessions', 'decisions'];
    const results = await Promise.allSettled([
      api('GET', 'v1/whoami'), api('GET', 'v1/approvals'),
      api('GET', 'v1/sessions'), api('GET', 'v1/decisions?limit=50')]);
    if (gen !== generation) return;
    if (results.some((r) => r.status === 'rejected' && r.reason.status === 401)) {
      signedOut('This console token was not accepted (revoked, or for another pgwarden).');
      return;
    }
    const [who, appr, sess, dec] = results.map((r) => (r.status === 'fulfilled' ? r.value : null));
    if (who) renderWhoami(who);
    const failed = results.map((r, i) => (r.status === 'rejected' ? names[i] + ': ' + r.reason.message : null))
      .filter(Boolean);
    if (failed.length === results.length || !me.user) {
      const why = [...new Set(results.map((r) => r.reason && r.reason.message))].filter(Boolean).join('; ');
      setUpdated((lastUpdate ? 'Not updated since ' + lastUpdate : 'Not connected') + ': ' + why, true);
      return;
    }
    $('console').hidden = false;
    if (appr) renderApprovals(Array.isArray(appr.approvals) ? appr.approvals : []);
    if (sess) renderSessions(Array.isArray(sess.sessions) ? sess.sessions : []);
    if (dec) renderDecisions(Array.isArray(dec.decisions) ? dec.decisions : []);
    await refreshRecordings(gen);
    lastUpdate = new Date().toLocaleTimeString();
    if (failed.length) setUpdated('Partly updated at ' + lastUpdate + ' (' + failed.join('; ') + ')', true);
    else setUpdated('Live, updated ' + lastUpdate, false);
  }

  function renderWhoami(who) {
    me = { user: String(who.user ?? ''), may_approve: who.may_approve === true };
    $('account').hidden = false;
    setText($('whoami'), me.user);
    setText($('role'), me.may_approve ? '' : '(read only: may not approve)');
  }

  // ---- pending approvals: rows kept by id and updated in place, so an
  // input being typed in is never rebuilt ----
  function makeRow(id) {
    const row = { id, busy: false, key: {} };
    const action = (cls, text, label) => el('button', { type: 'button', class: cls, 'data-approval-id': id, 'aria-label': label + ' ' + id }, text);
    row.idCell = cell('ID');
    row.sql = el('code');
    row.identity = cell('Identity');
    row.where = cell('Upstream / database');
    row.classes = cell('Classes');
    row.rule = cell('Rule');
    row.age = cell('Age');
    row.votes = cell('Approvals');
    row.approve = action('approve', 'Approve', 'Approve');
    row.forInput = el('input', { type: 'text', class: 'for-duration', placeholder: 'for, e.g. 10m', size: '8', autocomplete: 'off', 'data-approval-id': id });
    row.approveFor = action('approve-for', 'Approve for…', 'Approve for the duration typed,');
    row.reasonInput = el('input', { type: 'text', class: 'deny-reason', placeholder: 'reason to deny', autocomplete: 'off', 'data-approval-id': id });
    row.deny = action('deny', 'Deny', 'Deny');
    const actions = el('div', { class: 'actions' },
      row.approve,
      el('span', { class: 'field' }, el('label', {}, el('span', { class: 'sr-only' }, 'Duration to approve ' + id + ' for'), row.forInput), row.approveFor),
      el('span', { class: 'field' }, el('label', {}, el('span', { class: 'sr-only' }, 'Reason to deny ' + id), row.reasonInput), row.deny));
    row.tr = el('tr', { 'data-approval-id': id },
      row.idCell, cell('SQL', el('pre', { class: 'sql' }, row.sql)), row.identity, row.where,
      row.classes, row.rule, row.age, row.votes, cell('Decide', actions));
    return row;
  }
  // Replaces a cell's children only when what they show changed.
  function setParts(row, name, node, key, build) {
    if (row.key[name] === key) return;
    row.key[name] = key;
    node.replaceChildren(...build());
  }
  function fillRow(row, a) {
    const idn = a.identity && typeof a.identity === 'object' ? a.identity : { name: a.identity };
    setText(row.idCell, row.id);
    // A Bind's parameters follow the text: $1 = '10', ... (null as NULL).
    const params = Array.isArray(a.parameters) ? a.parameters : [];
    setText(row.sql, (a.sql ?? '') + params.map((p, i) =>
      `\n  $${i + 1} = ${p === null ? 'NULL' : "'" + String(p) + "'"}`).join(''));
    const details = [['cgroup', idn.cgroup], ['uid', idn.uid], ['comm', idn.comm], ['pod', idn.pod]]
      .filter(([, v]) => v !== undefined && v !== null && v !== '');
    setParts(row, 'identity', row.identity, JSON.stringify([idn.name, details]), () => [
      el('strong', {}, String(idn.name ?? '')),
      ...details.map(([k, v]) => el('span', { class: 'detail' }, k + ' ' + v))]);
    setParts(row, 'where', row.where, JSON.stringify([a.upstream, a.database, a.session_id || a.session, a.node]), () => [
      el('span', {}, String(a.upstream ?? '') + ' / ' + String(a.database ?? '')),
      el('span', { class: 'detail' }, 'session ' + String(a.session_id || a.session || '?') + (a.node ? ' on ' + a.node : ''))]);
    setParts(row, 'classes', row.classes, JSON.stringify(a.classes), () => [chips(a.classes)]);
    setText(row.rule, a.rule ?? '');
    setParts(row, 'age', row.age, fmtDur(a.age_s) + '|' + fmtDur(a.expires_in_s), () => [
      el('span', {}, fmtDur(a.age_s) + ' ago'),
      el('span', { class: 'detail' + (Number(a.expires_in_s) < 60 ? ' soon' : '') }, 'expires in ' + fmtDur(a.expires_in_s))]);
    const by = Array.isArray(a.approvals) ? a.approvals.map(String) : [];
    setParts(row, 'votes', row.votes, JSON.stringify([by, a.min_approvals, me.user]), () => [
      el('span', { class: 'votes' }, by.length + '/' + String(a.min_approvals ?? 1)),
      ...(by.length ? [el('span', { class: 'detail' }, 'by ' + by.join(', ') + (by.includes(me.user) ? ' (you)' : ''))] : [])]);
    updateControls(row);
  }
  function updateControls(row) {
    const off = row.busy || !me.may_approve;
    for (const c of [row.approve, row.approveFor, row.deny, row.forInput, row.reasonInput]) c.disabled = off;
  }
  function renderApprovals(list) {
    const pending = list.filter((a) => a && (a.state === undefined || a.state === 'pending'));
    const ids = new Set(pending.map((a) => String(a.id)));
    for (const [id, row] of rows) {  // drop decided rows first, so rows that stay are not moved
      if (ids.has(id)) continue;
      if (row.forInput.value.trim() || row.reasonInput.value.trim()) say('', id + ' is no longer pending.');
      row.tr.remove();
      rows.delete(id);
    }
    const tbody = $('approvals').tBodies[0];
    pending.forEach((a, i) => {
      const id = String(a.id);
      let row = rows.get(id);
      if (!row) { row = makeRow(id); rows.set(id, row); }
      fillRow(row, a);
      if (tbody.children[i] !== row.tr) tbody.insertBefore(row.tr, tbody.children[i] || null);
    });
    $('approvals').hidden = pending.length === 0;
    $('approvals-empty').hidden = pending.length !== 0;
    setText($('approvals-count'), pending.length ? '(' + pending.length + ')' : '');
    document.title = (pending.length ? '(' + pending.length + ') ' : '') + 'pgwarden console';
  }

  async function act(row, kind) {
    let path = 'v1/approvals/' + encodeURIComponent(row.id) + '/approve';
    let body = {};
    let done = 'Approved ' + row.id + '.';
    if (kind === 'approve-for') {
      const d = row.forInput.value.trim();
      if (!d) { say('error', 'Type a duration (such as 10m) before "Approve for…".'); row.forInput.focus(); return; }
      body = { for: d };
      done = 'Approved ' + row.id + ' for ' + d + '.';
    } else if (kind === 'deny') {
      const reason = row.reasonInput.value.trim();
      if (!reason) { say('error', 'Type a reason before denying ' + row.id + '.'); row.reasonInput.focus(); return; }
      path = 'v1/approvals/' + encodeURIComponent(row.id) + '/deny';
      body = { reason };
      done = 'Denied ' + row.id + '.';
    }
    row.busy = true;
    updateControls(row);
    try {
      const res = await api('POST', path, body);
      say('ok', done + (typeof res.state === 'string' ? ' Now ' + res.state + '.' : ''));
      (kind === 'deny' ? row.reasonInput : row.forInput).value = '';
    } catch (e) {
      if (e.status === 401) { signedOut('This console token was not accepted (revoked, or for another pgwarden).'); return; }
      say('error', 'Could not ' + (kind === 'deny' ? 'deny ' : 'approve ') + row.id + ': ' + e.message);
    } finally {
      row.busy = false;
      updateControls(row);
    }
    poll();
  }
  function rowOf(target) {
    const tr = target.closest('tr[data-approval-id]');
    return tr ? rows.get(tr.dataset.approvalId) : undefined;
  }
  function onClick(ev) {
    const b = ev.target.closest('button');
    const row = b && rowOf(b);
    if (!row || row.busy) return;
    for (const kind of ['approve', 'approve-for', 'deny']) if (b.classList.contains(kind)) act(row, kind);
  }
  function onKey(ev) {  // Enter in an input presses the button beside it
    if (ev.key !== 'Enter' || ev.target.tagName !== 'INPUT') return;
    const row = rowOf(ev.target);
    if (!row || row.busy) return;
    ev.preventDefault();
    act(row, ev.target.classList.contains('deny-reason') ? 'deny' : 'approve-for');
  }

  // ---- sessions and decisions: redrawn only when they change ----
  function renderTable(tableId, emptyId, list, makeTr) {
    $(tableId).tBodies[0].replaceChildren(...list.map(makeTr));
    $(tableId).hidden = list.length === 0;
    $(emptyId).hidden = list.length !== 0;
  }
  function renderSessions(list) {
    const key = JSON.stringify(list);
    if (key === sessionsKey) return;
    sessionsKey = key;
    setText($('sessions-count'), list.length ? '(' + list.length + ')' : '');
    renderTable('sessions', 'sessions-empty', list, (s) => el('tr', {},
      cell('Session', String(s.id ?? '')), cell('Identity', String(s.identity ?? '')),
      cell('Workload', el('span', { class: 'detail' }, String(s.workload ?? ''))),
      cell('Upstream', String(s.upstream ?? '')), cell('User', String(s.user ?? '')),
      cell('Database', String(s.database ?? '')), cell('Age', fmtDur(s.age_s)),
      cell('Bytes in / out', fmtBytes(s.bytes_from_client) + ' / ' + fmtBytes(s.bytes_to_client)),
      cell('Recording', transcriptButton(s.recording ?? s.id))));
  }
  function renderDecisions(list) {
    const key = JSON.stringify(list);
    if (key === decisionsKey) return;
    decisionsKey = key;
    const sorted = list.filter(Boolean).slice().sort((a, b) => (Number(b.time) || 0) - (Number(a.time) || 0));
    renderTable('decisions', 'decisions-empty', sorted, (d) => {
      const t = new Date(Number(d.time) * 1000);
      const ok = !Number.isNaN(t.getTime());
      const action = String(d.action ?? '');
      return el('tr', {},
        cell('Time', ok ? el('time', { datetime: t.toISOString() }, t.toLocaleTimeString()) : '—'),
        cell('Session', String(d.session_id || d.session || '')), cell('Identity', String(d.identity ?? '')),
        cell('Action', el('span', { class: 'action action-' + (ACTIONS.has(action) ? action : 'other') }, action)),
        cell('Classes', chips(d.classes)), cell('Rule', String(d.rule ?? '')), cell('SQL', sqlBlock(d.sql)));
    });
  }

  // ---- recordings and transcripts ----
  function transcriptButton(id) {
    if (id === undefined || id === null || id === '') return '—';
    return el('button', { type: 'button', class: 'open-transcript', 'data-recording': String(id) }, 'Transcript');
  }
  // GET /v1/recordings lists recordings (newest first); a pgwarden without
  // it still opens transcripts from the live sessions.
  async function refreshRecordings(gen) {
    let data = null;
    let why = '';
    try { data = await api('GET', 'v1/recordings?limit=50'); } catch (e) { why = e.message; }
    if (gen !== generation) return;
    const list = data && Array.isArray(data.recordings) ? data.recordings : null;
    const key = list ? JSON.stringify(list) : 'none:' + why;
    if (key === recordingsKey) return;
    recordingsKey = key;
    if (!list) {
      $('recordings').hidden = true;
      $('recordings-empty').hidden = false;
      setText($('recordings-count'), '');
      setText($('recordings-empty'), 'The list of recordings is not available (' + why +
        '): open a transcript from the live sessions above.');
      return;
    }
    setText($('recordings-empty'), 'No recorded session.');
    setText($('recordings-count'), list.length ? '(' + list.length + ')' : '');
    renderTable('recordings', 'recordings-empty', list, (r) => {
      const st = r.statements || {};
      return el('tr', {},
        cell('Session', String(r.id ?? ''), r.live ? el('span', { class: 'chip' }, 'live') : ''),
        cell('Identity', String(r.identity ?? '')),
        cell('Upstream / database', String(r.upstream ?? '') + ' / ' + String(r.database ?? '')),
        cell('Started', String(r.start_time ?? '')),
        cell('Statements', String(st.allowed ?? 0) + ' allowed, ' + String(st.denied ?? 0) + ' denied, ' +
          String(st.held ?? 0) + ' held'),
        cell('Recording', transcriptButton(r.id)));
    });
  }
  function fmtMs(ms) {
    const n = Number(ms);
    return Number.isFinite(n) ? (n / 1000).toFixed(3) + 's' : '—';
  }
  function valueText(v) { return v === null || v === undefined ? 'NULL' : String(v); }
  function resultTable(e) {
    const cols = Array.isArray(e.columns) ? e.columns : [];
    const head = el('tr', {}, ...cols.map((c) => el('th', { scope: 'col' }, String(c && c.name ? c.name : ''))));
    const body = (Array.isArray(e.rows) ? e.rows : []).map((row) =>
      el('tr', {}, ...(Array.isArray(row) ? row : []).map((v) => el('td', {}, valueText(v)))));
    const n = Number(e.row_count ?? body.length);
    const more = e.rows_omitted ? ' (' + String(e.rows_omitted) + ' not shown)' : '';
    return [el('table', { class: 'grid result' }, el('thead', {}, head), el('tbody', {}, ...body)),
      el('p', { class: 'detail' }, '(' + n + (n === 1 ? ' row)' : ' rows)') + more)];
  }
  function entryItem(e) {
    const type = String(e.type ?? '');
    const li = el('li', { class: 'entry entry-' + type.replace(/[^a-z_]/g, '') });
    const at = el('span', { class: 'detail' }, fmtMs(e.offset_ms) + ' ');
    if (type === 'statement') {
      let meta = '#' + String(e.n ?? '') + ' at ' + fmtMs(e.offset_ms);
      if (e.elapsed_ms !== undefined) meta += ', took ' + Number(e.elapsed_ms).toFixed(3) + ' ms';
      if (e.protocol && e.protocol !== 'simple') meta += ', ' + String(e.protocol);
      li.append(el('p', { class: 'detail' }, meta),
        sqlBlock(e.protocol === 'function_call' ? 'FunctionCall ' + String(e.function_oid ?? '') : e.sql));
      const params = Array.isArray(e.parameters) ? e.parameters : Array.isArray(e.arguments) ? e.arguments : [];
      if (params.length) {
        li.append(el('p', { class: 'detail' }, 'parameters: ' +
          params.map((p, i) => '$' + (i + 1) + ' = ' + valueText(p)).join(', ')));
      }
    } else if (type === 'result') {
      li.append(...resultTable(e));
    } else if (type === 'complete') {
      li.append(at, String(e.tag ?? ''));
    } else if (type === 'error' || type === 'notice') {
      li.append(at, el('strong', {}, String(e.severity ?? '') + ' ' + String(e.sqlstate ?? '') + ': '),
        String(e.message ?? ''));
      if (e.detail) li.append(el('p', { class: 'detail' }, 'DETAIL: ' + String(e.detail)));
    } else if (type === 'copy') {
      li.append(at, 'COPY ' + String(e.direction ?? '') + ': ' + String(e.rows ?? 0) + ' rows, ' +
        String(e.bytes ?? 0) + ' bytes');
    } else if (type === 'event') {
      const ev = String(e.event ?? '');
      let text = ev;
      if (ev === 'decision') text = 'decision: ' + String(e.decision ?? '') + (e.rule ? ' (rule ' + String(e.rule) + ')' : '');
      else if (ev.startsWith('approval_')) text = ev.replace('_', ' ') + ' ' + String(e.id ?? '') + (e.by ? ' by ' + String(e.by) : '');
      else if (ev === 'session_end') text = 'session ended: ' + String(e.reason ?? '');
      li.append(at, el('span', { class: 'chip' }, 'pgwarden'), ' ' + text);
    } else {
      li.append(at, type + ': ' + JSON.stringify(e));
    }
    return li;
  }
  async function openTranscript(id) {
    transcriptId = id;
    const gen = generation;
    let data;
    try {
      data = await api('GET', 'v1/recordings/' + encodeURIComponent(id));
    } catch (e) {
      say('error', 'Cannot open the transcript of ' + id + ': ' + e.message);
      return;
    }
    if (gen !== generation || transcriptId !== id) return;
    const h = data.session || {};
    const who = h.identity || {};
    const v = data.verified || {};
    setText($('transcript-title'), 'Transcript of session ' + String(h.session_id ?? id));
    setText($('transcript-who'), 'identity ' + String(who.name ?? '') + (who.comm ? ', ' + String(who.comm) : '') +
      (who.pid !== undefined ? ', pid ' + String(who.pid) : '') + '; upstream ' + String(h.upstream ?? '') +
      ', database ' + String(h.database ?? '') + ', user ' + String(h.user ?? '') + '; started ' +
      String(h.start_time ?? ''));
    setText($('transcript-verified'), (v.ok ? 'Verified: ' : v.live ? 'Live, verified so far: ' : 'Verified only in part: ') +
      String(v.records ?? 0) + ' records' + (v.problem ? ' (' + String(v.problem) + ')' : ''));
    const entries = Array.isArray(data.entries) ? data.entries : [];
    $('transcript-entries').replaceChildren(...entries.filter((e) => e && typeof e === 'object' &&
      !(e.type === 'event' && e.event === 'decision' && e.decision === 'allow')).map(entryItem));
    $('transcript').hidden = false;
    $('transcript').scrollIntoView();
  }
  function onTranscriptClick(ev) {
    const b = ev.target.closest('button.open-transcript');
    if (b) openTranscript(b.dataset.recording);
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('console').addEventListener('click', onTranscriptClick);
    $('transcript-close').addEventListener('click', () => { transcriptId = null; $('transcript').hidden = true; });
    const tbody = $('approvals').tBodies[0];
    tbody.addEventListener('click', onClick);
    tbody.addEventListener('keydown', onKey);
    window.addEventListener('hashchange', start);
    start();
  });
})();
