// The alerts inbox and one alert (/alerts, /alerts/{key}).
'use strict';

const STATUS_ACTIONS = [['acknowledged', 'Acknowledge'], ['escalated', 'Escalate'], ['dismissed', 'Dismiss']];

// alertItem is one alert: what it says, its evidence, and the buttons that
// change its status. full adds the evidence in detail, the history, a note
// to send with a change, and the assignment when the server has one.
function alertItem(a, full) {
  const terms = byCategory(a.terms || []);
  const note = full ? el('input', {class: 'note', name: 'note', 'aria-label': 'Note for the change', placeholder: 'Note (why; what was done)', size: 36}) : null;
  const li = el('li', {class: 'alert sev-' + a.severity, 'data-key': a.key},
    el('div', {class: 'alert-head'}, badge(a.severity, a.severity), ' ',
      el('a', {href: '/alerts/' + encodeURIComponent(a.key), class: 'rule'}, ruleLabel(a.rule)), ' ', el('span', {class: 'alert-sum'}, a.summary),
      el('span', {class: 'status-wrap'}, 'status ', el('span', {class: 'status badge st-' + a.status}, a.status))),
    el('div', {class: 'meta muted small'}, a.entity && !(a.profiles || []).includes(a.entity.replace(/^profile:/, '')) ? [el('code', {}, a.entity), ' · '] : null,
      (a.cities || []).join(', ') || 'no city',
      a.ad_count ? ' · ' + plural(a.ad_count, 'ad') : '', ' · updated ', when(a.updated || a.first_seen),
      (a.profiles || []).length ? [' · ', a.profiles.slice(0, 6).map((p, i) => [i ? ' ' : '', profileLink(p)]), a.profiles.length > 6 ? ' +' + (a.profiles.length - 6) : ''] : null,
      assigneeOf(a) ? [' · assigned to ', el('strong', {class: 'assignee'}, assigneeOf(a))] : null),
    full ? evidence(a, terms) : terms.length ? el('div', {class: 'small'}, termChips(terms.slice(0, 6))) : null,
    full && (a.history || []).length ? el('details', {class: 'history'}, el('summary', {}, 'History (' + a.history.length + ')'),
      el('ol', {}, a.history.map(h => el('li', {}, when(h.at), ' ', el('strong', {}, h.by),
        h.assigned ? [' assigned it to ', el('strong', {}, h.assigned)] : h.status ? [' set ', el('span', {class: 'badge st-' + h.status}, h.status)] : ' unassigned it',
        h.note ? [': ', el('q', {}, h.note)] : null)))) : null,
    can('alert-triage') ? el('div', {class: 'triage'}, note, STATUS_ACTIONS.map(([s, label]) =>
      el('button', {type: 'button', 'data-status': s, class: s === 'escalated' ? 'warn' : 'secondary', disabled: a.status === s}, label)),
    full && can('assign') ? assignControl(a) : null) : null);
  li.addEventListener('click', async e => {
    const status = e.target.dataset && e.target.dataset.status;
    if (!status) return;
    try {
      const j = await api('/api/alerts/' + encodeURIComponent(a.key) + '/status', {json: {status, note: note ? note.value : ''}});
      li.querySelector('.status').textContent = j.status;
      li.querySelector('.status').className = 'status badge st-' + j.status;
      for (const b of li.querySelectorAll('button[data-status]')) b.disabled = b.dataset.status === j.status;
      if (note) note.value = '';
      if (full && j.history) { const fresh = alertItem(j, true); li.replaceWith(fresh); }
      notice('Alert ' + ruleLabel(a.rule) + ': ' + j.status + '.');
    } catch (err) { li.querySelector('.status').textContent = err.message; notice(err.message, true); }
  });
  return li;
}

function assigneeOf(a) { return a.assignee || ''; }

function termChips(terms) {
  return terms.map(t => el('span', {class: 'ind-item cat-' + t.category}, el('span', {class: 'cat'}, categoryLabel(t.category)), ' ', t.term));
}

// evidence is what made the alert: its terms (possible minors first), the
// ads, phones and photos.
function evidence(a, terms) {
  return el('div', {class: 'evidence'},
    terms.length ? el('div', {}, el('span', {class: 'label'}, 'Terms '), termChips(terms)) : null,
    (a.ads || []).length ? el('div', {}, el('span', {class: 'label'}, 'Ads '), a.ads.slice(0, 20).map((x, i) => [i ? ' · ' : '', adLink(x)]), a.ads.length > 20 ? ' +' + (a.ads.length - 20) : '') : null,
    (a.phones || []).length ? el('div', {}, el('span', {class: 'label'}, 'Phones '), a.phones.map((p, i) => [i ? ', ' : '', el('code', {}, p)])) : null,
    (a.images || []).length && can('photos') ? el('div', {class: 'photos'}, a.images.slice(0, 8).map(s => photo(s))) : null);
}

