// evolkit view: the page over one run. Plain JavaScript, no build step.
// Everything from the run is written as text nodes, never parsed as markup: model output is text.
'use strict';

const PAGE = 50;
const FILTERS = ['round', 'operator', 'kept', 'reason', 'rule', 'q', 'score', 'score_min', 'score_max'];
const state = { summary: null, view: null, rows: [], total: 0, cursor: 0, query: {}, detail: null };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path, options) {
  const response = await fetch(path, options);
  if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);
  return response.json();
}

function say(text, isError) {
  const status = document.getElementById('status');
  status.textContent = text;
  status.className = isError ? 'error' : 'muted';
}

// --- the address: #rows?filters&offset=&cursor= · #row/ID?filters&pos= · #summary ----------

function parseHash() {
  const hash = location.hash.replace(/^#/, '') || 'rows';
  const [path, search] = hash.split('?');
  const params = new URLSearchParams(search || '');
  const query = {};
  for (const name of FILTERS) if (params.get(name)) query[name] = params.get(name);
  if (path.startsWith('row/')) {
    return { view: 'row', id: decodeURIComponent(path.slice(4)), query, pos: Number(params.get('pos') || 0) };
  }
  if (path === 'summary') return { view: 'summary', query };
  return { view: 'rows', query, offset: Number(params.get('offset') || 0), cursor: Number(params.get('cursor') || 0) };
}

function queryString(query, extra) {
  const params = new URLSearchParams();
  for (const name of FILTERS) if (query[name]) params.set(name, query[name]);
  for (const [key, value] of Object.entries(extra || {})) params.set(key, value);
  return params.toString();
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function rowsHash(query, offset, cursor) {
  return '#rows?' + queryString(query, { offset: offset || 0, cursor: cursor || 0 });
}

function rowHash(id, query, pos) {
  return '#row/' + encodeURIComponent(id) + '?' + queryString(query, { pos: pos });
}

// --- pieces ----------------------------------------------------------------------------------

function verdictBadge(row) {
  if (row.kept) return el('span', { class: 'badge kept' }, 'kept');
  return el('span', { class: 'badge dropped', title: `${row.stage} · ${row.filter}` }, `${row.filter}: ${row.reason}`);
}

function labelBadge(label) {
  if (!label) return el('span', { class: 'muted' }, '');
  const parts = [];
  if (label.label) parts.push(el('span', { class: `badge label-${label.label}` }, label.label));
  if (label.note) parts.push(el('span', { class: 'muted', title: label.note }, ' ✎'));
  return el('span', { class: 'label' }, parts);
}

function diffNode(pieces, text) {
  if (!pieces) return el('div', { class: 'plain' }, text);
  return el('div', { class: 'diff' }, pieces.map(([op, piece]) =>
    op === '+' ? el('ins', {}, piece) : op === '-' ? el('del', {}, piece) : piece));
}

function json(value) {
  return el('pre', {}, JSON.stringify(value, null, 2));
}

function select(name, current, options, placeholder) {
  const node = el('select', { name, id: `filter-${name}` }, el('option', { value: '' }, placeholder));
  for (const [value, text] of options) {
    node.append(el('option', { value, selected: String(value) === String(current || '') }, text));
  }
  return node;
}

// --- the table ---------------------------------------------------------------------------------

function filterBar(query) {
  const s = state.summary;
  const bar = el('form', { class: 'filters', id: 'filters' });
  bar.append(
    select('round', query.round, s.rounds.map((r) => [r.name, r.name === 0 ? 'seeds (0)' : `round ${r.name}`]), 'every round'),
    select('operator', query.operator, s.operators.filter((o) => o.name !== 'seed').map((o) => [o.name, o.name]), 'every operator'),
    select('kept', query.kept, [['kept', 'kept'], ['dropped', 'dropped']], 'kept and dropped'),
    select('reason', query.reason, Object.entries(s.reasons).map(([r, n]) => [r, `${r} (${n})`]), 'every drop reason'),
    select('rule', query.rule, Object.entries(s.rules).map(([r, n]) => [r, `${r} (${n})`]), 'every rule'),
  );
  if (s.scores.length) {
    bar.append(
      select('score', query.score, s.scores.map((n) => [n, n]), 'no score filter'),
      el('input', { name: 'score_min', class: 'num', placeholder: 'min', value: query.score_min || '' }),
      el('input', { name: 'score_max', class: 'num', placeholder: 'max', value: query.score_max || '' }),
    );
  }
  bar.append(el('input', { type: 'search', name: 'q', id: 'filter-q', placeholder: 'search text or id', value: query.q || '' }));
  const apply = () => {
    const next = {};
    for (const name of FILTERS) {
      const field = bar.elements.namedItem(name);
      if (field && field.value) next[name] = field.value;
    }
    go(rowsHash(next, 0, 0));
  };
  bar.addEventListener('change', apply);
  bar.addEventListener('submit', (event) => { event.preventDefault(); apply(); });
  return bar;
}

function rowLine(row, k) {
  return el('tr', { class: 'row', 'data-id': row.id, 'data-index': k, onclick: () => { state.cursor = k; openCurrent(); } },
    el('td', { class: 'label-cell' }, labelBadge(row.label)),
    el('td', { class: 'num' }, row.round),
    el('td', {}, row.operator || 'seed'),
    el('td', { class: 'verdict' }, verdictBadge(row)),
    el('td', { class: 'text' }, row.text));
}

function fetchRows(route) {
  return api('/api/rows?' + queryString(route.query, { offset: route.offset, limit: PAGE }));
}

async function showRows(route, pending) {
  state.query = route.query;
  const data = await (pending || fetchRows(route));
  state.rows = data.rows;
  state.total = data.total;
  state.offset = data.offset;
  state.cursor = Math.min(route.cursor, Math.max(data.rows.length - 1, 0));
  const body = el('tbody', { id: 'rows' }, data.rows.map(rowLine));
  const first = data.total ? data.offset + 1 : 0;
  const last = data.offset + data.rows.length;
  const pager = el('div', { class: 'pager' },
    el('button', { type: 'button', id: 'prev-page', disabled: data.offset === 0, onclick: () => go(rowsHash(state.query, Math.max(0, data.offset - PAGE), 0)) }, '← previous'),
    el('span', { id: 'count' }, `rows ${first}–${last} of ${data.total}`),
    el('button', { type: 'button', id: 'next-page', disabled: last >= data.total, onclick: () => go(rowsHash(state.query, data.offset + PAGE, 0)) }, 'next →'));
  const main = document.getElementById('main');
  main.replaceChildren(filterBar(route.query), pager,
    el('table', { id: 'table' },
      el('thead', {}, el('tr', {}, el('th', {}, 'label'), el('th', { class: 'num' }, 'round'), el('th', {}, 'operator'), el('th', {}, 'verdict'), el('th', {}, 'instruction'))),
      body));
  markCursor();
  document.body.setAttribute('data-ready', 'rows');
}

function markCursor() {
  document.querySelectorAll('tr.row.current').forEach((tr) => tr.classList.remove('current'));
  const tr = document.querySelector(`tr.row[data-index="${state.cursor}"]`);
  if (tr) {
    tr.classList.add('current');
    tr.scrollIntoView({ block: 'nearest' });
  }
  if (state.view === 'rows') history.replaceState(null, '', rowsHash(state.query, state.offset, state.cursor));
}

function moveCursor(step) {
  const next = state.cursor + step;
  if (next >= 0 && next < state.rows.length) {
    state.cursor = next;
    markCursor();
  } else if (next >= state.rows.length && state.offset + state.rows.length < state.total) {
    go(rowsHash(state.query, state.offset + PAGE, 0));
  } else if (next < 0 && state.offset > 0) {
    go(rowsHash(state.query, Math.max(0, state.offset - PAGE), PAGE - 1));
  }
}

function openCurrent() {
  const row = state.rows[state.cursor];
  if (row) go(rowHash(row.id, state.query, state.offset + state.cursor));
}

// --- one row ---------------------------------------------------------------------------------

function lineageStep(step) {
  const kind = step.kept ? (step.operator ? '' : 'seed') : 'drop';
  const head = el('div', { class: 'muted' },
    step.operator ? `round ${step.round} · ${step.operator}` : 'seed', ' · ',
    el('a', { href: rowHash(step.id, {}, 0) }, step.id), ' ', verdictBadge(step));
  return el('li', { class: kind, 'data-id': step.id }, head, diffNode(step.diff, step.text));
}

function verdictTable(verdicts) {
  if (!verdicts.length) return el('p', { class: 'muted' }, 'a seed: no rule judges it');
  return el('table', { id: 'verdicts' },
    el('thead', {}, el('tr', {}, el('th', {}, 'rule'), el('th', {}, 'verdict'), el('th', {}, 'stage'), el('th', {}, 'reason'), el('th', {}, 'metadata'))),
    el('tbody', {}, verdicts.map((v) => el('tr', {},
      el('td', {}, v.filter), el('td', {}, v.keep ? 'keep' : 'drop'), el('td', {}, v.stage), el('td', {}, v.reason),
      el('td', {}, Object.keys(v.metadata || {}).length ? json(v.metadata) : '')))));
}

function usageNode(usage) {
  if (usage.scope === 'none') return el('p', { class: 'muted' }, 'not recorded');
  const cost = usage.cost === undefined ? '' : ` · $${Number(usage.cost).toFixed(4)}`;
  const scope = usage.scope === 'row' ? 'this row' : `the whole of ${usage.scope} (not counted per row)`;
  return el('p', {}, `${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion tokens${cost} — ${scope}`);
}

async function showRow(route) {
  state.query = route.query;
  state.pos = route.pos;
  const d = await api('/api/row/' + encodeURIComponent(route.id));
  state.detail = d;
  const scores = Object.entries(d.scores);
  const main = document.getElementById('main');
  main.replaceChildren(
    el('p', {}, el('a', { href: rowsHash(route.query, Math.floor(route.pos / PAGE) * PAGE, route.pos % PAGE), id: 'back' }, '← rows'),
      ' · ', el('span', { class: 'muted' }, `row ${route.pos + 1}`)),
    el('section', { class: 'card', id: 'row' },
      el('h2', {}, verdictBadge(d), ' ', d.operator ? `round ${d.round} · ${d.operator}` : 'seed', ' ', el('code', {}, d.id)),
      el('div', { id: 'row-label' }, 'label: ', d.label ? labelBadge(d.label) : el('span', { class: 'muted' }, 'none yet (k keep, d drop, n note)'), d.label && d.label.note ? el('span', { class: 'plain' }, ' — ', d.label.note) : null),
      el('div', { class: 'plain', id: 'row-text' }, d.text),
      d.input ? json(d.input) : null),
    el('section', { class: 'card' }, el('h2', {}, `lineage from the seed (${d.lineage.length - 1} evolutions)`),
      el('ol', { class: 'lineage', id: 'lineage' }, d.lineage.map(lineageStep))),
    el('section', { class: 'card' }, el('h2', {}, 'verdicts'), verdictTable(d.verdicts)),
    el('div', { class: 'grid' },
      el('section', { class: 'card' }, el('h2', {}, 'scores'),
        scores.length ? el('table', {}, el('tbody', {}, scores.map(([n, v]) => el('tr', {}, el('td', {}, n), el('td', { class: 'num' }, v))))) : el('p', { class: 'muted' }, 'none')),
      el('section', { class: 'card' }, el('h2', {}, 'tokens and cost'), usageNode(d.usage))),
    el('section', { class: 'card' }, el('h2', {}, 'answer'),
      d.answer === null ? el('p', { class: 'muted' }, d.kept ? 'not answered' : 'a drop keeps no answer') : el('div', { class: 'plain', id: 'answer' }, d.answer)),
    el('section', { class: 'card' }, el('h2', {}, 'metadata'), json(d.metadata)));
  window.scrollTo(0, 0);
  document.body.setAttribute('data-ready', 'row');
}

async function stepRow(step) {
  const pos = state.pos + step;
  if (pos < 0) return;
  const data = await api('/api/rows?' + queryString(state.query, { offset: pos, limit: 1 }));
  if (data.rows.length) go(rowHash(data.rows[0].id, state.query, pos));
}

// --- the summary -----------------------------------------------------------------------------

function shareTable(title, items) {
  return el('section', { class: 'card' }, el('h2', {}, title), el('table', {},
    el('thead', {}, el('tr', {}, el('th', {}, ''), el('th', { class: 'num' }, 'kept'), el('th', { class: 'num' }, 'dropped'), el('th', { class: 'num' }, 'kept %'))),
    el('tbody', {}, items.map((i) => el('tr', {}, el('td', {}, i.name), el('td', { class: 'num' }, i.kept), el('td', { class: 'num' }, i.dropped),
      el('td', { class: 'num' }, i.share === null ? '–' : `${Math.round(100 * i.share)}%`))))));
}

function percent(value) {
  return value === null ? '–' : `${(100 * value).toFixed(1)}%`;
}

async function showSummary() {
  const s = await api('/api/summary');
  state.summary = s;
  const tried = Object.values(s.rules).reduce((a, b) => a + b, 0);
  const rules = el('section', { class: 'card' }, el('h2', {}, `drops per rule or stage (${tried})`), el('table', { id: 'rules' },
    el('thead', {}, el('tr', {}, el('th', {}, ''), el('th', { class: 'num' }, 'dropped'))),
    el('tbody', {}, Object.entries(s.rules).map(([name, n]) => el('tr', {}, el('td', {}, name), el('td', { class: 'num' }, n))))));
  const agreement = el('table', { id: 'agreement' },
    el('thead', {}, el('tr', {}, ['', 'judged', 'agreed', 'dropped & label drop', 'dropped & label keep', 'kept & label drop', 'precision', 'recall'].map((h) => el('th', {}, h)))),
    el('tbody', {}, s.agreement.map((a) => el('tr', {}, el('td', {}, a.name), el('td', { class: 'num' }, a.judged), el('td', { class: 'num' }, a.agreed),
      el('td', { class: 'num' }, a.true_drops), el('td', { class: 'num' }, a.false_drops), el('td', { class: 'num' }, a.missed_drops),
      el('td', { class: 'num' }, percent(a.precision)), el('td', { class: 'num' }, percent(a.recall))))));
  const disagreements = el('ul', { id: 'disagreements' }, s.disagreements.map((d) => el('li', {},
    el('a', { href: rowHash(d.id, {}, 0) }, d.id), ` you: ${d.label} · run: ${d.verdict} — `, el('span', { class: 'plain' }, d.text.slice(0, 160)))));
  document.getElementById('main').replaceChildren(
    el('section', { class: 'card' }, el('h2', {}, 'labels'),
      el('p', {}, `${s.labelled} rows labelled (${s.labelled_drop} drop) in `, el('code', { title: s.labels_file }, s.labels_file.split('/').pop()),
        s.unknown_labels ? ` · ${s.unknown_labels} labels name no row of this run` : ''),
      el('p', { class: 'muted' }, 'a drop is the positive call: precision is the share of the rows a rule dropped that you labelled drop, recall the share of your drops that it dropped'),
      agreement, el('h2', {}, 'where the run decided otherwise'), disagreements),
    el('div', { class: 'grid' }, shareTable('kept per round', s.rounds), shareTable('kept per operator', s.operators),
      rules));
  document.body.setAttribute('data-ready', 'summary');
}

// --- labels ----------------------------------------------------------------------------------

async function saveLabel(id, label, note) {
  say('saving…');
  const saved = await api('/api/labels', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id, label, note }) });
  say(`saved ${saved.label || 'note'} for ${id}`);
  return saved;
}

