// adwatch's workspace: the shared helpers, the top bar and the router,
// served from /app.js. Every page URL serves the same shell (index.html);
// the script of /js/<page>.js registers a drawer with page() and the router
// draws the one the URL names. The pages run no inline script (CSP), load
// nothing from elsewhere, and put text from ads into the page only as text
// (el() makes text nodes; nothing here assigns innerHTML).
'use strict';

const AW = {pages: [], me: null};

// el builds an element: attrs are attributes ('class', 'data-x', 'for'),
// properties when the name starts with '.', and listeners when the value
// is a function and the name starts with 'on'. Children are nodes, or
// strings and numbers, which become text nodes; arrays are flattened and
// null, undefined and false are skipped.
function el(tag, attrs, ...kids) {
  const n = tag === 'svg' || AW.svgTags.has(tag) ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('.')) n[k.slice(1)] = v;
    else if (k.startsWith('on') && typeof v === 'function') n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? '' : String(v));
  }
  add(n, kids);
  return n;
}
AW.svgTags = new Set(['g', 'path', 'line', 'text', 'rect', 'circle', 'polyline', 'title', 'desc']);

// add appends children to a node the way el does.
function add(n, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined || k === false) continue;
    n.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return n;
}

// clear empties a node and fills it with kids.
function fill(n, ...kids) { n.replaceChildren(); return add(n, kids); }

const $ = id => document.getElementById(id);

// ApiError is a failed API call: its HTTP status, the server's message,
// and missing when the route does not exist on this server yet (a plain
// 404 or 405 from the router, not a JSON answer).
class ApiError extends Error {
  constructor(status, message, missing) { super(message); this.status = status; this.missing = missing; }
}

// api fetches a JSON API. opts.json is sent as a JSON body (POST unless
// opts.method says otherwise); opts.meta, when given, gets the total a
// paged answer reports (X-Total-Count). The working case, when the page has one
// (?case=), goes along so the audit log files the request under it.
async function api(url, opts = {}) {
  const init = {method: opts.method || 'GET', headers: {}, credentials: 'same-origin'};
  if (opts.json !== undefined) {
    init.method = opts.method || 'POST';
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.json);
  } else if (opts.body !== undefined) {
    init.method = opts.method || 'POST';
    init.body = opts.body;
  }
  const r = await fetch(withCase(url), init);
  if (opts.meta) opts.meta.total = parseInt(r.headers.get('X-Total-Count'), 10);
  const ct = r.headers.get('Content-Type') || '';
  let body = null;
  if (ct.startsWith('application/json')) body = await r.json();
  if (r.status === 401) { location.assign('/login'); throw new ApiError(401, 'Your session has ended; log in again.', false); }
  if (!r.ok) {
    const missing = (r.status === 404 || r.status === 405) && body === null;
    const msg = body && body.error ? body.error : missing ? 'This part of the API is not on this server yet.' : 'The server answered ' + r.status + '.';
    throw new ApiError(r.status, msg, missing);
  }
  return body;
}

// workingCase is the case number the page works for (?case=), or ''.
function workingCase() { return new URLSearchParams(location.search).get('case') || ''; }

// withCase adds the working case to an internal URL.
function withCase(url) {
  const c = workingCase();
  if (!c || !url.startsWith('/') || /[?&]case=/.test(url)) return url;
  return url + (url.includes('?') ? '&' : '?') + 'case=' + encodeURIComponent(c);
}

// link is an internal link that keeps the working case.
function link(href, ...kids) { return el('a', {href: withCase(href)}, ...kids); }

// profileLink links a profile page; data-profile names it for tests and
// scripts.
function profileLink(id) { return el('a', {href: withCase('/profiles/' + encodeURIComponent(id)), 'data-profile': id, class: 'mono'}, id); }
function adLink(id, text) { return el('a', {href: withCase('/ads/' + encodeURIComponent(id)), 'data-ad': id}, text || id); }
function caseHref(number) { return '/cases/' + encodeURIComponent(number); }

