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
  const counts = v.phone_profiles || v.phone_counts || {};
  const dl = (rows) => el('dl', {class: 'facts'}, rows.filter(r => r[1] !== null).flatMap(([k, val]) => [el('dt', {}, k), el('dd', {}, val)]));
  const listOf = (xs, code) => xs && xs.length ? xs.map((x, i) => [i ? ', ' : '', code ? el('code', {}, x) : x]) : el('span', {class: 'muted'}, 'none');
  add(main, [
    el('div', {class: 'page-head'}, el('h1', {id: 'profile-title'}, 'Profile ', el('span', {class: 'mono'}, v.id)),
      el('div', {class: 'actions'}, network, caseControl('add_profile', v.id))),
    el('div', {id: 'profile'},
      el('p', {class: 'summary'}, plural(v.ads.length, 'ad'), ', ', day(v.first), ' to ', day(v.last), ' in ', v.cities.join(', ')),
      el('div', {class: 'grid2'},
        section('Identifiers', {id: 'identifiers'}, dl([
          ['Phones', v.phones.length ? v.phones.map((p, i) => [i ? ' ' : '', el('code', {}, p),
            counts[p] ? el('span', {class: 'muted small'}, ' also in ' + plural(counts[p], 'other profile')) : null]) : el('span', {class: 'muted'}, 'none')],
          ['Handles', listOf(v.handles, true)],
          ['Names', listOf(v.names)],
          ['Stated ages', v.ages && v.ages.length ? [v.ages.join(', '), v.age_spread >= 3 ? el('span', {class: 'warn small'}, ' (spread of ' + v.age_spread + ' years)') : null] : el('span', {class: 'muted'}, 'none')],
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
    const mine = (await api('/api/alerts')).filter(a => (a.profiles || []).includes(v.id) || a.entity === 'profile:' + v.id);
    mine.sort((a, b) => severityRank(a.severity) - severityRank(b.severity));
    fill(alertsBox, mine.length ? el('ul', {class: 'alerts'}, mine.map(a => alertItem(a, false))) : el('p', {class: 'muted'}, 'No alerts name this profile.'));
  } catch (err) { fill(alertsBox, failure(err)); }
});

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
      r.ads.map((a, i) => [i ? ' · ' : '', adLink(a.id, a.title || '(no title)')])];
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

// The network page: its member profiles, the identifiers they share and
// the graph the server draws. Until the server has the network API it
// shows what the profile page knows (?profile=).
page('/networks/:id', p => 'Network ' + p.id, async (main, {id}) => {
  add(main, [el('h1', {id: 'network-title'}, 'Network ', el('span', {class: 'mono'}, id))]);
  const body = el('div', {id: 'network'});
  add(main, [body]);
  let n;
  try {
    n = await api('/api/networks/' + encodeURIComponent(id));
  } catch (err) {
    if (!err.missing) { add(body, [failure(err)]); return; }
    add(body, [el('p', {class: 'notice-box', id: 'network-pending'}, 'This server has no network view yet (GET /api/networks/{id}). What the profile page knows is shown instead.')]);
    const from = new URLSearchParams(location.search).get('profile');
    if (!from) return;
    const v = await api('/api/profiles/' + encodeURIComponent(from));
    add(body, [section('Members', {id: 'members'}, el('ul', {class: 'plain'}, [v.id, ...(v.network_profiles || [])].map(p => el('li', {}, profileLink(p))))),
      section('Identifiers of profile ' + v.id, {id: 'shared'}, el('p', {}, 'Phones: ', v.phones.map((p, i) => [i ? ', ' : '', el('code', {}, p)])),
        (v.handles || []).length ? el('p', {}, 'Handles: ', v.handles.map((p, i) => [i ? ', ' : '', el('code', {}, p)])) : null)]);
    return;
  }
  const members = n.members || n.profiles || [];
  const shared = n.shared || n.identifiers || n.contacts || [];
  const graph = el('img', {id: 'graph', src: '/api/networks/' + encodeURIComponent(id) + '/graph.svg', class: 'graph',
    alt: 'Graph of the network: profiles joined by the phones, handles and photos they share'});
  graph.addEventListener('error', () => graph.replaceWith(el('p', {class: 'muted', id: 'graph-missing'}, 'The graph cannot be drawn on this server yet.')));
  add(body, [
    el('p', {class: 'summary'}, plural(members.length, 'profile'), shared.length ? ', ' + plural(shared.length, 'shared identifier') : ''),
    section('Graph', {id: 'graph-section'}, graph),
    section('Members', {id: 'members'}, table(['Profile', 'Ads#', 'Cities', 'Phones', 'Last seen'], members.map(m => {
      const o = typeof m === 'string' ? {id: m} : m;
      return [profileLink(o.id || o.profile), o.ads === undefined ? '' : Array.isArray(o.ads) ? o.ads.length : o.ads,
        (o.cities || []).join(', '), (o.phones || []).map((p, i) => [i ? ', ' : '', el('code', {}, p)]), day(o.last || o.last_seen)];
    }), {class: 'dense'})),
    shared.length ? section('Shared identifiers', {id: 'shared'}, table(['Kind', 'Value', 'Profiles'], shared.map(s => {
      const o = typeof s === 'string' ? {value: s} : s;
      return [o.kind || '', el('code', {}, o.value || o.id || ''), (o.profiles || []).map((p, i) => [i ? ' ' : '', profileLink(p)])];
    }), {class: 'dense'})) : null,
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
    'img{display:inline-block;min-width:48px;min-height:32px;background:#e7ebf1;outline:1px dashed #aab}</style>' + doc.head.innerHTML + '</head>' + doc.body.outerHTML + '</html>';
}

// captureHTML is the capture's HTML as text (a JSON byte slice arrives
// base64-encoded).
function captureHTML(c) {
  const h = c.html || '';
  if (h.includes('<') || !/^[A-Za-z0-9+/=\s]+$/.test(h)) return h;
  try { return new TextDecoder().decode(Uint8Array.from(atob(h), ch => ch.charCodeAt(0))); } catch { return h; }
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
  ]);
});

// captureView shows the page as captured, with its SHA-256 and whether the
// stored bytes still match it; without the capture API, why not.
function captureView(a, cap) {
  if (cap.err) {
    return el('p', {class: 'notice-box', id: 'capture-missing'}, cap.err.missing
      ? 'This server does not serve captured pages yet (GET /api/ads/{id}/capture); the fields extracted from it are shown.'
      : cap.err.message);
  }
  const frame = el('iframe', {sandbox: '', title: 'The ad page as captured (no scripts, nothing loaded from elsewhere)', class: 'capture', id: 'capture-frame', referrerpolicy: 'no-referrer'});
  frame.srcdoc = sanitize(captureHTML(cap));
  return [el('dl', {class: 'facts'},
    el('dt', {}, 'SHA-256'), el('dd', {}, el('code', {class: 'hash', id: 'capture-sha'}, cap.page_sha256 || a.page_sha256)),
    el('dt', {}, 'Integrity'), el('dd', {id: 'capture-verified'}, cap.verified ? badge('matches the stored page', 'ok') : badge('does not match: the stored page differs from its hash', 'high')),
    el('dt', {}, 'Captured'), el('dd', {}, when(cap.fetched_at || a.fetched_at)),
    el('dt', {}, 'Source'), el('dd', {}, el('code', {class: 'url'}, cap.url || a.url || ''))), frame];
}