function currentTarget() {
  if (state.view === 'row' && state.detail) return { id: state.detail.id, label: state.detail.label };
  const row = state.rows[state.cursor];
  return row ? { id: row.id, label: row.label } : null;
}

// Saves go out one after another, in the order of the keys; the cursor moves at once, so fast
// typing labels one row per key.
let saving = Promise.resolve();

function queueSave(id, value, note, done) {
  saving = saving.then(() => saveLabel(id, value, note)).then(done)
    .catch((error) => say(String(error.message || error), true));
  return saving;
}

function label(value) {
  const target = currentTarget();
  if (!target) return null;
  const note = target.label ? target.label.note : '';
  if (state.view === 'row') {
    const detail = state.detail;
    detail.label = { id: target.id, label: value, note };
    return queueSave(target.id, value, note, (saved) => {
      detail.label = saved;
      if (state.detail === detail) document.getElementById('row-label').replaceChildren('label: ', labelBadge(saved));
    });
  }
  const rows = state.rows;
  const where = state.cursor;
  rows[where].label = { id: target.id, label: value, note };
  moveCursor(1);
  return queueSave(target.id, value, note, (saved) => {
    rows[where].label = saved;
    const cell = document.querySelector(`tr.row[data-index="${where}"] td.label-cell`);
    if (state.rows === rows && cell) cell.replaceChildren(labelBadge(saved));
  });
}