// can reports whether the logged-in role holds a permission.
function can(...perms) { return perms.some(p => AW.me && AW.me.can.includes(p)); }

// Dates and numbers. Times are shown in UTC, as stored and as the audit
// log and exports give them.
function day(iso) { return iso ? String(iso).slice(0, 10) : ''; }
function when(iso) {
  if (!iso || String(iso).startsWith('0001-')) return '';
  return String(iso).slice(0, 16).replace('T', ' ') + ' UTC';
}
function num(n) { return Number(n || 0).toLocaleString('en-US'); }
function plural(n, one, many) { return num(n) + ' ' + (n === 1 ? one : many || one + 's'); }
// pct is the change from prev to cur, rounded to a tenth as the reports do.
function pct(cur, prev) {
  if (!prev) return '–';
  const p = Math.round((cur - prev) / prev * 1000) / 10;
  return (p > 0 ? '+' : '') + p.toFixed(1) + '%';
}
function isoDay(d) { return d.toISOString().slice(0, 10); }
function addDays(s, n) { const d = new Date(s + 'T00:00:00Z'); d.setUTCDate(d.getUTCDate() + n); return isoDay(d); }

// The indicator categories, possible minors first, as the reports list them.
const CATEGORIES = [
  ['youth', 'Possible minor'], ['obfuscation', 'Obfuscation'], ['third_party', 'Third-party control'],
  ['stated_ethnicity', 'Stated ethnicity'], ['risky', 'Risky services'], ['restricted', 'Restricted'], ['movement', 'Movement'],
];
function categoryRank(c) { const i = CATEGORIES.findIndex(x => x[0] === c); return i < 0 ? CATEGORIES.length : i; }
function categoryLabel(c) { const x = CATEGORIES.find(x => x[0] === c); return x ? x[1] : String(c || '').replace(/_/g, ' '); }
function byCategory(list) { return [...(list || [])].sort((a, b) => categoryRank(a.category) - categoryRank(b.category) || (a.offset || 0) - (b.offset || 0)); }

const SEVERITIES = ['critical', 'high', 'medium', 'low'];
function severityRank(s) { const i = SEVERITIES.indexOf(s); return i < 0 ? SEVERITIES.length : i; }
function badge(text, cls) { return el('span', {class: 'badge ' + (cls || '')}, text); }
function ruleLabel(r) { return String(r || '').replace(/_/g, ' '); }

// notice shows a short message in the status line (read out by screen
// readers); error messages stay until the next one.
function notice(msg, isError) {
  const n = $('notice');
  fill(n, msg || '');
  n.className = 'notice' + (msg ? ' shown' : '') + (isError ? ' error' : '');
  if (!isError && msg) setTimeout(() => { if (n.textContent === msg) fill(n); n.className = 'notice'; }, 6000);
}

// failure is what a section shows when its data cannot be loaded.
function failure(err) { return el('p', {class: 'error', role: 'alert'}, err.message || String(err)); }

// section is a titled block of a page.
function section(title, attrs, ...kids) {
  const id = title && attrs && attrs.id ? attrs.id + '-h' : null;
  return el('section', Object.assign({'aria-labelledby': id}, attrs || {}), title ? el('h2', {id}, title) : null, ...kids);
}

// field is a labelled form control.
function field(label, control, hint) {
  return el('label', {class: 'field'}, el('span', {}, label), control, hint ? el('small', {class: 'muted'}, hint) : null);
}

