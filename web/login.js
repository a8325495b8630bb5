// The login form's script, served from /login.js (the pages run no inline
// script). On success it reloads the page that asked for the login.
document.getElementById('login').addEventListener('submit', async e => {
  e.preventDefault();
  const f = e.target;
  const out = document.getElementById('login-error');
  out.textContent = '';
  try {
    const r = await fetch('/api/login', {method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({username: f.username.value, password: f.password.value})});
    const j = await r.json();
    if (!r.ok) { out.textContent = j.error; f.password.value = ''; return; }
    if (location.pathname === '/login') location.assign('/'); else location.reload();
  } catch (err) { out.textContent = 'The server cannot be reached: ' + err.message; }
});
