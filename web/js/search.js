// The start page and the search page (/, /search).
'use strict';

// searchForm is the one search box: phone numbers in any format, partial
// numbers, names, handles or words, and the case it is for. It is a plain
// GET form: the URL holds the search, so it can be bookmarked and the
// browser's back button works.
function searchForm(q, caseNo, extra) {
  return el('form', {id: 'f', class: 'search', action: '/search', method: 'get', role: 'search',
    // Empty fields stay out of the URL.
    onsubmit: e => { for (const i of e.target.querySelectorAll('input,select')) if (i.value === '' && i.type !== 'radio') i.disabled = true; }},
    el('div', {class: 'row'},
      field('Phone, name, handle or words', el('input', {id: 'q', name: 'q', type: 'search', value: q || '', required: true,
        placeholder: '(510) 873-0123, 873-01, Rosa, IG: rosa.b, new in town', autocomplete: 'off', autofocus: true}), null),
      field('Case number', el('input', {id: 'case', name: 'case', value: caseNo || '', size: 12, placeholder: 'optional'})),
      el('button', {type: 'submit'}, 'Search')),
    extra || null);
}

page('/', 'Start', async main => {
  if (can('search')) {
    add(main, [el('h1', {class: 'sr-only'}, 'Start'), section('Search', {id: 'start-search'},
      el('p', {class: 'muted'}, 'Finds the ads and profiles behind a phone number written any way (digits, words, partly), a name, a handle or words from ads.'),
      searchForm('', workingCase()))]);
    if (can('alert-triage')) {
      const box = el('div', {id: 'alerts'}, el('p', {class: 'muted'}, 'Loading…'));
      add(main, [section('New alerts, gravest first', {id: 'start-alerts'}, box, el('p', {}, el('a', {href: '/alerts'}, 'All alerts ›')))]);
      try {
        const list = (await api('/api/alerts')).filter(a => a.status === 'new');
        list.sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || String(b.updated).localeCompare(String(a.updated)));
        fill(box, list.length ? el('ul', {class: 'alerts'}, list.slice(0, 10).map(a => alertItem(a, false))) : el('p', {class: 'muted'}, 'No new alerts.'));
      } catch (err) { fill(box, failure(err)); }
    }
    return;
  }
  if (can('audit-all')) return AW.draw('/audit', main);
  if (can('trends')) return AW.draw('/trends', main);
  add(main, [el('h1', {}, 'adwatch'), el('p', {}, 'Your role opens no page of the workspace.')]);
});

// AW.draw draws the page of another path into main (the start page of a
// role is the page it works in most).
AW.draw = (path, main) => { const m = match(path); return m.p.draw(main, m.params); };

// The filters the search page sends and, when the server does not apply
// them, applies itself to what it can see (city, site, dates).
const FILTERS = ['city', 'site', 'from', 'to', 'category', 'age_max'];
const PER_PAGE = 25;

