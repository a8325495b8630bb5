// The cases (/cases, /cases/{number}): open one, its notes, profiles, ads
// and searches, who works it, closing it, and its export.
'use strict';

page('/cases', 'Cases', async main => {
  const list = await api('/api/cases');
  list.sort((a, b) => (a.closed - b.closed) || String(b.updated).localeCompare(String(a.updated)));
  const number = el('input', {id: 'case-number', name: 'number', required: true, size: 14, placeholder: 'OPD/26-117', autocomplete: 'off'});
  const title = el('input', {id: 'case-title', name: 'title', size: 40, placeholder: 'what it is about'});
  const form = el('form', {id: 'new-case', class: 'row'}, field('Case number', number), field('Title', title), el('button', {type: 'submit'}, 'Open case'));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    try {
      const c = await api('/api/cases', {json: {number: number.value.trim(), title: title.value.trim()}});
      location.assign(caseHref(c.number));
    } catch (err) { notice(err.message, true); }
  });
  add(main, [el('h1', {}, 'Cases'),
    section('Open a case', {id: 'open-case'}, form),
    section(plural(list.length, 'case'), {id: 'case-list'}, list.length ? table(['Number', 'Title', 'Assigned to', 'Profiles#', 'Ads#', 'Notes#', 'Updated', 'Status'],
      list.map(c => [el('a', {href: caseHref(c.number), 'data-case': c.number}, c.number), c.title, c.assignees.join(', '), c.profiles.length, c.ads.length, c.notes.length,
        when(c.updated), c.closed ? badge('closed') : badge('open', 'ok')]), {class: 'dense', id: 'cases'}) : el('p', {class: 'muted'}, 'No cases yet.'))]);
});

page('/cases/:number', p => 'Case ' + p.number, async (main, {number}) => {
  const path = '/api/cases/' + encodeURIComponent(number);
  let c = await api(path);
  const change = async (body, done) => {
    try {
      c = await api(path, {json: body});
      draw();
      notice(done);
    } catch (err) { notice(err.message, true); }
  };
  const draw = () => {
    const noteText = el('textarea', {id: 'note-text', rows: 3, cols: 60, required: true, placeholder: 'What was found, done or decided'});
    const addId = el('input', {id: 'add-id', size: 24, placeholder: 'profile or ad id', required: true});
    const addKind = el('select', {id: 'add-kind', 'aria-label': 'Kind'}, el('option', {value: 'add_profile'}, 'profile'), el('option', {value: 'add_ad'}, 'ad'));
    const assign = el('input', {id: 'assignees', size: 30, value: c.assignees.join(', '), placeholder: 'user names, separated by commas'});
    const remove = (op, id) => el('button', {type: 'button', class: 'quiet small', 'aria-label': 'Remove ' + id, onclick: () => change({op, id}, 'Removed ' + id + '.')}, 'remove');
    fill(main,
      el('p', {class: 'crumbs'}, el('a', {href: '/cases'}, 'Cases'), ' › ', c.number),
      el('div', {class: 'page-head'},
        el('h1', {id: 'case-title-h'}, 'Case ', el('span', {class: 'mono'}, c.number), c.title ? ': ' + c.title : '', ' ', c.closed ? badge('closed') : badge('open', 'ok')),
        el('div', {class: 'actions'},
          can('export') ? el('a', {id: 'export', class: 'button', href: path + '/export', download: ''}, 'Export zip') : null,
          el('a', {class: 'button secondary', href: '/search?case=' + encodeURIComponent(c.number)}, 'Search for this case'),
          el('button', {type: 'button', id: 'close-case', class: 'secondary', onclick: () => change({op: c.closed ? 'reopen' : 'close'}, c.closed ? 'Case reopened.' : 'Case closed.')},
            c.closed ? 'Reopen' : 'Close case'))),
      el('p', {class: 'muted small'}, 'Opened ', when(c.created), ' by ', c.created_by, ' · updated ', when(c.updated)),
      el('div', {class: 'grid2'},
        section('Profiles', {id: 'case-profiles'}, c.profiles.length ? el('ul', {class: 'plain'}, c.profiles.map(p => el('li', {}, profileLink(p), ' ', remove('remove_profile', p)))) : el('p', {class: 'muted'}, 'None yet: add them from a profile page or here.'),
          el('h3', {}, 'Ads'), c.ads.length ? el('ul', {class: 'plain', id: 'case-ads'}, c.ads.map(a => el('li', {}, adLink(a), ' ', remove('remove_ad', a)))) : el('p', {class: 'muted'}, 'None yet.'),
          el('form', {class: 'row', id: 'add-form', onsubmit: e => { e.preventDefault(); change({op: addKind.value, id: addId.value.trim()}, 'Added ' + addId.value.trim() + '.'); }},
            field('Add', addKind), field('Id', addId), el('button', {type: 'submit', class: 'secondary'}, 'Add'))),
        section('Assigned to', {id: 'case-assign'}, c.assignees.length ? el('p', {id: 'assigned'}, c.assignees.join(', ')) : el('p', {class: 'muted', id: 'assigned'}, 'Nobody yet.'),
          can('assign') ? el('form', {class: 'row', id: 'assign-form', onsubmit: e => {
            e.preventDefault();
            change({op: 'assign', assignees: assign.value.split(',').map(s => s.trim()).filter(Boolean)}, 'Assignment saved.');
          }}, field('Investigators', assign), el('button', {type: 'submit', class: 'secondary'}, 'Assign')) : el('p', {class: 'muted small'}, 'A supervisor assigns cases.'),
          el('h3', {}, 'Searches'), c.searches.length ? el('ul', {class: 'plain', id: 'case-searches'}, c.searches.map(s => el('li', {},
            el('a', {href: '/search?q=' + encodeURIComponent(s.query) + '&case=' + encodeURIComponent(c.number)}, s.query), ' ', el('span', {class: 'muted small'}, s.by, ', ', when(s.at)))))
            : el('p', {class: 'muted'}, 'None saved: search for this case and save the search.'))),
      section('Notes', {id: 'case-notes'},
        c.notes.length ? el('ol', {class: 'notes', id: 'notes'}, c.notes.map(n => el('li', {}, el('div', {class: 'muted small'}, el('strong', {}, n.by), ' · ', when(n.at)), el('p', {class: 'note-text'}, n.text))))
          : el('p', {class: 'muted'}, 'No notes yet.'),
        el('form', {id: 'note-form', onsubmit: e => { e.preventDefault(); change({op: 'note', text: noteText.value}, 'Note added.'); }},
          field('New note', noteText), el('button', {type: 'submit'}, 'Add note'))));
    main.dataset.ready = '1';
  };
  draw();
});
