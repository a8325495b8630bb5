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
        const list = await api('/api/alerts?status=new');
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

// The filters the search page sends; the server applies them all and
// counts the facets of what matches.
const FILTERS = ['city', 'site', 'from', 'to', 'category', 'min_age', 'max_age'];
const PER_PAGE = {profiles: 25, ads: 50};
const MAX_DEPTH = 10000; // how deep the server pages

page('/search', 'Search', async main => {
  const qs = new URLSearchParams(location.search);
  const q = qs.get('q') || '';
  const f = Object.fromEntries(FILTERS.map(k => [k, qs.get(k) || '']));
  const by = qs.get('by') === 'ads' ? 'ads' : 'profiles';
  const filters = el('fieldset', {class: 'filters', id: 'filters'}, el('legend', {}, 'Filters'),
    field('City', el('input', {id: 'fcity', name: 'city', value: f.city, size: 12, list: 'cities'})),
    field('Site', el('input', {id: 'fsite', name: 'site', value: f.site, size: 10})),
    field('Posted from', el('input', {id: 'ffrom', name: 'from', type: 'date', value: f.from})),
    field('to', el('input', {id: 'fto', name: 'to', type: 'date', value: f.to})),
    field('Indicator', el('select', {id: 'fcat', name: 'category'}, el('option', {value: ''}, 'any'),
      CATEGORIES.map(([v, t]) => el('option', {value: v, selected: f.category === v}, t)))),
    field('Stated age from', el('input', {id: 'fminage', name: 'min_age', type: 'number', min: 1, max: 120, value: f.min_age, size: 4})),
    field('to', el('input', {id: 'fage', name: 'max_age', type: 'number', min: 1, max: 120, value: f.max_age, size: 4})),
    el('fieldset', {class: 'view'}, el('legend', {}, 'Show'),
      el('label', {}, el('input', {type: 'radio', name: 'by', value: 'profiles', checked: by === 'profiles'}), ' profiles'),
      el('label', {}, el('input', {type: 'radio', name: 'by', value: 'ads', checked: by === 'ads'}), ' ads')));
  const out = el('div', {id: 'out', 'aria-live': 'polite'});
  add(main, [el('h1', {}, 'Search'),
    section(null, {id: 'search-box'}, searchForm(q, qs.get('case') || '', filters), photoForms()),
    el('div', {class: 'results'}, el('aside', {id: 'facets', class: 'facets', 'aria-label': 'Counts'}), out)]);
  if (!q && !FILTERS.some(k => f[k])) { fill(out, el('p', {class: 'muted'}, 'Type a phone number, a name, a handle or words, or choose a photo.')); return; }
  const params = new URLSearchParams();
  if (q) params.set('q', q);
  for (const k of FILTERS) if (f[k]) params.set(k, f[k]);
  params.set('by', by);
  params.set('size', PER_PAGE[by]);
  params.set('page', Math.min(pageParam(), Math.floor(MAX_DEPTH / PER_PAGE[by])));
  let j;
  try { j = await api('/api/search?' + params); } catch (err) { fill(out, failure(err)); return; }
  let alertsByProfile = {};
  if (can('alert-triage')) {
    try { alertsByProfile = indexAlerts(await api('/api/alerts')); } catch { /* the results stand without badges */ }
  }
  drawResults(out, $('facets'), j, f, by, alertsByProfile);
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

// titleCase shows a lowercase facet value (cities) the way people write it.
function titleCase(s) { return String(s).replace(/(^|[\s-])\p{Ll}/gu, m => m.toUpperCase()); }

// FILTER_NAMES label the active filters above the results.
const FILTER_NAMES = {city: 'city', site: 'site', from: 'posted from', to: 'posted to', category: 'indicator', min_age: 'stated age from', max_age: 'stated age to'};

// drawResults shows a search answer: the server filters, pages (page,
// size, total ads, profile_total profiles) and counts the facets.
function drawResults(out, facetBox, j, f, by, alertsByProfile) {
  const ads = j.ads || [];
  drawFacets(facetBox, j.facets || {});
  const cur = j.page || 1, size = j.size || PER_PAGE[by];
  const nProfiles = by === 'profiles' ? j.profile_total || 0 : (j.profiles || []).length;
  const count = el('p', {id: 'count', class: 'count'}, plural(j.total || 0, 'ad') +
    (by === 'profiles' ? ' in ' + plural(nProfiles, 'profile') : j.total > ads.length ? '' : ' in ' + plural(nProfiles, 'profile')));
  const found = [];
  if (j.phones && j.phones.length) found.push('phone ', j.phones.map((p, i) => [i ? ', ' : '', el('code', {}, p)]));
  if (j.handles && j.handles.length) found.push(found.length ? '; ' : '', 'handle ', j.handles.map((h, i) => [i ? ', ' : '', el('code', {}, h)]));
  if (j.phone_part) found.push('part of a phone number ', el('code', {}, j.phone_part));
  const active = FILTERS.filter(k => f[k]);
  const clear = () => { const u = new URL(location.href); for (const k of FILTERS) u.searchParams.delete(k); u.searchParams.delete('page'); return u.pathname + u.search; };
  const head = el('div', {class: 'result-head'}, count,
    found.length ? el('p', {class: 'muted'}, 'Read as ', found) : null,
    active.length ? el('p', {class: 'muted', id: 'active-filters'}, 'Only ads matching ',
      active.map((k, i) => [i ? ', ' : '', FILTER_NAMES[k], ' ', el('strong', {}, k === 'category' ? categoryLabel(f[k]) : f[k])]),
      '; other ads found are hidden by the filters. ', el('a', {href: clear(), id: 'clear-filters'}, 'Clear the filters')) : null,
    workingCase() ? el('button', {type: 'button', class: 'secondary', id: 'save-search', onclick: async e => {
      try {
        await api('/api/cases/' + encodeURIComponent(workingCase()), {json: {op: 'add_search', text: j.query}});
        e.target.disabled = true; notice('Search saved to case ' + workingCase() + '.');
      } catch (err) { notice(err.message, true); }
    }}, 'Save this search to case ' + workingCase()) : null);
  const limit = n => Math.min(n, MAX_DEPTH);
  if (by === 'ads') {
    const list = ads.length ? table(['Posted', 'City', 'Title', 'Profile'], ads.map(a => [when(a.posted_at), a.city, adLink(a.id, a.title || a.id),
      el('span', {}, profileLink(a.profile), ' ', alertBadges(alertsByProfile[a.profile]))]), {class: 'dense', id: 'ad-results'}) : el('p', {class: 'muted'}, 'No ad matches.');
    fill(out, head, list, pager(limit(j.total || 0), size, cur));
    return;
  }
  const adsOf = {};
  for (const a of ads) (adsOf[a.profile] = adsOf[a.profile] || []).push(a);
  const profiles = j.profile_results || [];
  const list = profiles.length ? el('ul', {class: 'profiles', id: 'profile-results'}, profiles.map(p => profileCard(p, adsOf[p.id] || [], alertsByProfile[p.id])))
    : el('p', {class: 'muted'}, 'No profile matches.');
  fill(out, head, list, pager(limit(nProfiles), size, cur));
}

// facetHref is the current search with a facet value's filter set, or
// removed when it is set already; on says which.
function facetHref(k, val) {
  const u = new URL(location.href);
  let set = {};
  if (k === 'age') {
    const band = {'under 18': ['', '17'], '18-20': ['18', '20'], '21-25': ['21', '25'], '26+': ['26', '']}[val] || ['', ''];
    set = {min_age: band[0], max_age: band[1]};
  } else if (k === 'month') {
    const [y, m] = String(val).split('-').map(Number);
    set = {from: val + '-01', to: isoDay(new Date(Date.UTC(y, m, 0)))};
  } else set = {[k]: val};
  const on = Object.entries(set).every(([p, v]) => (u.searchParams.get(p) || '').toLowerCase() === v.toLowerCase());
  for (const [p, v] of Object.entries(set)) { if (on || !v) u.searchParams.delete(p); else u.searchParams.set(p, v); }
  u.searchParams.delete('page');
  return {href: u.pathname + u.search, on};
}

// drawFacets lists the counts of the matching ads by city, site,
// indicator, stated age and month; a value links to the search with that
// filter (or without it, when it is set).
function drawFacets(box, facets) {
  const names = {city: 'Cities', site: 'Sites', category: 'Indicators', age: 'Stated ages', month: 'Months posted'};
  const show = {city: titleCase, category: categoryLabel};
  fill(box);
  for (const k of ['category', 'age', 'city', 'site', 'month']) {
    const pairs = (facets[k] || []).map(x => [x.value, x.count]);
    if (!pairs.length) continue;
    if (k === 'category') pairs.sort((a, b) => categoryRank(a[0]) - categoryRank(b[0]));
    if (k === 'month') pairs.sort((a, b) => String(b[0]).localeCompare(String(a[0])));
    add(box, [el('h3', {}, names[k]), el('ul', {class: 'facet', 'data-facet': k}, pairs.slice(0, 12).map(([val, n]) => {
      const {href, on} = facetHref(k, val);
      return el('li', {class: on ? 'on' : null}, el('a', {href, title: on ? 'Remove this filter' : 'Only these', 'aria-current': on ? 'true' : null},
        (show[k] || String)(val), on ? ' ×' : ''), ' ', el('span', {class: 'n'}, num(n)));
    }))]);
  }
}

// profileCard is one profile in the results: its photo, phones, cities,
// stated ages, when it was first and last seen, the matching ads of this
// page and its alerts.
function profileCard(p, ads, alerts) {
  const titles = [...ads].sort((a, b) => String(b.posted_at).localeCompare(String(a.posted_at)));
  return el('li', {class: 'card-row'},
    p.photo && can('photos') ? el('img', {class: 'thumb', src: '/api/images/' + encodeURIComponent(p.photo), alt: 'Photo from the profile', loading: 'lazy'})
      : el('div', {class: 'thumb none', 'aria-hidden': 'true'}),
    el('div', {class: 'grow'},
      el('div', {class: 'line'}, el('strong', {}, 'Profile '), profileLink(p.id), ' ', alertBadges(alerts)),
      el('div', {class: 'muted small'}, plural(p.ads, 'ad') + ' in all', ' · ', (p.cities || []).join(', ') || 'no city',
        (p.ages || []).length ? ' · stated age ' + p.ages.join(', ') : '',
        ' · ', day(p.first), ' to ', day(p.last_seen)),
      (p.phones || []).length ? el('div', {class: 'small'}, p.phones.map((x, i) => [i ? ' ' : '', el('code', {}, x)])) : null,
      titles.length ? el('ul', {class: 'titles'}, titles.slice(0, 3).map(a => el('li', {}, adLink(a.id, a.title || '(no title)'), ' ',
        el('span', {class: 'muted small'}, a.city, ', ', day(a.posted_at)))),
      titles.length > 3 ? el('li', {class: 'muted small'}, '+ ' + plural(titles.length - 3, 'more ad')) : null) : null));
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