page('/search', 'Search', async main => {
  const qs = new URLSearchParams(location.search);
  const q = qs.get('q') || '';
  const f = Object.fromEntries(FILTERS.map(k => [k, qs.get(k) || '']));
  const view = qs.get('view') === 'ads' ? 'ads' : 'profiles';
  const filters = el('fieldset', {class: 'filters', id: 'filters'}, el('legend', {}, 'Filters'),
    field('City', el('input', {id: 'fcity', name: 'city', value: f.city, size: 12, list: 'cities'})),
    field('Site', el('input', {id: 'fsite', name: 'site', value: f.site, size: 10})),
    field('Posted from', el('input', {id: 'ffrom', name: 'from', type: 'date', value: f.from})),
    field('to', el('input', {id: 'fto', name: 'to', type: 'date', value: f.to})),
    field('Indicator', el('select', {id: 'fcat', name: 'category'}, el('option', {value: ''}, 'any'),
      CATEGORIES.map(([v, t]) => el('option', {value: v, selected: f.category === v}, t)))),
    field('Stated age up to', el('input', {id: 'fage', name: 'age_max', type: 'number', min: 13, max: 99, value: f.age_max, size: 4})),
    el('fieldset', {class: 'view'}, el('legend', {}, 'Show'),
      el('label', {}, el('input', {type: 'radio', name: 'view', value: 'profiles', checked: view === 'profiles'}), ' profiles'),
      el('label', {}, el('input', {type: 'radio', name: 'view', value: 'ads', checked: view === 'ads'}), ' ads')));
  const out = el('div', {id: 'out', 'aria-live': 'polite'});
  add(main, [el('h1', {}, 'Search'),
    section(null, {id: 'search-box'}, searchForm(q, qs.get('case') || '', filters), photoForms()),
    el('div', {class: 'results'}, el('aside', {id: 'facets', class: 'facets', 'aria-label': 'Counts'}), out)]);
  if (!q) { fill(out, el('p', {class: 'muted'}, 'Type a phone number, a name, a handle or words, or choose a photo.')); return; }
  const params = new URLSearchParams({q});
  for (const k of FILTERS) if (f[k]) params.set(k, f[k]);
  if (pageParam() > 1) params.set('page', pageParam());
  let j;
  try { j = await api('/api/search?' + params); } catch (err) { fill(out, failure(err)); return; }
  let alertsByProfile = {};
  if (can('alert-triage')) {
    try { alertsByProfile = indexAlerts(await api('/api/alerts')); } catch { /* the results stand without badges */ }
  }
  drawResults(out, $('facets'), j, f, view, alertsByProfile);
});

// indexAlerts maps each profile to the alerts naming it, gravest first.
function indexAlerts(list) {
  const by = {};
  for (const a of list || []) for (const p of a.profiles || []) (by[p] = by[p] || []).push(a);
  for (const k in by) by[k].sort((a, b) => severityRank(a.severity) - severityRank(b.severity));
  return by;
}

function alertBadges(list) {
  if (!list || !list.length) return null;
  const open = list.filter(a => a.status !== 'dismissed' && a.status !== 'withdrawn');
  return el('span', {class: 'badges'}, open.slice(0, 3).map(a => el('a', {href: '/alerts/' + encodeURIComponent(a.key), class: 'badge ' + a.severity,
    title: a.summary || ''}, ruleLabel(a.rule))), open.length > 3 ? badge('+' + (open.length - 3)) : null);
}

// siteOf is an ad's site: its site field, or its id's prefix.
function siteOf(a) { return a.site || String(a.id).split(':')[0]; }

