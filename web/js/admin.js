// The watchlist and the audit log (/watchlist, /audit).
'use strict';

const WATCH_KINDS = [['phone', 'Phone number'], ['handle', 'Handle'], ['term', 'Term'], ['image', 'Photo hash']];

page('/watchlist', 'Watchlist', async main => {
  const box = el('div', {id: 'watchlist'});
  const kind = el('select', {id: 'watch-kind', name: 'kind'}, WATCH_KINDS.map(([v, t]) => el('option', {value: v}, t)));
  const value = el('input', {id: 'watch-value', name: 'value', required: true, size: 24, placeholder: '(510) 873-0123, IG: name, a phrase'});
  const note = el('input', {id: 'watch-note', name: 'note', size: 36, placeholder: 'why it is watched'});
  const form = el('form', {id: 'watch-form', class: 'row'}, field('Kind', kind), field('Value', value), field('Note', note), el('button', {type: 'submit'}, 'Watch'));
  const load = async () => {
    let list;
    try { list = await api('/api/watchlist'); } catch (err) { fill(box, failure(err)); return; }
    list.sort((a, b) => String(b.at).localeCompare(String(a.at)));
    fill(box, list.length ? table(['Kind', 'Value', 'Note', 'Added by', 'Added', ''], list.map(e => [e.kind, el('code', {}, e.value), e.note || '', e.by, when(e.at),
      el('button', {type: 'button', class: 'quiet small', 'data-kind': e.kind, 'data-value': e.value, 'aria-label': 'Stop watching ' + e.value, onclick: async () => {
        try {
          await api('/api/watchlist?kind=' + encodeURIComponent(e.kind) + '&value=' + encodeURIComponent(e.value), {method: 'DELETE'});
          notice('No longer watching ' + e.value + '.');
          load();
        } catch (err) { notice(err.message, true); }
      }}, 'Remove')]), {class: 'dense', id: 'watch-table'}) : el('p', {class: 'muted'}, 'Nothing is watched.'));
  };
  form.addEventListener('submit', async e => {
    e.preventDefault();
    try {
      const n = await api('/api/watchlist', {json: {kind: kind.value, value: value.value, note: note.value}});
      notice('Watching ' + n.value + '.');
      value.value = ''; note.value = '';
      load();
    } catch (err) { notice(err.message, true); }
  });
  add(main, [el('h1', {}, 'Watchlist'),
    section('Watch for', {id: 'watch-add'}, el('p', {class: 'muted small'}, 'A new ad with a watched phone, handle, term or photo raises a watchlist alert. Photos are added from the search page.'), form),
    section('Watched', {id: 'watched-list'}, box)]);
  await load();
});

// deadLetters is what the pipeline gave up on (GET /api/dead): for
// supervisors and admins, so a stalled stage is seen.
async function deadLetters() {
  const box = el('div', {id: 'dead'}, el('p', {class: 'muted'}, 'Loading…'));
  const sec = section('Pipeline: messages given up on', {id: 'pipeline'},
    el('p', {class: 'muted small'}, 'Pages, ads or images a stage failed on after its retries. They are kept, not lost; a run of them names a stage to look at.'), box);
  try {
    const list = await api('/api/dead');
    list.sort((a, b) => String(b.at).localeCompare(String(a.at)));
    fill(box, list.length ? table(['#', 'When', 'Stage', 'Error', 'Tries#', 'Subject', 'Stream', 'Bytes#'], list.slice(0, 200).map(d =>
      [d.seq, when(d.at), d.stage, el('span', {class: 'error-text'}, d.error), num(d.deliveries), el('code', {}, d.subject), [d.stream, d.stream_seq ? ' #' + d.stream_seq : ''], num(d.size)]),
      {class: 'dense', id: 'dead-table'}) : el('p', {class: 'ok', id: 'dead-none'}, 'None: every stage is keeping up.'));
  } catch (err) { fill(box, failure(err)); }
  return sec;
}

page('/audit', 'Audit log', async main => {
  const qs = new URLSearchParams(location.search);
  const since = qs.get('since') || addDays(isoDay(new Date()), -7), user = qs.get('user') || '';
  const p = new URLSearchParams({since});
  if (user) p.set('user', user);
  const form = el('form', {id: 'audit-filters', class: 'row filters', method: 'get', action: '/audit'},
    field('Since', el('input', {id: 'since', name: 'since', type: 'date', value: since})),
    field('User', el('input', {id: 'user', name: 'user', value: user, size: 12})),
    el('button', {type: 'submit'}, 'Show'),
    el('a', {id: 'audit-csv', class: 'button secondary', href: '/api/audit?' + p + '&format=csv', download: 'adwatch-audit.csv'}, 'Download CSV'));
  add(main, [el('h1', {}, 'Audit log'), section(null, {id: 'audit-box'}, form,
    el('p', {class: 'muted small'}, can('audit-all') ? 'Every entry.' : 'The unit\'s entries: analysts, investigators and supervisors.')),
  ]);
  if (can('dead-letters')) add(main, [await deadLetters()]);
  const list = await api('/api/audit?' + p);
  list.reverse();
  const per = 100, cur = pageParam();
  const outcome = o => o === 'ok' ? o : badge(o, o === 'denied' ? 'high' : 'medium');
  add(main, [section(plural(list.length, 'entry', 'entries') + ', newest first', {id: 'audit-list'},
    table(['#', 'When', 'User', 'Role', 'From', 'Action', 'Object', 'Query', 'Case', 'Outcome'], list.slice((cur - 1) * per, cur * per).map(e =>
      [e.seq, when(e.at), e.user, e.role, e.from, e.action.replace(/_/g, ' '), e.object ? el('code', {}, e.object) : '', e.query || '', e.case || '', outcome(e.outcome)]),
    {class: 'dense', id: 'audit'}), pager(list.length, per, cur))]);
});
