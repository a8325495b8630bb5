// The search page's script, served from /app.js: the page allows no inline
// script (Content-Security-Policy).
const $ = id => document.getElementById(id);
function esc(s){return String(s ?? '').replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]))}
async function get(u){const r = await fetch(u); const j = await r.json(); if(!r.ok) throw new Error(j.error); return j}
function profLink(p){return '<a href="#" data-profile="' + esc(p) + '">' + esc(p) + '</a>'}
$('f').onsubmit = async e => {
  e.preventDefault();
  try {
    const j = await get('/api/search?q=' + encodeURIComponent($('q').value));
    let h = '<p id="count">' + j.ads.length + ' ads in ' + j.profiles.length + ' profiles</p><ul>';
    for (const a of j.ads) h += '<li>' + esc(a.title) + ' <span class="muted">' + esc(a.city) + ', ' +
       esc(a.posted_at.slice(0,10)) + ' · profile ' + profLink(a.profile) + '</span></li>';
    $('out').innerHTML = h + '</ul>';
  } catch (err) { $('out').innerHTML = '<p>' + esc(err.message) + '</p>'; }
};
$('imgf').onsubmit = async e => {
  e.preventDefault();
  const f = $('img').files[0];
  if (!f) return;
  const r = await fetch('/api/search/image', {method: 'POST', body: f});
  const j = await r.json();
  $('out').innerHTML = r.ok ? '<p id="count">' + j.profiles.length + ' profiles with this photo</p><p>' + j.profiles.map(profLink).join(' ') + '</p>'
                            : '<p>' + esc(j.error) + '</p>';
};
$('watchimg').onclick = async () => {
  const f = $('img').files[0];
  if (!f) return;
  const fd = new FormData();
  fd.append('image', f);
  const r = await fetch('/api/watchlist', {method: 'POST', body: fd});
  const j = await r.json();
  $('out').innerHTML = '<p id="watched">' + (r.ok ? 'watching for this photo (perceptual hash ' + esc(j.phash) + ')' : esc(j.error)) + '</p>';
};
document.addEventListener('click', async e => {
  const p = e.target.dataset && e.target.dataset.profile;
  if (!p) return;
  e.preventDefault();
  const v = await get('/api/profiles/' + encodeURIComponent(p));
  let h = '<h2 id="profile-title">Profile ' + esc(v.id) + '</h2><p>' + v.ads.length + ' ads, ' + esc(v.first.slice(0,10)) + ' to ' +
    esc(v.last.slice(0,10)) + ' in ' + esc(v.cities.join(', ')) + '<br>stated ages: ' + esc((v.ages||[]).join(', ')) +
    '<br>phones: ' + esc(v.phones.join(', ')) + '<br>names: ' + esc(v.names.join(', ')) + '</p>';
  if (v.handles && v.handles.length) h += '<p>handles: ' + esc(v.handles.join(', ')) + '</p>';
  const photos = [...new Set(v.ads.flatMap(a => (a.images || []).filter(i => i.sha256 && !i.error).map(i => i.sha256)))];
  if (photos.length) h += '<p id="photos">' + photos.slice(0, 24).map(p => '<img src="/api/images/' + esc(p) +
    '" alt="photo" loading="lazy" style="height:96px;margin:2px">').join('') + '</p>';
  if (v.network_profiles.length) h += '<p>shares a phone or handle with: ' + v.network_profiles.map(profLink).join(', ') + '</p>';
  if (v.same_template && v.same_template.length) h += '<p>same ad template as: ' + v.same_template.map(profLink).join(', ') + '</p>';
  if (v.links && v.links.length) h += '<details><summary>why these ads are together (' + v.links.length + ' links)</summary><ul>' +
    v.links.map(l => '<li>' + esc(l.a) + ' – ' + esc(l.b) + ': ' + esc(l.evidence) + '</li>').join('') + '</ul></details>';
  h += '<ol>';
  for (const a of v.ads) h += '<li>' + esc(a.posted_at.slice(0,16).replace('T',' ')) + ' ' + esc(a.city) + ': ' + esc(a.title) + '</li>';
  $('profile').innerHTML = h + '</ol>';
});
async function loadAlerts() {
  try {
    const list = await get('/api/alerts');
    if (!list.length) { $('alerts').textContent = 'No alerts.'; return; }
    let h = '<ul>';
    for (const a of list.slice(0, 50)) h += '<li data-key="' + esc(a.key) + '"><b>' + esc(a.severity) + '</b> ' + esc(a.rule) + ': ' + esc(a.summary) +
      ' <span class="muted">' + esc(a.entity) + ' · <span class="status">' + esc(a.status) + '</span> · ' +
      (a.profiles||[]).slice(0,6).map(profLink).join(' ') + '</span> ' +
      ['acknowledged', 'escalated', 'dismissed'].map(s => '<button data-status="' + s + '">' + s.replace(/ed$/, '') + '</button>').join(' ') + '</li>';
    $('alerts').innerHTML = h + '</ul>';
  } catch (err) { $('alerts').textContent = err.message; }
}
loadAlerts();
$('alerts').addEventListener('click', async e => {
  const status = e.target.dataset && e.target.dataset.status;
  if (!status) return;
  const li = e.target.closest('li');
  const r = await fetch('/api/alerts/' + encodeURIComponent(li.dataset.key) + '/status', {method: 'POST',
    headers: {'Content-Type': 'application/json'}, body: JSON.stringify({status: status})});
  const j = await r.json();
  li.querySelector('.status').textContent = r.ok ? j.status : j.error;
});
$('snap').onsubmit = async e => {
  e.preventDefault();
  try {
    const c = encodeURIComponent($('city').value);
    const [a, b] = await Promise.all([get('/api/snapshot?city=' + c + '&date=' + $('date').value), get('/api/snapshot?city=' + c + '&date=' + $('vs').value)]);
    const pct = (x, y) => y ? ((x - y) / y * 100).toFixed(1) + '%' : '–';
    $('table').innerHTML = '<table id="da"><tr><th></th><th>' + esc($('date').value) + '</th><th>' + esc($('vs').value) + '</th><th>change</th></tr>' +
      '<tr><td>ads</td><td>' + a.ads + '</td><td>' + b.ads + '</td><td>' + pct(a.ads, b.ads) + '</td></tr>' +
      '<tr><td>profiles</td><td>' + a.profiles + '</td><td>' + b.profiles + '</td><td>' + pct(a.profiles, b.profiles) + '</td></tr></table>';
  } catch (err) { $('table').textContent = err.message; }
};