// drawResults shows a search answer. The server may answer with facets
// and paging (facets, total, page, per_page); when it does not, the page
// filters by city, site and date itself, counts the facets of what it
// got, and pages through it.
function drawResults(out, facetBox, j, f, view, alertsByProfile) {
  const ads = j.ads || [];
  const serverSide = !!j.facets;
  let shown = ads;
  const notes = [];
  if (!serverSide) {
    shown = ads.filter(a => (!f.city || (a.city || '').toLowerCase() === f.city.toLowerCase()) && (!f.site || siteOf(a) === f.site) &&
      (!f.from || day(a.posted_at) >= f.from) && (!f.to || day(a.posted_at) <= f.to));
    if (f.category || f.age_max) notes.push('This server does not filter by indicator or stated age yet: those filters are not applied.');
  }
  const facets = serverSide ? j.facets : {city: countBy(ads, a => a.city), site: countBy(ads, siteOf)};
  drawFacets(facetBox, facets);

  // Group the ads into profiles, in the order the server ranked them.
  const groups = new Map();
  for (const a of shown) {
    const g = groups.get(a.profile) || {id: a.profile, ads: [], cities: new Set(), last: ''};
    g.ads.push(a);
    if (a.city) g.cities.add(a.city);
    if (String(a.posted_at) > g.last) g.last = String(a.posted_at);
    groups.set(a.profile, g);
  }
  const info = {};
  for (const p of j.profiles || []) if (p && typeof p === 'object') info[p.id] = p;
  const nProfiles = groups.size;
  const count = el('p', {id: 'count', class: 'count'}, plural(serverSide && j.total_ads ? j.total_ads : shown.length, 'ad') + ' in ' + plural(nProfiles, 'profile'));
  const found = [];
  if (j.phones && j.phones.length) found.push('phone ', j.phones.map(p => el('code', {}, p)));
  if (j.handles && j.handles.length) found.push('handle ', j.handles.map(h => el('code', {}, h)));
  const head = el('div', {class: 'result-head'}, count,
    found.length ? el('p', {class: 'muted'}, 'Read as ', found) : null,
    shown.length < ads.length ? el('p', {class: 'muted'}, plural(ads.length - shown.length, 'ad') + ' found but hidden by the filters.') : null,
    notes.map(n => el('p', {class: 'muted'}, n)),
    workingCase() ? el('button', {type: 'button', class: 'secondary', id: 'save-search', onclick: async e => {
      try {
        await api('/api/cases/' + encodeURIComponent(workingCase()), {json: {op: 'add_search', text: j.query}});
        e.target.disabled = true; notice('Search saved to case ' + workingCase() + '.');
      } catch (err) { notice(err.message, true); }
    }}, 'Save this search to case ' + workingCase()) : null);

  const cur = pageParam();
  let list;
  if (view === 'ads') {
    const rows = serverSide ? shown : shown.slice((cur - 1) * PER_PAGE * 2, cur * PER_PAGE * 2);
    list = table(['Posted', 'City', 'Title', 'Profile'], rows.map(a => [when(a.posted_at), a.city, adLink(a.id, a.title || a.id),
      el('span', {}, profileLink(a.profile), ' ', alertBadges(alertsByProfile[a.profile]))]), {class: 'dense', id: 'ad-results'});
    fill(out, head, list, pager(serverSide ? j.total || 0 : shown.length, serverSide ? j.per_page || PER_PAGE : PER_PAGE * 2, cur));
    return;
  }
  const all = [...groups.values()];
  const rows = serverSide ? all : all.slice((cur - 1) * PER_PAGE, cur * PER_PAGE);
  list = el('ul', {class: 'profiles', id: 'profile-results'}, rows.map(g => profileCard(g, info[g.id] || {}, alertsByProfile[g.id])));
  fill(out, head, list, pager(serverSide ? j.total || 0 : all.length, serverSide ? j.per_page || PER_PAGE : PER_PAGE, cur));
}

function countBy(list, key) {
  const m = {};
  for (const x of list) { const k = key(x); if (k) m[k] = (m[k] || 0) + 1; }
  return m;
}

// drawFacets lists the counts by field; a value links to the search with
// that filter. A field's counts may come as {value: n} or [{value, count}].
function drawFacets(box, facets) {
  const names = {city: 'Cities', site: 'Sites', category: 'Indicators', age: 'Stated ages', day: 'Days'};
  fill(box);
  for (const [k, v] of Object.entries(facets || {})) {
    let pairs = Array.isArray(v) ? v.map(x => [x.value ?? x.key ?? x.name, x.count]) : Object.entries(v || {});
    if (!pairs.length) continue;
    if (k === 'category') pairs.sort((a, b) => categoryRank(a[0]) - categoryRank(b[0]));
    else pairs.sort((a, b) => b[1] - a[1]);
    const param = k === 'category' ? 'category' : k;
    add(box, [el('h3', {}, names[k] || k), el('ul', {class: 'facet', 'data-facet': k}, pairs.slice(0, 12).map(([val, n]) => {
      const u = new URL(location.href);
      const on = u.searchParams.get(param) === String(val);
      if (on) u.searchParams.delete(param); else u.searchParams.set(param, val);
      u.searchParams.delete('page');
      return el('li', {class: on ? 'on' : null}, el('a', {href: u.pathname + u.search, title: on ? 'Remove this filter' : 'Only these', 'aria-current': on ? 'true' : null},
        k === 'category' ? categoryLabel(val) : String(val), on ? ' ×' : ''), ' ', el('span', {class: 'n'}, num(n)));
    }))]);
  }
}

