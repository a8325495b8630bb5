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
      el('ol', {}, a.history.map(h => el('li', {}, when(h.at), ' ', el('strong', {}, h.by), ' set ', el('span', {class: 'badge st-' + h.status}, h.status),
        h.note ? [': ', el('q', {}, h.note)] : null)))) : null,
    can('alert-triage') ? el('div', {class: 'triage'}, note, STATUS_ACTIONS.map(([s, label]) =>
      el('button', {type: 'button', 'data-status': s, class: s === 'escalated' ? 'warn' : 'secondary', disabled: a.status === s}, label)),
    full && 'assignee' in a || full && 'assignees' in a ? assignControl(a) : null) : null);
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

function assigneeOf(a) { return a.assignee || (a.assignees || []).join(', '); }

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

// assignControl sets who works an alert (POST /api/alerts/{key}/assign),
// shown only when the server's alerts carry an assignee.
function assignControl(a) {
  const input = el('input', {name: 'assignee', size: 10, value: assigneeOf(a), 'aria-label': 'Assign to (user name)', placeholder: 'user name'});
  return el('span', {class: 'assign'}, input, el('button', {type: 'button', class: 'secondary', onclick: async () => {
    try {
      await api('/api/alerts/' + encodeURIComponent(a.key) + '/assign', {json: {assignee: input.value.trim()}});
      notice('Assigned to ' + input.value.trim() + '.');
    } catch (err) { notice(err.missing ? 'This server cannot assign alerts yet.' : err.message, true); }
  }}, 'Assign'));
}

page('/alerts', 'Alerts', async main => {
  add(main, [el('h1', {}, 'Alerts')]);
  const list = await api('/api/alerts');
  if (list.length && list[0].key === undefined) { add(main, [alertCounts(list)]); return; }
  const qs = new URLSearchParams(location.search);
  const f = {status: qs.get('status') ?? 'new', rule: qs.get('rule') || '', city: qs.get('city') || '', mine: qs.get('mine') || ''};
  const rules = [...new Set(list.map(a => a.rule))].sort();
  const cities = [...new Set(list.flatMap(a => a.cities || []))].sort();
  const opt = (v, t, cur) => el('option', {value: v, selected: v === cur}, t);
  const assigns = list.some(a => 'assignee' in a || 'assignees' in a);
  const form = el('form', {id: 'alert-filters', class: 'row filters', method: 'get', action: '/alerts'},
    field('Status', el('select', {name: 'status', id: 'fstatus'}, opt('', 'any', f.status), ['new', 'acknowledged', 'escalated', 'dismissed', 'withdrawn'].map(s => opt(s, s, f.status)))),
    field('Rule', el('select', {name: 'rule', id: 'frule'}, opt('', 'any', f.rule), rules.map(r => opt(r, ruleLabel(r), f.rule)))),
    field('City', el('select', {name: 'city', id: 'fcity'}, opt('', 'any', f.city), cities.map(c => opt(c, c, f.city)))),
    assigns ? el('label', {class: 'check'}, el('input', {type: 'checkbox', name: 'mine', value: '1', checked: !!f.mine}), ' assigned to me') : null,
    el('button', {type: 'submit'}, 'Show'));
  const shown = list.filter(a => (!f.status || a.status === f.status) && (!f.rule || a.rule === f.rule) &&
    (!f.city || (a.cities || []).includes(f.city)) && (!f.mine || assigneeOf(a).split(', ').includes(AW.me.user)));
  shown.sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || String(b.updated).localeCompare(String(a.updated)));
  const per = 25, cur = pageParam();
  add(main, [section(null, {id: 'alert-box'}, form,
    el('p', {class: 'count', id: 'alert-count'}, plural(shown.length, 'alert'), shown.length < list.length ? el('span', {class: 'muted'}, ' of ' + num(list.length)) : null,
      el('span', {class: 'muted small'}, ' · gravest first, then newest')),
    shown.length ? el('ul', {class: 'alerts full', id: 'alerts'}, shown.slice((cur - 1) * per, cur * per).map(a => alertItem(a, true))) : el('p', {class: 'muted'}, 'No alert matches.'),
    pager(shown.length, per, cur))]);
});

// alertCounts is the analysts' view: how many alerts of each rule, city
// and status, never whom they name.
function alertCounts(list) {
  list.sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || b.count - a.count);
  return section('Alert counts', {id: 'alert-counts'}, el('p', {class: 'muted'}, 'Your role sees how many alerts there are, not whom they name.'),
    table(['Rule', 'Severity', 'City', 'Status', 'Alerts#'], list.map(s => [ruleLabel(s.rule), badge(s.severity, s.severity), s.city || '', s.status, num(s.count)]), {class: 'dense', id: 'counts'}));
}

page('/alerts/:key', p => 'Alert ' + p.key, async (main, {key}) => {
  const a = (await api('/api/alerts')).find(x => x.key === key);
  add(main, [el('p', {class: 'crumbs'}, el('a', {href: '/alerts'}, 'Alerts'), ' › ', key)]);
  if (!a) { add(main, [el('h1', {}, 'Alert'), el('p', {}, 'No alert ', el('code', {}, key), '.')]); return; }
  add(main, [el('h1', {id: 'alert-title'}, ruleLabel(a.rule), ': ', a.summary), el('ul', {class: 'alerts full', id: 'alerts'}, alertItem(a, true))]);
});