function editNote() {
  const target = currentTarget();
  if (!target || document.querySelector('.note-box')) return;
  const area = el('textarea', { id: 'note' });
  area.value = target.label ? target.label.note : '';
  const close = () => box.remove();
  const save = () => {
    close();
    const detail = state.detail;
    const rows = state.rows;
    const where = state.cursor;
    const value = target.label ? target.label.label : null;
    const pending = { id: target.id, label: value, note: area.value };
    if (state.view === 'row') detail.label = pending; else rows[where].label = pending;
    queueSave(target.id, value, area.value, (saved) => {
      if (state.view === 'row' && state.detail === detail) {
        detail.label = saved;
        document.getElementById('row-label').replaceChildren('label: ', labelBadge(saved), saved.note ? el('span', { class: 'plain' }, ' — ', saved.note) : null);
      } else if (state.view === 'rows' && state.rows === rows) {
        rows[where].label = saved;
        const cell = document.querySelector(`tr.row[data-index="${where}"] td.label-cell`);
        if (cell) cell.replaceChildren(labelBadge(saved));
      }
    });
  };
  area.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) { event.preventDefault(); save(); }
    if (event.key === 'Escape') close();
  });
  const box = el('div', { class: 'note-box' }, el('div', { class: 'muted' }, `note for ${target.id} (Enter saves, Esc cancels)`), area);
  document.body.append(box);
  area.focus();
}

