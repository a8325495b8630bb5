// The profile, network and ad pages (/profiles/{id}, /networks/{id},
// /ads/{id}).
'use strict';

// utf8Len is the UTF-8 length of a code point: indicator offsets count
// bytes of the ad's title, a newline and its body.
function utf8Len(cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

// indicatorRanges turns an ad's indicators into [start, end) ranges of
// the JS string text (title + "\n" + body), each spanning as many words as
// its term has.
function indicatorRanges(text, indicators) {
  const at = new Map();
  let b = 0, i = 0;
  for (const ch of text) { at.set(b, i); b += utf8Len(ch.codePointAt(0)); i += ch.length; }
  at.set(b, i);
  const out = [];
  for (const ind of byCategory(indicators)) {
    if (!(ind.offset >= 0) || !at.has(ind.offset)) continue;
    const start = at.get(ind.offset);
    const words = Math.max(1, String(ind.term || '').trim().split(/\s+/).length);
    const m = new RegExp('^(?:[\\p{L}\\p{N}@$]+[^\\p{L}\\p{N}]+){' + (words - 1) + '}[\\p{L}\\p{N}@$]+', 'u').exec(text.slice(start));
    if (m) out.push({start, end: start + m[0].length, ind});
  }
  out.sort((a, b) => a.start - b.start || b.end - a.end);
  return out.filter((r, k) => k === 0 || r.start >= out[k - 1].end);
}

// marked is text[from, to) with the ranges in it marked: the indicator's
// category decides the mark's colour, its term and category are its title.
function marked(text, ranges, from, to) {
  const out = [];
  let pos = from;
  for (const r of ranges) {
    if (r.end <= from || r.start >= to) continue;
    const s = Math.max(r.start, from), e = Math.min(r.end, to);
    if (s > pos) out.push(text.slice(pos, s));
    out.push(el('mark', {class: 'ind cat-' + r.ind.category, title: categoryLabel(r.ind.category) + ': ' + r.ind.term}, text.slice(s, e)));
    pos = e;
  }
  if (pos < to) out.push(text.slice(pos, to));
  return out;
}

// adText is an ad's title and body with its indicator terms marked.
function adText(a) {
  const title = a.title || '', text = title + '\n' + (a.body || '');
  const ranges = indicatorRanges(text, a.indicators);
  return {title: marked(text, ranges, 0, title.length), body: marked(text, ranges, title.length + 1, text.length)};
}

// indicatorList lists an ad's or a profile's indicators, possible minors
// first, each term once with how often it occurs.
function indicatorList(indicators) {
  const seen = new Map();
  for (const i of byCategory(indicators)) {
    const k = i.category + '\u0000' + i.term;
    seen.set(k, {i, n: (seen.get(k) || {n: 0}).n + 1});
  }
  if (!seen.size) return null;
  return el('ul', {class: 'inds'}, [...seen.values()].map(({i, n}) =>
    el('li', {class: 'ind-item cat-' + i.category}, el('span', {class: 'cat'}, categoryLabel(i.category)), ' ', i.term, n > 1 ? el('span', {class: 'muted'}, ' ×' + n) : null)));
}

// photoOf lists the stored photos of ads, each once.
function photosOf(ads) {
  const seen = new Set(), out = [];
  for (const a of ads) for (const im of a.images || []) {
    if (im.sha256 && !im.error && !seen.has(im.sha256)) { seen.add(im.sha256); out.push({sha: im.sha256, ad: a}); }
  }
  return out;
}

function photo(sha, title) {
  const src = '/api/images/' + encodeURIComponent(sha);
  return el('a', {href: src, target: '_blank', rel: 'noopener', title: title || 'Open the photo'},
    el('img', {src, alt: 'Photo from an ad' + (title ? ' (' + title + ')' : ''), loading: 'lazy', class: 'photo'}));
}

// caseControl adds a profile or an ad to an open case.
function caseControl(op, id) {
  const box = el('form', {class: 'row inline', id: 'add-case'}, el('span', {class: 'muted'}, 'Loading cases…'));
  if (!can('cases')) return null;
  api('/api/cases').then(list => {
    const open = list.filter(c => !c.closed);
    if (!open.length) { fill(box, el('span', {class: 'muted'}, 'No open case to add it to ('), el('a', {href: '/cases'}, 'open one'), el('span', {class: 'muted'}, ')')); return; }
    const sel = el('select', {id: 'case-select', name: 'case'}, open.map(c => el('option', {value: c.number, selected: c.number === workingCase()}, c.number + (c.title ? ' – ' + c.title : ''))));
    fill(box, field('Case', sel), el('button', {type: 'submit', id: 'add-to-case', class: 'secondary'}, 'Add to case'));
    box.onsubmit = async e => {
      e.preventDefault();
      try {
        await api('/api/cases/' + encodeURIComponent(sel.value), {json: {op, id}});
        notice('Added to case ' + sel.value + '.');
        add(box, [el('span', {class: 'ok', id: 'added'}, ' added to ', el('a', {href: caseHref(sel.value)}, sel.value))]);
      } catch (err) { notice(err.message, true); }
    };
  }).catch(err => fill(box, failure(err)));
  return box;
}

page('/profiles/:id', p => 'Profile ' + p.id, async (main, {id}) => {
  const v = await api('/api/profiles/' + encodeURIComponent(id));
  const ads = [...v.ads].sort((a, b) => String(a.posted_at).localeCompare(String(b.posted_at)));
  const alertsBox = el('div', {id: 'profile-alerts'}, el('p', {class: 'muted'}, 'Loading…'));
  const network = v.network ? el('a', {id: 'network-link', href: withCase('/networks/' + encodeURIComponent(v.network) + '?profile=' + encodeURIComponent(v.id))},
    'Network ' + v.network) : null;
  const allInds = ads.flatMap(a => a.indicators || []);
  // How many other profiles use each phone or handle.
  const counts = Object.fromEntries((v.phone_profiles || []).map(x => [x.value, x.profiles]));
  const also = x => counts[x] ? el('span', {class: 'muted small'}, ' also in ' + plural(counts[x], 'other profile')) : null;
  const dl = (rows) => el('dl', {class: 'facts'}, rows.filter(r => r[1] !== null).flatMap(([k, val]) => [el('dt', {}, k), el('dd', {}, val)]));
  const listOf = (xs, code) => xs && xs.length ? xs.map((x, i) => [i ? ', ' : '', code ? el('code', {}, x) : x]) : el('span', {class: 'muted'}, 'none');
  add(main, [
    el('div', {class: 'page-head'}, el('h1', {id: 'profile-title'}, 'Profile ', el('span', {class: 'mono'}, v.id)),
      el('div', {class: 'actions'}, network, caseControl('add_profile', v.id))),
    el('div', {id: 'profile'},
      el('p', {class: 'summary'}, plural(v.ads.length, 'ad'), ', ', day(v.first), ' to ', day(v.last), ' in ', v.cities.join(', ')),
      el('div', {class: 'grid2'},
        section('Identifiers', {id: 'identifiers'}, dl([
          ['Phones', v.phones.length ? v.phones.map((p, i) => [i ? ', ' : '', el('code', {}, p), also(p)]) : el('span', {class: 'muted'}, 'none')],
          ['Handles', (v.handles || []).length ? v.handles.map((h, i) => [i ? ', ' : '', el('code', {}, h), also(h)]) : el('span', {class: 'muted'}, 'none')],
          ['Names', listOf(v.names)],
          ['Stated ages', v.ages && v.ages.length ? [v.ages.join(', '), v.age_spread >= 3 ? el('span', {class: 'warn small'}, ' (spread of ' + v.age_spread + ' years)') : null,
            statedAges(v.stated_ages)] : el('span', {class: 'muted'}, 'none')],
          ['Cities', listOf(v.cities)],
          ['Indicators', indicatorList(allInds) || el('span', {class: 'muted'}, 'none')],
        ])),
        section('Alerts', {id: 'alerts-section'}, alertsBox)),
      section('Photos', {id: 'photos-section'}, (() => {
        const ph = photosOf(ads);
        return ph.length ? el('div', {id: 'photos', class: 'photos'}, ph.map(x => photo(x.sha, x.ad.title))) : el('p', {class: 'muted'}, 'No stored photos.');
      })()),
      section('Timeline', {id: 'timeline'}, timeline(ads)),
      section('Ads', {id: 'ads'}, el('p', {class: 'muted small'}, 'Newest first. Marked words are indicator terms; source addresses are shown as text, not links.'),
        adList([...ads].reverse())),
      v.links && v.links.length ? section('Why these ads are one profile', {id: 'links'},
        table(['Ad', 'Ad', 'Evidence', 'Detail'], v.links.map(l => [adLink(l.a), adLink(l.b), l.evidence, l.detail || '']), {class: 'dense'})) : null,
      (v.network_profiles || []).length || (v.same_template || []).length ? section('Related profiles', {id: 'related'}, dl([
        ['Share a phone, email or handle', (v.network_profiles || []).length ? v.network_profiles.map((p, i) => [i ? ' ' : '', profileLink(p)]) : null],
        ['Same ad template', (v.same_template || []).length ? v.same_template.map((p, i) => [i ? ' ' : '', profileLink(p)]) : null],
      ])) : null),
  ]);
  if (!can('alert-triage')) { fill(alertsBox, el('p', {class: 'muted'}, 'Your role sees alert counts only.')); return; }
  try {
    const mine = await api('/api/alerts?profile=' + encodeURIComponent(v.id));
    mine.sort((a, b) => severityRank(a.severity) - severityRank(b.severity));
    fill(alertsBox, mine.length ? el('ul', {class: 'alerts'}, mine.map(a => alertItem(a, false))) : el('p', {class: 'muted'}, 'No alerts name this profile.'));
  } catch (err) { fill(alertsBox, failure(err)); }
});

// statedAges lists each age with the day and ad that stated it.
function statedAges(list) {
  if (!(list || []).length) return null;
  return el('details', {class: 'small', id: 'stated-ages'}, el('summary', {}, 'by day'),
    el('ul', {class: 'plain'}, list.map(s => el('li', {}, s.date, ': ', el('strong', {}, s.age), ' in ', adLink(s.ad)))));
}

// timeline is the profile's ads by day and city, with the ages stated
// that day: where the person was advertised, and when.
function timeline(ads) {
  const rows = new Map();
  for (const a of ads) {
    const k = day(a.posted_at) + '\u0000' + a.city;
    const r = rows.get(k) || {day: day(a.posted_at), city: a.city, ads: [], ages: new Set()};
    r.ads.push(a);
    for (const n of a.ages || []) r.ages.add(n);
    rows.set(k, r);
  }
  let prevCity = '';
  return table(['Day', 'City', 'Ads#', 'Stated ages', 'Titles'], [...rows.values()].map(r => {
    const moved = prevCity && r.city !== prevCity;
    prevCity = r.city;
    return [r.day, moved ? el('strong', {title: 'A new city'}, r.city) : r.city, r.ads.length, [...r.ages].sort().join(', '),
      r.ads.map((a, i) => [i ? ' · ' : '', adLink(a.id, a.title || '(no title)'),
        (a.versions || []).length ? [' ', el('span', {class: 'badge medium versions', title: 'The ad was changed after it was first captured'}, plural(a.versions.length, 'earlier version'))] : null])];
  }), {class: 'dense', id: 'timeline-table'});
}

// adList shows ads in full: title and text with indicators marked, where
// and when, the source address as text and when it was captured.
function adList(ads) {
  const LIMIT = 40;
  const box = el('div', {class: 'adlist'});
  const draw = n => fill(box, ads.slice(0, n).map(adArticle),
    ads.length > n ? el('button', {type: 'button', class: 'secondary', onclick: () => draw(ads.length)}, 'Show all ' + ads.length + ' ads') : null);
  draw(LIMIT);
  return box;
}

function adArticle(a) {
  const t = adText(a);
  return el('article', {class: 'ad', 'data-ad': a.id},
    el('h3', {}, t.title.length ? t.title : '(no title)'),
    el('p', {class: 'meta'}, when(a.posted_at), ' · ', a.city || 'no city', ' · ', a.site || siteOf(a), a.poster ? [' · posted as ', el('q', {}, a.poster)] : null,
      (a.ages || []).length ? ' · stated age ' + a.ages.join(', ') : null, ' · ', adLink(a.id, 'capture and fields')),
    indicatorList(a.indicators),
    el('p', {class: 'body'}, t.body),
    el('p', {class: 'source small'}, 'Source ', el('code', {class: 'url'}, a.url || 'unknown'), ' · captured ', when(a.fetched_at) || 'unknown',
      (a.phones || []).length ? [' · phones ', a.phones.map((p, i) => [i ? ', ' : '', el('code', {}, p.e164), p.obfuscated ? el('span', {class: 'muted'}, ' (written to hide it)') : null])] : null));
}

// The network page: how big it is over all time and lately, its member
// profiles, the identifiers joining them (and those too common to join
// anything, capped), and the graph the server draws.
const KIND_LABELS = {phone: 'Phone', contact: 'Email or contact', social: 'Social handle'};

page('/networks/:id', p => 'Network ' + p.id, async (main, {id}) => {
  add(main, [el('h1', {id: 'network-title'}, 'Network ', el('span', {class: 'mono'}, id))]);
  const body = el('div', {id: 'network'});
  add(main, [body]);
  const n = await api('/api/networks/' + encodeURIComponent(id));
  const sz = n.size || {};
  const graph = el('img', {id: 'graph', src: withCase('/api/networks/' + encodeURIComponent(id) + '/graph.svg'), class: 'graph',
    alt: 'Graph of the network: profiles (circles) joined by the phones, contacts and handles (squares) they share'});
  graph.addEventListener('error', () => graph.replaceWith(el('p', {class: 'error', id: 'graph-missing'}, 'The graph could not be drawn.')));
  const idRows = list => list.map(s => [KIND_LABELS[s.kind] || s.kind, el('code', {}, s.value),
    [(s.profiles || []).map((p, i) => [i ? ' ' : '', profileLink(p)]), s.all_profiles > (s.profiles || []).length ? el('span', {class: 'muted small'}, ' (' + num(s.all_profiles) + ' in all)') : null]]);
  add(body, [
    el('div', {class: 'sizes', id: 'network-size'},
      el('div', {class: 'size-box'}, el('span', {class: 'big'}, num(sz.profiles)), el('span', {}, (sz.profiles === 1 ? 'profile' : 'profiles') + ' over all time'),
        el('span', {class: 'muted small'}, plural(sz.ads, 'ad'))),
      el('div', {class: 'size-box recent'}, el('span', {class: 'big'}, num(sz.profiles_last_30_days)), el('span', {}, 'in the last 30 days'),
        el('span', {class: 'muted small'}, plural(sz.ads_last_30_days, 'ad')))),
    el('p', {class: 'summary', id: 'network-summary'}, plural(sz.profiles, 'profile') + ' over all time, ' + num(sz.profiles_last_30_days) + ' in the last 30 days; ' +
      plural((n.identifiers || []).filter(x => (x.profiles || []).length > 1).length, 'identifier') + ' shared by more than one profile.'),
    el('div', {class: 'grid2'},
      section('Members', {id: 'members'}, table(['Profile', 'Ads#', 'Cities', 'First seen', 'Last seen'], (n.profiles || []).map(m =>
        [profileLink(m.id), num(m.ads), (m.cities || []).join(', '), day(m.first), day(m.last)]), {class: 'dense'})),
      section('Identifiers', {id: 'shared'}, (n.identifiers || []).length
        ? table(['Kind', 'Value', 'Profiles'], idRows(n.identifiers), {class: 'dense'}) : el('p', {class: 'muted'}, 'None.'),
        (n.capped || []).length ? [el('h3', {}, 'Too common to join profiles'),
          el('p', {class: 'muted small'}, 'Used by more than ' + plural(n.max_profiles_per_link, 'profile') + ' (a switchboard, an agency, a placeholder): not counted as a link.'),
          table(['Kind', 'Value', 'Profiles'], idRows(n.capped), {class: 'dense', id: 'capped'})] : null)),
    section('Graph', {id: 'graph-section'}, el('p', {class: 'muted small'}, 'Circles are profiles, squares the identifiers they share; grey dashed ones are too common to count.'), graph),
  ]);
});

// sanitize makes a captured page safe to show: the server sends it
// sanitised; this strips scripts, frames, forms, handlers and anything
// that would load from elsewhere once more, and the page is shown in a
// sandboxed frame without scripts besides.
function sanitize(html) {
  const doc = new DOMParser().parseFromString(html, 'text/html');
  doc.querySelectorAll('script,iframe,frame,frameset,object,embed,applet,link,meta,base,form,noscript,template,audio,video,source,track,portal')
    .forEach(n => n.remove());
  const strip = s => s.replace(/@import[^;]*;?/gi, '').replace(/url\s*\([^)]*\)/gi, 'none').replace(/expression\s*\(/gi, '(');
  doc.querySelectorAll('style').forEach(s => { s.textContent = strip(s.textContent); });
  // The sandboxed frame has no session to load photos with: a photo the
  // server kept is named instead (they are shown beside the capture).
  for (const img of doc.querySelectorAll('img')) {
    const m = /^\/api\/images\/([0-9a-f]{64})$/.exec(img.getAttribute('src') || '');
    if (m) img.replaceWith(Object.assign(doc.createElement('span'), {className: 'kept-photo', textContent: '[photo kept: ' + m[1].slice(0, 12) + '…]'}));
  }
  for (const n of doc.querySelectorAll('*')) {
    for (const a of [...n.attributes]) {
      const name = a.name.toLowerCase();
      if (name.startsWith('on') || ['src', 'srcset', 'srcdoc', 'poster', 'background', 'action', 'formaction', 'xlink:href', 'ping', 'data'].includes(name)) {
        n.removeAttribute(a.name);
      } else if (name === 'href') {
        n.setAttribute('title', a.value);
        n.removeAttribute(a.name);
      } else if (name === 'style') {
        n.setAttribute('style', strip(a.value));
      }
    }
  }
  return '<!doctype html><html><head><meta charset="utf-8"><style>body{font:14px/1.4 system-ui,sans-serif;margin:12px;color:#222}' +
    'img{display:inline-block;min-width:48px;min-height:32px;background:#e7ebf1;outline:1px dashed #aab}' +
    '.kept-photo{display:inline-block;padding:4px 8px;background:#e7ebf1;border:1px dashed #aab;font-size:12px;color:#445}</style>' + doc.head.innerHTML + '</head>' + doc.body.outerHTML + '</html>';
}

page('/ads/:id', p => 'Ad ' + p.id, async (main, {id}) => {
  const [r, cap] = await Promise.all([api('/api/ads/' + encodeURIComponent(id)),
    api('/api/ads/' + encodeURIComponent(id) + '/capture').catch(err => ({err}))]);
  const a = r.ad;
  const t = adText(a);
  const dl = rows => el('dl', {class: 'facts'}, rows.filter(x => x[1] !== null && x[1] !== '' && !(Array.isArray(x[1]) && !x[1].length)).flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  add(main, [
    el('div', {class: 'page-head'}, el('h1', {id: 'ad-title'}, t.title.length ? t.title : '(no title)'),
      el('div', {class: 'actions'}, r.profile ? el('span', {}, 'Profile ', profileLink(r.profile)) : null,
        r.network ? el('a', {href: withCase('/networks/' + encodeURIComponent(r.network) + '?profile=' + encodeURIComponent(r.profile))}, 'Network ' + r.network) : null,
        caseControl('add_ad', a.id))),
    el('div', {class: cap.err ? 'stack' : 'grid2'},
      section('Capture', {id: 'capture'}, captureView(a, cap)),
      section('Extracted fields', {id: 'fields'}, dl([
        ['Ad', el('code', {}, a.id)], ['Site', a.site || siteOf(a)], ['Posted', when(a.posted_at)], ['City', a.city], ['Posted as', a.poster || ''],
        ['Phones', (a.phones || []).length ? a.phones.map((p, i) => [i ? ', ' : '', el('code', {}, p.e164), p.obfuscated ? ' (written to hide it)' : '']) : ''],
        ['Stated ages', (a.ages || []).join(', ')],
        ['Handles', (a.handles || []).map((h, i) => [i ? ', ' : '', el('code', {}, h)])],
        ['Indicators', indicatorList(a.indicators)],
        ['Scores', Object.entries(a.scores || {}).sort((x, y) => categoryRank(x[0]) - categoryRank(y[0])).map(([k, v]) => categoryLabel(k) + ' ' + v).join(' · ')],
        ['Page SHA-256', el('code', {class: 'hash'}, a.page_sha256)],
        ['Source', el('code', {class: 'url'}, a.url || 'unknown')], ['Captured', when(a.fetched_at)],
        ['Problems', (a.problems || []).join('; ')],
      ]), el('h3', {}, 'Text'), el('p', {class: 'body', id: 'ad-body'}, t.body),
      photosOf([a]).length ? el('div', {class: 'photos', id: 'photos'}, photosOf([a]).map(x => photo(x.sha))) : null)),
    (a.versions || []).length ? section('Earlier versions', {id: 'versions'},
      el('p', {class: 'muted small'}, 'The ad changed after it was first captured; what it said before, oldest first. Each version is searchable.'),
      a.versions.map(versionArticle)) : null,
  ]);
});

// versionArticle is one earlier capture of an ad: what it said then.
function versionArticle(v) {
  const t = adText({title: v.title, body: v.body});
  return el('article', {class: 'ad version', 'data-version': v.version},
    el('h3', {}, 'Version ', el('span', {class: 'mono'}, v.version || ''), ': ', t.title.length ? t.title : '(no title)'),
    el('p', {class: 'meta'}, 'captured ', when(v.fetched_at) || 'unknown',
      (v.ages || []).length ? ' · stated age ' + v.ages.join(', ') : null,
      (v.phones || []).length ? [' · phones ', v.phones.map((p, i) => [i ? ', ' : '', el('code', {}, p.e164 || p)])] : null,
      (v.handles || []).length ? [' · handles ', v.handles.map((h, i) => [i ? ', ' : '', el('code', {}, h)])] : null),
    el('p', {class: 'body'}, t.body),
    el('p', {class: 'source small'}, 'Page SHA-256 ', el('code', {class: 'hash'}, v.page_sha256 || '')));
}

// captureView shows the page as captured, with its SHA-256 and whether the
// stored bytes still match it; without the capture API, why not.
function captureView(a, cap) {
  if (cap.err) {
    return el('p', {class: 'notice-box', id: 'capture-missing'}, cap.err.missing
      ? 'This server does not serve captured pages yet (GET /api/ads/{id}/capture); the fields extracted from it are shown.'
      : cap.err.message);
  }
  const status = cap.status || (cap.verified ? 'verified' : 'altered');
  if (status === 'not_kept') {
    return [el('dl', {class: 'facts'},
      el('dt', {}, 'SHA-256'), el('dd', {}, el('code', {class: 'hash', id: 'capture-sha'}, cap.page_sha256 || a.page_sha256)),
      el('dt', {}, 'Captured'), el('dd', {}, when(cap.fetched_at || a.fetched_at)),
      el('dt', {}, 'Source'), el('dd', {}, el('code', {class: 'url'}, cap.url || a.url || ''))),
    el('p', {class: 'notice-box', id: 'capture-missing'}, 'The page as captured is no longer kept (the pages stream holds it for a limited time); the fields extracted from it are shown.')];
  }
  const frame = el('iframe', {sandbox: '', title: 'The ad page as captured (no scripts, nothing loaded from elsewhere)', class: 'capture', id: 'capture-frame', referrerpolicy: 'no-referrer'});
  frame.srcdoc = sanitize(cap.html || '');
  return [el('dl', {class: 'facts'},
    el('dt', {}, 'SHA-256'), el('dd', {}, el('code', {class: 'hash', id: 'capture-sha'}, cap.page_sha256 || a.page_sha256)),
    el('dt', {}, 'Integrity'), el('dd', {id: 'capture-verified'}, status === 'verified' ? badge('the stored page matches this hash', 'ok')
      : [badge('altered: the stored page differs from this hash', 'high'), cap.stored_sha256 ? [' stored ', el('code', {class: 'hash'}, cap.stored_sha256)] : null]),
    el('dt', {}, 'Captured'), el('dd', {}, when(cap.fetched_at || a.fetched_at)),
    el('dt', {}, 'Source'), el('dd', {}, el('code', {class: 'url'}, cap.url || a.url || '')),
    cap.sequence ? [el('dt', {}, 'Stream message'), el('dd', {}, num(cap.sequence))] : null), frame];
}