// table builds a table: head is a list of column titles (a title ending
// in '#' is a number column), rows a list of lists of cells.
function table(head, rows, attrs) {
  const numeric = head.map(h => h.endsWith('#'));
  return el('table', attrs || {},
    el('thead', {}, el('tr', {}, head.map((h, i) => el('th', {scope: 'col', class: numeric[i] ? 'num' : null}, h.replace(/#$/, ''))))),
    el('tbody', {}, rows.map(r => el('tr', {}, r.map((c, i) => el('td', {class: numeric[i] ? 'num' : null}, c))))));
}

// pager draws page links for n items, per to a page, on the current URL.
function pager(n, per, current) {
  const pages = Math.ceil(n / per);
  if (pages <= 1) return null;
  const href = p => { const u = new URL(location.href); u.searchParams.set('page', p); return u.pathname + u.search; };
  const kids = [];
  for (let p = 1; p <= pages; p++) {
    if (pages > 9 && p > 2 && p < pages - 1 && Math.abs(p - current) > 2) { if (kids[kids.length - 1] !== '…') kids.push('…'); continue; }
    kids.push(p === current ? el('span', {class: 'current', 'aria-current': 'page'}, p) : el('a', {href: href(p)}, p));
  }
  return el('nav', {class: 'pager', 'aria-label': 'Pages'}, current > 1 ? el('a', {href: href(current - 1), rel: 'prev'}, '‹ Previous') : null,
    kids, current < pages ? el('a', {href: href(current + 1), rel: 'next'}, 'Next ›') : null);
}
function pageParam() { return Math.max(1, parseInt(new URLSearchParams(location.search).get('page'), 10) || 1); }

// page registers a drawer for the URL paths pattern matches
// ('/profiles/:id'): draw(main, params) fills main.
function page(pattern, title, draw) { AW.pages.push({parts: pattern.split('/').slice(1), title, draw}); }

function match(path) {
  const parts = path.split('/').slice(1);
  for (const p of AW.pages) {
    if (p.parts.length !== parts.length) continue;
    const params = {};
    let ok = true;
    p.parts.forEach((q, i) => {
      if (q.startsWith(':')) params[q.slice(1)] = decodeURIComponent(parts[i]);
      else if (q !== parts[i]) ok = false;
    });
    if (ok) return {p, params};
  }
  return null;
}

// The top bar: the pages the role may open, who is logged in, log out.
const NAV = [
  ['/search', 'Search', ['search']], ['/alerts', 'Alerts', ['alert-summaries']], ['/cases', 'Cases', ['cases']],
  ['/trends', 'Trends', ['trends']], ['/watchlist', 'Watchlist', ['watchlist']], ['/audit', 'Audit', ['audit-unit', 'audit-all']],
];
function topBar() {
  const here = '/' + location.pathname.split('/')[1];
  fill($('nav'), NAV.filter(([, , perms]) => can(...perms)).map(([href, text]) =>
    el('a', {href, class: here === href ? 'here' : null, 'aria-current': here === href ? 'page' : null}, text)));
  fill($('who'), el('span', {id: 'me'}, AW.me.user), ' ', el('span', {class: 'role', id: 'role'}, AW.me.role),
    el('button', {type: 'button', id: 'logout', class: 'quiet', onclick: async () => {
      await fetch('/api/logout', {method: 'POST'});
      location.assign('/login');
    }}, 'Log out'));
  const c = workingCase();
  if (c) {
    $('top').after(el('div', {class: 'casebar', id: 'casebar'}, 'Working for case ', link(caseHref(c), c),
      ': searches and views on these pages are filed under it in the audit log. ',
      el('a', {href: location.pathname + location.search.replace(/([?&])case=[^&]*&?/, '$1').replace(/[?&]$/, '')}, 'Stop')));
  }
}

async function boot() {
  try {
    AW.me = await api('/api/me');
  } catch (err) {
    fill($('main'), failure(err));
    return;
  }
  topBar();
  const m = match(location.pathname);
  const main = $('main');
  if (!m) { document.title = 'Not found · adwatch'; fill(main, el('h1', {}, 'Not found'), el('p', {}, 'No page here.')); return; }
  document.title = (typeof m.p.title === 'function' ? m.p.title(m.params) : m.p.title) + ' · adwatch';
  fill(main);
  try {
    await m.p.draw(main, m.params);
  } catch (err) {
    add(main, [failure(err)]);
  }
  main.dataset.ready = '1';
}
document.addEventListener('DOMContentLoaded', boot);