function onKey(event) {
  const target = event.target;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) {
    if (event.key === 'Escape') target.blur();
    return;
  }
  const keys = {
    j: () => (state.view === 'row' ? stepRow(1) : moveCursor(1)),
    ArrowDown: () => (state.view === 'row' ? stepRow(1) : moveCursor(1)),
    ArrowUp: () => (state.view === 'row' ? stepRow(-1) : moveCursor(-1)),
    Enter: () => state.view === 'rows' && openCurrent(),
    Escape: () => state.view === 'row' && document.getElementById('back').click(),
    k: () => label('keep'),
    d: () => label('drop'),
    n: () => editNote(),
    '/': () => { const q = document.getElementById('filter-q'); if (q) q.focus(); },
  };
  const action = keys[event.key];
  if (!action || (state.view === 'summary' && event.key !== '/')) return;
  event.preventDefault();
  Promise.resolve(action()).catch((error) => say(String(error.message || error), true));
}

// --- start -----------------------------------------------------------------------------------

async function route() {
  const where = parseHash();
  state.view = where.view;
  document.body.removeAttribute('data-ready');
  try {
    const rows = where.view === 'rows' ? fetchRows(where) : null; // with the summary, not after it
    if (rows) rows.catch(() => {}); // its error is shown where it is awaited
    if (!state.summary || !state.summary.loaded || where.view === 'summary') {
      state.summary = await api('/api/summary');
      showRun(state.summary);
    }
    if (where.view === 'row') await showRow(where);
    else if (where.view === 'summary') await showSummary();
    else await showRows(where, rows);
  } catch (error) {
    say(String(error.message || error), true);
  }
}

// A large run is read while the first page is already served: the header counts the rows read
// so far, and the view is drawn again once the whole run is in.
let polling = false;

function showRun(summary) {
  const run = document.getElementById('run');
  const reading = summary.loaded ? '' : ' so far (reading the run…)';
  run.textContent = `${summary.output.split('/').pop()} · ${summary.rows} rows${reading}`;
  run.title = summary.output;
  if (summary.error) say(`the run could not be read to its end: ${summary.error}`, true);
  if (!summary.loaded && !polling) {
    polling = true;
    setTimeout(pollLoaded, 300);
  }
}

async function pollLoaded() {
  polling = false;
  const summary = await api('/api/summary');
  if (!summary.loaded) { showRun(summary); return; }
  state.summary = summary;
  showRun(summary);
  if (!document.querySelector('.note-box')) route();
}

window.addEventListener('hashchange', route);
document.addEventListener('keydown', onKey);
route();
