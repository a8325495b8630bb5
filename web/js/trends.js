// The trends page (/trends): ads and profiles per day in several cities,
// drawn as SVG here (no chart library), the year-over-year comparison, and
// the CSV of what is shown.
'use strict';

// niceMax rounds a chart's top up to 1, 2, 2.5 or 5 times a power of ten.
function niceMax(m) {
  if (m <= 4) return 4;
  const p = Math.pow(10, Math.floor(Math.log10(m)));
  for (const k of [1, 2, 2.5, 5, 10]) if (k * p >= m) return k * p;
  return 10 * p;
}

// lineChart draws one measure per day, a line per city.
function lineChart(id, title, days, series, unit) {
  const W = 560, H = 220, L = 40, R = 18, T = 12, B = 30;
  const max = niceMax(Math.max(0, ...series.flatMap(s => s.values)));
  const x = i => days.length === 1 ? (L + W - R) / 2 : L + i * (W - L - R) / (days.length - 1);
  const y = v => T + (H - T - B) * (1 - v / max);
  const grid = [0, 1, 2, 3, 4].map(k => {
    const v = max * k / 4;
    return el('g', {class: 'tick'}, el('line', {x1: L, x2: W - R, y1: y(v), y2: y(v)}),
      el('text', {x: L - 6, y: y(v) + 4, 'text-anchor': 'end'}, num(Math.round(v))));
  });
  const every = Math.max(1, Math.ceil(days.length / 7));
  const xl = days.map((d, i) => i % every === 0 || i === days.length - 1 ? el('text', {x: x(i), y: H - B + 18, 'text-anchor': days.length > 1 && i === days.length - 1 ? 'end' : i === 0 && days.length > 1 ? 'start' : 'middle', class: 'xl'}, d.slice(5)) : null);
  const lines = series.map((s, k) => el('g', {class: 'series s' + (k % 6)},
    el('path', {class: 'series', d: s.values.map((v, i) => (i ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1)).join(' '), 'data-city': s.name}),
    days.length <= 62 ? s.values.map((v, i) => el('circle', {cx: x(i), cy: y(v), r: 2.6}, el('title', {}, s.name + ' ' + days[i] + ': ' + num(v) + ' ' + unit))) : null));
  const desc = series.map(s => s.name + ': ' + num(s.values.reduce((a, b) => a + b, 0)) + ' ' + unit + ' in ' + days.length + ' days').join('; ');
  return el('figure', {class: 'chart'}, el('figcaption', {}, title),
    el('svg', {id, viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': title + '. ' + desc, preserveAspectRatio: 'xMidYMid meet'},
      el('title', {}, title), el('desc', {}, desc), grid, el('line', {class: 'axis', x1: L, x2: W - R, y1: y(0), y2: y(0)}), xl, lines),
    el('ul', {class: 'legend'}, series.map((s, k) => el('li', {}, el('span', {class: 'swatch s' + (k % 6), 'aria-hidden': 'true'}), s.name))));
}

function splitCities(s) { return [...new Set(String(s).split(',').map(c => c.trim()).filter(Boolean))]; }

page('/trends', 'Trends', async main => {
  const qs = new URLSearchParams(location.search);
  const yesterday = addDays(isoDay(new Date()), -1);
  const st = {
    cities: qs.getAll('city').length ? qs.getAll('city') : ['Oakland'],
    to: qs.get('to') || yesterday,
    from: qs.get('from') || addDays(qs.get('to') || yesterday, -29),
    date: qs.get('date') || yesterday,
  };
  st.vs = qs.get('vs') || addDays(st.date, -364);
  const csv = el('a', {id: 'csv', class: 'button secondary', download: 'adwatch-trends.csv'}, 'Download CSV');
  const form = el('form', {id: 'trends-form', class: 'row filters'},
    field('Cities', el('input', {id: 'cities', value: st.cities.join(', '), size: 30, placeholder: 'Oakland, San Jose', title: 'Cities separated by commas'})),
    field('From', el('input', {id: 'from', type: 'date', value: st.from, required: true})),
    field('To', el('input', {id: 'to', type: 'date', value: st.to, required: true})),
    el('button', {type: 'submit', id: 'draw'}, 'Draw'), csv);
  const charts = el('div', {id: 'charts', 'aria-live': 'polite'});
  const snap = el('form', {id: 'snap', class: 'row filters'},
    field('Day', el('input', {id: 'date', type: 'date', value: st.date, required: true})),
    field('against', el('input', {id: 'vs', type: 'date', value: st.vs, required: true})),
    el('button', {type: 'submit'}, 'Compare'));
  const yoy = el('div', {id: 'table', 'aria-live': 'polite'});
  add(main, [el('h1', {}, 'Trends'),
    section('Ads and profiles per day', {id: 'trends'}, form, charts),
    section('Year over year', {id: 'yoy'}, el('p', {class: 'muted small'}, 'Ads and distinct profiles in the 24 hours of each local day, against the same weekday a year before (364 days earlier) unless you choose another day.'), snap, yoy)]);
  $('date').addEventListener('change', () => { if (!$('vs').dataset.touched) $('vs').value = addDays($('date').value, -364); });
  $('vs').addEventListener('input', () => { $('vs').dataset.touched = '1'; });

  const remember = () => {
    const u = new URLSearchParams();
    for (const c of splitCities($('cities').value)) u.append('city', c);
    u.set('from', $('from').value); u.set('to', $('to').value); u.set('date', $('date').value); u.set('vs', $('vs').value);
    history.replaceState(null, '', '/trends?' + u);
  };
  const draw = async () => {
    const cities = splitCities($('cities').value);
    if (!cities.length) { fill(charts, failure(new Error('Name at least one city.'))); return; }
    const p = new URLSearchParams();
    for (const c of cities) p.append('city', c);
    p.set('from', $('from').value); p.set('to', $('to').value);
    csv.href = '/api/trends?' + p + '&format=csv';
    fill(charts, el('p', {class: 'muted'}, 'Loading…'));
    let rows;
    try { rows = await api('/api/trends?' + p); } catch (err) { fill(charts, failure(err)); return; }
    const days = [...new Set(rows.map(r => r.date))].sort();
    const at = {};
    for (const r of rows) at[r.city + '\u0000' + r.date] = r;
    const series = k => cities.map(c => ({name: c, values: days.map(d => (at[c + '\u0000' + d] || {})[k] || 0)}));
    const totals = cities.map(c => {
      const mine = rows.filter(r => r.city === c);
      const sum = k => mine.reduce((a, r) => a + r[k], 0);
      const top = mine.reduce((m, r) => r.ads > m.ads ? r : m, {ads: 0, date: ''});
      return [c, num(sum('ads')), num(Math.round(sum('ads') / Math.max(1, days.length) * 10) / 10), top.ads ? num(top.ads) + ' on ' + top.date : '–'];
    });
    fill(charts, el('div', {class: 'grid2'}, lineChart('chart-ads', 'Ads per day', days, series('ads'), 'ads'),
      lineChart('chart-profiles', 'Profiles per day', days, series('profiles'), 'profiles')),
    table(['City', 'Ads#', 'Ads a day#', 'Most in a day#'], totals, {class: 'dense', id: 'totals'}),
    el('details', {}, el('summary', {}, 'The numbers, day by day'),
      table(['Day', 'City', 'Ads#', 'Profiles#', 'Phones#'], rows.map(r => [r.date, r.city, num(r.ads), num(r.profiles), num(r.phones)]), {class: 'dense', id: 'trend-rows'})));
    charts.dataset.drawn = cities.length;
  };
  const compare = async () => {
    const cities = splitCities($('cities').value);
    const d = $('date').value, vs = $('vs').value;
    fill(yoy, el('p', {class: 'muted'}, 'Loading…'));
    try {
      const pairs = await Promise.all(cities.map(c => Promise.all([d, vs].map(x => api('/api/snapshot?city=' + encodeURIComponent(c) + '&date=' + x)))));
      fill(yoy, table(['City', 'Measure', d + '#', vs + '#', 'Change#'], pairs.flatMap(([a, b], i) => [
        [cities[i], 'ads', num(a.ads), num(b.ads), pct(a.ads, b.ads)],
        [cities[i], 'profiles', num(a.profiles), num(b.profiles), pct(a.profiles, b.profiles)],
      ]), {id: 'da', class: 'dense'}));
    } catch (err) { fill(yoy, failure(err)); }
  };
  form.addEventListener('submit', e => { e.preventDefault(); remember(); draw(); });
  snap.addEventListener('submit', e => { e.preventDefault(); remember(); compare(); });
  await Promise.all([draw(), compare()]);
});