// profileCard is one profile in the results: its photo when the server
// gives one, phones, cities, when it was last seen, its ads and alerts.
function profileCard(g, p, alerts) {
  const thumb = p.thumbnail || p.photo || (p.images && p.images[0]);
  const phones = p.phones || [];
  const titles = [...g.ads].sort((a, b) => String(b.posted_at).localeCompare(String(a.posted_at)));
  return el('li', {class: 'card-row'},
    thumb && can('photos') ? el('img', {class: 'thumb', src: '/api/images/' + encodeURIComponent(thumb), alt: 'Photo from the profile', loading: 'lazy'}) : null,
    el('div', {class: 'grow'},
      el('div', {class: 'line'}, el('strong', {}, 'Profile '), profileLink(g.id), ' ', alertBadges(alerts)),
      el('div', {class: 'muted small'}, plural(p.ad_count || g.ads.length, 'ad'), ' · ', [...g.cities].join(', ') || 'no city',
        ' · last seen ', day(p.last || g.last), phones.length ? [' · ', phones.map(x => el('code', {}, x))] : null),
      el('ul', {class: 'titles'}, titles.slice(0, 3).map(a => el('li', {}, adLink(a.id, a.title || '(no title)'), ' ',
        el('span', {class: 'muted small'}, a.city, ', ', day(a.posted_at)))),
      titles.length > 3 ? el('li', {class: 'muted small'}, '+ ' + plural(titles.length - 3, 'more ad')) : null)));
}

// photoForms: find the profiles with a photo, or watch for it.
function photoForms() {
  const out = () => $('out');
  const form = el('form', {id: 'imgf', class: 'row photo'},
    field('Or a photo (found even re-encoded or cropped)', el('input', {type: 'file', id: 'img', accept: 'image/*'})),
    el('button', {type: 'submit', id: 'findimg'}, 'Find profiles'),
    el('button', {type: 'button', id: 'watchimg', class: 'secondary', title: 'Raise a watchlist alert on any new ad with this photo, even re-encoded or cropped'}, 'Watch for it'));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    const file = $('img').files[0];
    if (!file) { notice('Choose a photo first.', true); return; }
    try {
      const j = await api('/api/search/image', {body: file});
      fill($('facets'));
      fill(out(), el('p', {id: 'count', class: 'count'}, plural(j.profiles.length, 'profile') + ' with this photo'),
        el('p', {class: 'muted small'}, 'perceptual hash ', el('code', {}, j.phash)),
        el('ul', {class: 'profiles', id: 'profile-results'}, j.profiles.map(p => el('li', {class: 'card-row'},
          el('div', {class: 'grow'}, el('strong', {}, 'Profile '), profileLink(p))))));
    } catch (err) { fill(out(), failure(err)); }
  });
  form.querySelector('#watchimg').addEventListener('click', async () => {
    const file = $('img').files[0];
    if (!file) { notice('Choose a photo first.', true); return; }
    const fd = new FormData();
    fd.append('image', file);
    try {
      const j = await api('/api/watchlist', {body: fd});
      fill(out(), el('p', {id: 'watched'}, 'watching for this photo (perceptual hash ', el('code', {}, j.phash), ')'));
    } catch (err) { fill(out(), el('p', {id: 'watched', class: 'error'}, err.message)); }
  });
  return form;
}

// Back to a search page from the browser's cache: the fields left out of
// the URL on submit are usable again.
window.addEventListener('pageshow', () => { for (const i of document.querySelectorAll('#f [disabled]')) i.disabled = false; });