// assignControl sets which investigator works an alert (POST
// /api/alerts/{key}/assign; supervisors); an empty name unassigns it.
function assignControl(a) {
  const input = el('input', {name: 'assignee', class: 'assignee-input', size: 10, value: assigneeOf(a), 'aria-label': 'Assign to (user name)', placeholder: 'investigator'});
  return el('span', {class: 'assign'}, input, el('button', {type: 'button', class: 'secondary', 'data-assign': '1', onclick: async e => {
    e.stopPropagation();
    const li = e.target.closest('li.alert'), note = li && li.querySelector('input.note');
    try {
      const j = await api('/api/alerts/' + encodeURIComponent(a.key) + '/assign', {json: {assignee: input.value.trim(), note: note ? note.value : ''}});
      notice(j.assignee ? 'Assigned to ' + j.assignee + '.' : 'Unassigned.');
      if (li && j.key) li.replaceWith(alertItem(j, true));
    } catch (err) { notice(err.message, true); }
  }}, 'Assign'));
}

const ALERTS_PER_PAGE = 25;

page('/alerts', 'Alerts', async main => {
  add(main, [el('h1', {}, 'Alerts')]);
  const qs = new URLSearchParams(location.search);
  const f = {status: qs.get('status') ?? 'new', rule: qs.get('rule') || '', city: qs.get('city') || '', mine: qs.get('mine') || ''};
  const p = new URLSearchParams();
  if (f.status) p.set('status', f.status);
  if (f.rule) p.set('rule', f.rule);
  if (f.city) p.set('city', f.city);
  if (f.mine) p.set('assignee', AW.me.user);
  const cur = pageParam(), meta = {};
  p.set('offset', (cur - 1) * ALERTS_PER_PAGE);
  p.set('limit', ALERTS_PER_PAGE);
  const list = await api('/api/alerts?' + p, {meta});
  if (list.length && list[0].key === undefined) { add(main, [alertCounts(list)]); return; }
  const total = Number.isFinite(meta.total) ? meta.total : list.length;
  const rules = [...new Set([...list.map(a => a.rule), f.rule].filter(Boolean))].sort();
  const opt = (v, t, cur) => el('option', {value: v, selected: v === cur}, t);
  const form = el('form', {id: 'alert-filters', class: 'row filters', method: 'get', action: '/alerts'},
    field('Status', el('select', {name: 'status', id: 'fstatus'}, opt('', 'any', f.status), ['new', 'acknowledged', 'escalated', 'dismissed', 'withdrawn'].map(s => opt(s, s, f.status)))),
    field('Rule', el('input', {name: 'rule', id: 'frule', value: f.rule, size: 14, list: 'rules', placeholder: 'any'}),
      null),
    el('datalist', {id: 'rules'}, rules.map(r => el('option', {value: r}))),
    field('City', el('input', {name: 'city', id: 'fcity', value: f.city, size: 12, placeholder: 'any'})),
    el('label', {class: 'check'}, el('input', {type: 'checkbox', name: 'mine', value: '1', checked: !!f.mine}), ' assigned to me'),
    el('button', {type: 'submit'}, 'Show'));
  form.addEventListener('submit', () => { for (const i of form.querySelectorAll('input,select')) if (i.value === '' ) i.disabled = true; });
  list.sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || String(b.updated).localeCompare(String(a.updated)));
  add(main, [section(null, {id: 'alert-box'}, form,
    el('p', {class: 'count', id: 'alert-count'}, plural(total, 'alert'),
      total > ALERTS_PER_PAGE ? el('span', {class: 'muted small'}, ' · ' + num((cur - 1) * ALERTS_PER_PAGE + 1) + '–' + num((cur - 1) * ALERTS_PER_PAGE + list.length) + ', gravest first on each page')
        : el('span', {class: 'muted small'}, ' · gravest first, then newest')),
    list.length ? el('ul', {class: 'alerts full', id: 'alerts'}, list.map(a => alertItem(a, true))) : el('p', {class: 'muted'}, 'No alert matches.'),
    pager(total, ALERTS_PER_PAGE, cur))]);
});

// alertCounts is the analysts' view: how many alerts of each rule, city
// and status, never whom they name.
function alertCounts(list) {
  list.sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || b.count - a.count);
  return section('Alert counts', {id: 'alert-counts'}, el('p', {class: 'muted'}, 'Your role sees how many alerts there are, not whom they name.'),
    table(['Rule', 'Severity', 'City', 'Status', 'Alerts#'], list.map(s => [ruleLabel(s.rule), badge(s.severity, s.severity), s.city || '', s.status, num(s.count)]), {class: 'dense', id: 'counts'}));
}

page('/alerts/:key', p => 'Alert ' + p.key, async (main, {key}) => {
  add(main, [el('p', {class: 'crumbs'}, el('a', {href: '/alerts'}, 'Alerts'), ' › ', key)]);
  let a;
  try { a = await api('/api/alerts/' + encodeURIComponent(key)); } catch (err) {
    if (err.status !== 404) throw err;
    add(main, [el('h1', {}, 'Alert'), el('p', {}, 'No alert ', el('code', {}, key), '.')]);
    return;
  }
  add(main, [el('h1', {id: 'alert-title'}, ruleLabel(a.rule), ': ', a.summary), el('ul', {class: 'alerts full', id: 'alerts'}, alertItem(a, true))]);
});
