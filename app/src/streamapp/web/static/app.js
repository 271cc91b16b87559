// StreamStack web UI: renders each page from the JSON API (no framework, no inline script).
import { api, ApiError } from './api.js';
import { el, clear, fmtDuration, fmtWhen, statusLabel } from './dom.js';

const body = document.body;
const page = body.dataset.page;
const me = JSON.parse(body.dataset.user || 'null');
const main = document.getElementById('main');

const canUpload = () => me && (me.role === 'uploader' || me.role === 'admin');
let loggingOut = false; // set by the Log out button

function nav() {
  const links = [['/', 'Browse', 'browse']];
  if (me) {
    if (canUpload()) links.push(['/upload', 'Upload', 'upload']);
    links.push(['/history', 'History', 'history'], ['/preferences', 'Preferences', 'preferences']);
  } else {
    links.push(['/login', 'Log in', 'login'], ['/signup', 'Sign up', 'signup']);
  }
  const list = el('ul', {},
    links.map(([href, text, id]) => el('li', {}, el('a', {
      href, 'aria-current': id === page ? 'page' : null,
    }, text))));
  const box = document.getElementById('nav');
  clear(box).append(list);
  if (me) {
    const out = el('button', { type: 'button', class: 'link', id: 'logout' }, 'Log out');
    out.addEventListener('click', async () => {
      out.disabled = true;
      loggingOut = true;
      try { await api('POST', '/api/auth/logout'); } catch { /* the cookie is gone anyway */ }
      location.assign('/');
    });
    list.append(el('li', { class: 'who' }, el('span', { class: 'name' }, me.display_name), out));
  }
}

function heading(text) {
  const h = el('h1', { tabindex: '-1' }, text);
  return h;
}

function alertBox() {
  return el('p', { class: 'alert', role: 'alert', hidden: true });
}

function showError(box, err) {
  box.textContent = err instanceof ApiError || err instanceof Error ? err.message : String(err);
  box.hidden = false;
}

function field(label, input, hint) {
  const id = input.id || `f-${input.name}`;
  input.id = id;
  const parts = [el('label', { for: id }, label), input];
  if (hint) {
    const hid = `${id}-hint`;
    input.setAttribute('aria-describedby', hid);
    parts.push(el('small', { id: hid, class: 'hint' }, hint));
  }
  return el('div', { class: 'field' }, parts);
}

function safeNext() {
  const next = new URLSearchParams(location.search).get('next') || '/';
  // Only paths of this origin, resolved as the browser resolves them (it reads "/\\host" and
  // "/\t/host" as "//host", another site): never an open redirect.
  try {
    const url = new URL(next, location.origin);
    if (url.origin === location.origin && next.startsWith('/')) {
      return url.pathname + url.search + url.hash;
    }
  } catch { /* not a URL: home */ }
  return '/';
}

// -- log in / sign up -----------------------------------------------------------------------
function authPage(kind) {
  const signup = kind === 'signup';
  const box = alertBox();
  const email = el('input', { name: 'email', type: 'email', autocomplete: 'email', required: true });
  const password = el('input', {
    name: 'password', type: 'password', required: true,
    autocomplete: signup ? 'new-password' : 'current-password', minlength: signup ? 10 : 1,
  });
  const fields = [field('Email', email)];
  let displayName = null;
  if (signup) {
    displayName = el('input', { name: 'display_name', type: 'text', autocomplete: 'nickname', maxlength: 100 });
    fields.push(field('Display name (optional)', displayName));
  }
  fields.push(field('Password', password, signup ? 'At least 10 characters.' : null));
  const submit = el('button', { type: 'submit', class: 'primary' }, signup ? 'Create account' : 'Log in');
  const form = el('form', { class: 'card narrow', novalidate: true, 'aria-labelledby': 'auth-h' },
    el('h1', { id: 'auth-h' }, signup ? 'Create your account' : 'Log in'), box, fields, submit,
    el('p', {}, signup ? 'Already have an account? ' : 'New here? ',
      el('a', { href: (signup ? '/login' : '/signup') + location.search }, signup ? 'Log in' : 'Sign up')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    box.hidden = true;
    if (!email.value.trim() || !email.validity.valid) {
      showError(box, 'Enter a valid email address.');
      email.focus();
      return;
    }
    if (signup && password.value.length < 10) {
      showError(box, 'The password must be at least 10 characters long.');
      password.focus();
      return;
    }
    if (!password.value) {
      showError(box, 'Enter your password.');
      password.focus();
      return;
    }
    submit.disabled = true;
    const payload = { email: email.value.trim(), password: password.value };
    if (signup && displayName.value.trim()) payload.display_name = displayName.value.trim();
    try {
      await api('POST', signup ? '/api/auth/signup' : '/api/auth/login', payload, { quiet: true });
      location.assign(safeNext());
    } catch (err) {
      showError(box, err);
      submit.disabled = false;
    }
  });
  main.append(form);
  email.focus();
}

// -- browse ---------------------------------------------------------------------------------
function thumbnail(item, attrs) {
  const img = el('img', { src: item.thumbnail_url, alt: '', loading: 'lazy', ...attrs });
  // Thumbnail URLs are signed and expire: a page left open fetches a fresh one, once.
  img.addEventListener('error', async () => {
    if (img.dataset.renewed) return;
    img.dataset.renewed = '1';
    try {
      const fresh = await api('GET', `/api/items/${item.id}`);
      if (fresh.thumbnail_url) img.src = fresh.thumbnail_url;
    } catch { /* keep the broken image */ }
  });
  return img;
}

function itemCard(item) {
  const thumb = item.thumbnail_url
    ? thumbnail(item, { width: 320, height: 180 })
    : el('div', { class: 'thumb-placeholder', 'aria-hidden': 'true' }, item.kind === 'audio' ? '♪' : '▶');
  const meta = [
    el('span', { class: `badge kind-${item.kind}` }, item.kind === 'audio' ? 'Music' : 'Video'),
    item.duration_seconds != null ? el('span', { class: 'duration', 'aria-label': `Duration ${fmtDuration(item.duration_seconds)}` }, fmtDuration(item.duration_seconds)) : null,
    item.status !== 'ready' ? el('span', { class: `badge status-${item.status}` }, statusLabel(item)) : null,
  ];
  return el('li', { class: 'item' }, el('a', { href: `/watch/${item.id}`, class: 'item-link' },
    el('div', { class: 'thumb' }, thumb), el('div', { class: 'item-body' },
      el('h2', { class: 'item-title' }, item.title), el('div', { class: 'meta' }, meta))));
}

async function browsePage() {
  const params = new URLSearchParams(location.search);
  let prefs = null;
  if (me && !params.has('kind')) {
    try { prefs = await api('GET', '/api/me/preferences'); } catch { prefs = null; }
  }
  const q = el('input', { type: 'search', name: 'q', value: params.get('q') || '', placeholder: 'Search titles and descriptions', maxlength: 200 });
  const kind = el('select', { name: 'kind' },
    [['', 'All'], ['video', 'Video'], ['audio', 'Music']].map(([v, t]) => el('option', { value: v }, t)));
  kind.value = params.get('kind') ?? (prefs?.preferred_kind || '');
  const controls = [field('Search', q), field('Show', kind)];
  let mine = null;
  if (canUpload()) {
    mine = el('input', { type: 'checkbox', name: 'mine', id: 'f-mine' });
    mine.checked = params.get('mine') === 'true';
    controls.push(el('div', { class: 'field check' }, mine, el('label', { for: 'f-mine' }, 'Only my uploads')));
  }
  const form = el('form', { class: 'filters', role: 'search', 'aria-label': 'Catalog' }, controls,
    el('button', { type: 'submit' }, 'Search'));
  const status = el('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const grid = el('ul', { class: 'grid', 'aria-label': 'Results' });
  const more = el('button', { type: 'button', hidden: true }, 'Show more');
  main.append(heading('Browse'), form, status, grid, el('div', { class: 'center' }, more));

  let offset = 0;
  async function load(reset) {
    if (reset) { offset = 0; clear(grid); }
    const query = new URLSearchParams({ limit: '24', offset: String(offset) });
    if (q.value.trim()) query.set('q', q.value.trim());
    if (kind.value) query.set('kind', kind.value);
    if (mine?.checked) query.set('mine', 'true');
    status.textContent = 'Loading…';
    try {
      const pageData = await api('GET', `/api/items?${query}`);
      pageData.items.forEach((item) => grid.append(itemCard(item)));
      offset += pageData.items.length;
      status.textContent = pageData.total === 0
        ? (q.value.trim() ? `Nothing matches “${q.value.trim()}”.` : 'Nothing here yet.')
        : `${pageData.total} item${pageData.total === 1 ? '' : 's'}`;
      more.hidden = offset >= pageData.total;
    } catch (err) {
      status.textContent = err.message;
    }
  }
  function apply(ev) {
    ev?.preventDefault();
    const url = new URLSearchParams();
    if (q.value.trim()) url.set('q', q.value.trim());
    url.set('kind', kind.value);
    if (mine?.checked) url.set('mine', 'true');
    history.replaceState(null, '', `/?${url}`);
    load(true);
  }
  form.addEventListener('submit', apply);
  kind.addEventListener('change', apply);
  mine?.addEventListener('change', apply);
  more.addEventListener('click', () => load(false));
  await load(true);
}

// -- upload ---------------------------------------------------------------------------------
function uploadWithProgress(form, onProgress) {
  // XMLHttpRequest, not fetch: only XHR reports upload progress.
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/items');
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', (ev) => { if (ev.lengthComputable) onProgress(ev.loaded / ev.total); });
    xhr.addEventListener('load', () => {
      if (xhr.status === 201) resolve(xhr.response);
      else reject(new ApiError(xhr.status, xhr.response?.code || 'error', xhr.response?.message || `Upload failed (HTTP ${xhr.status}).`));
    });
    xhr.addEventListener('error', () => reject(new Error('The upload was interrupted (network error).')));
    xhr.send(form);
  });
}

function uploadPage() {
  main.append(heading('Upload'));
  if (!canUpload()) {
    main.append(el('p', { class: 'notice' }, 'Your account can watch and listen but not upload. Ask an admin for the uploader role.'));
    return;
  }
  const box = alertBox();
  const file = el('input', { type: 'file', name: 'file', accept: 'video/*,audio/*', required: true });
  const title = el('input', { type: 'text', name: 'title', required: true, maxlength: 200 });
  const description = el('textarea', { name: 'description', rows: 3, maxlength: 5000 });
  const visibility = el('select', { name: 'visibility' },
    el('option', { value: 'public' }, 'Public'), el('option', { value: 'private' }, 'Private (only me)'));
  const submit = el('button', { type: 'submit', class: 'primary' }, 'Upload');
  const form = el('form', { class: 'card narrow', novalidate: true, 'aria-label': 'Upload media' }, box,
    field('Media file', file, 'A video or audio file.'), field('Title', title),
    field('Description (optional)', description), field('Visibility', visibility), submit);
  const upBar = el('progress', { id: 'upload-progress', max: 1, value: 0 });
  const upText = el('span', { class: 'muted' });
  const jobBar = el('progress', { id: 'job-progress', max: 1, value: 0 });
  const jobText = el('span', { id: 'job-status', role: 'status', 'aria-live': 'polite' });
  const after = el('div', { id: 'job-result' });
  const panel = el('section', { class: 'card narrow', hidden: true, 'aria-label': 'Upload progress' },
    el('div', { class: 'field' }, el('label', { for: 'upload-progress' }, 'Upload'), upBar, upText),
    el('div', { class: 'field' }, el('label', { for: 'job-progress' }, 'Transcoding'), jobBar, jobText), after);
  main.append(form, panel);

  file.addEventListener('change', () => {
    if (file.files[0] && !title.value.trim()) title.value = file.files[0].name.replace(/\.[^.]+$/, '');
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    box.hidden = true;
    if (!file.files.length) { showError(box, 'Choose a file to upload.'); file.focus(); return; }
    if (!title.value.trim()) { showError(box, 'Give the upload a title.'); title.focus(); return; }
    submit.disabled = true;
    panel.hidden = false;
    clear(after);
    jobBar.value = 0;
    jobText.textContent = 'Waiting for the upload…';
    const data = new FormData(form);
    try {
      const item = await uploadWithProgress(data, (f) => {
        upBar.value = f;
        upText.textContent = `${Math.round(f * 100)} %`;
      });
      upBar.value = 1;
      upText.textContent = 'Uploaded';
      await followJob(item, jobBar, jobText, after);
      form.reset();
    } catch (err) {
      showError(box, err);
      panel.hidden = true;
    } finally {
      submit.disabled = false;
    }
  });
}

async function followJob(item, bar, text, after) {
  // Poll the item until the worker has made it ready or given up (bounded: ~2 hours).
  for (let i = 0; i < 7200; i += 1) {
    bar.value = item.status === 'ready' ? 1 : item.progress;
    text.textContent = statusLabel(item);
    if (item.status === 'ready') {
      after.append(el('p', {}, el('a', { href: `/watch/${item.id}`, class: 'button primary', id: 'watch-now' },
        item.kind === 'audio' ? 'Listen now' : 'Watch now')));
      return item;
    }
    if (item.status === 'failed') {
      const retry = el('button', { type: 'button' }, 'Retry');
      after.append(el('p', { class: 'alert', role: 'alert', id: 'failure-reason' },
        `Transcoding failed: ${item.failure_reason || 'unknown reason'}`), retry);
      retry.addEventListener('click', async () => {
        retry.disabled = true;
        clear(after);
        followJob(await api('POST', `/api/items/${item.id}/retry`), bar, text, after);
      });
      return item;
    }
    await new Promise((r) => { setTimeout(r, 1000); });
    item = await api('GET', `/api/items/${item.id}`);
  }
  return item;
}

// -- watch / listen -------------------------------------------------------------------------
async function watchPage() {
  const id = body.dataset.itemId;
  let item;
  try {
    item = await api('GET', `/api/items/${id}`);
  } catch (err) {
    main.append(heading('Not found'), el('p', { class: 'notice' }, err.message));
    return;
  }
  document.title = `${item.title} · StreamStack`;
  const info = el('div', { class: 'watch-info' },
    el('h1', { tabindex: '-1' }, item.title),
    el('div', { class: 'meta' },
      el('span', { class: `badge kind-${item.kind}` }, item.kind === 'audio' ? 'Music' : 'Video'),
      item.duration_seconds != null ? el('span', { class: 'duration' }, fmtDuration(item.duration_seconds)) : null,
      el('span', { class: 'muted' }, `Added ${fmtWhen(item.created_at)}`)),
    item.description ? el('p', { class: 'description' }, item.description) : null);
  if (item.status !== 'ready') {
    const bar = el('progress', { id: 'job-progress', max: 1, value: item.progress, 'aria-label': 'Transcoding progress' });
    const text = el('p', { role: 'status', 'aria-live': 'polite' });
    const after = el('div');
    main.append(info, bar, text, after);
    const done = await followJob(item, bar, text, after);
    if (done.status === 'ready') location.reload();
    return;
  }
  const { mountPlayer } = await import('./player.js');
  const stage = el('section', { class: 'stage', 'aria-label': item.kind === 'audio' ? 'Audio player' : 'Video player' });
  main.append(stage, info);
  let prefs = { preferred_quality: 'auto', autoplay: true };
  try { prefs = await api('GET', '/api/me/preferences'); } catch { /* defaults */ }
  await mountPlayer(stage, item, prefs);
}

// -- history --------------------------------------------------------------------------------
async function historyPage() {
  main.append(heading('History'));
  const list = el('ul', { class: 'history', 'aria-label': 'Watched and listened' });
  const status = el('p', { class: 'muted', role: 'status' }, 'Loading…');
  main.append(status, list);
  try {
    const rows = await api('GET', '/api/me/history?limit=100');
    status.textContent = 'Nothing watched or listened to yet.';
    status.hidden = rows.length > 0;
    rows.forEach((row) => {
      const d = row.item.duration_seconds || 0;
      const done = row.completed ? 'Finished' : `${fmtDuration(row.position_seconds)} of ${fmtDuration(d)}`;
      list.append(el('li', { class: 'history-row' },
        row.item.thumbnail_url ? thumbnail(row.item, { width: 96, height: 54 }) : el('div', { class: 'thumb-placeholder small', 'aria-hidden': 'true' }, '♪'),
        el('div', {},
          el('a', { href: `/watch/${row.item.id}` }, row.item.title),
          el('div', { class: 'meta' }, el('span', { class: `badge kind-${row.item.kind}` }, row.item.kind === 'audio' ? 'Music' : 'Video'),
            el('span', {}, done), el('span', { class: 'muted' }, fmtWhen(row.updated_at))),
          el('progress', { max: d || 1, value: row.completed ? d || 1 : row.position_seconds, 'aria-label': `Progress in ${row.item.title}` }))));
    });
  } catch (err) {
    status.textContent = err.message;
  }
}

// -- preferences ----------------------------------------------------------------------------
async function preferencesPage() {
  main.append(heading('Preferences'));
  const prefs = await api('GET', '/api/me/preferences');
  const box = alertBox();
  const quality = el('select', { name: 'preferred_quality' },
    [['auto', 'Auto (adapts to your connection)'], ['1080p', '1080p'], ['720p', '720p'], ['480p', '480p'],
      ['360p', '360p'], ['240p', '240p'], ['144p', '144p']].map(([v, t]) => el('option', { value: v }, t)));
  if (![...quality.options].some((o) => o.value === prefs.preferred_quality)) {
    quality.append(el('option', { value: prefs.preferred_quality }, prefs.preferred_quality));
  }
  quality.value = prefs.preferred_quality;
  const autoplay = el('input', { type: 'checkbox', name: 'autoplay', id: 'f-autoplay' });
  autoplay.checked = prefs.autoplay;
  const kind = el('select', { name: 'preferred_kind' },
    [['', 'Everything'], ['video', 'Video'], ['audio', 'Music']].map(([v, t]) => el('option', { value: v }, t)));
  kind.value = prefs.preferred_kind || '';
  const saved = el('p', { role: 'status', 'aria-live': 'polite', class: 'ok' });
  const form = el('form', { class: 'card narrow', 'aria-label': 'Preferences' }, box,
    field('Preferred video quality', quality, 'The player starts at this quality (or the nearest lower one).'),
    el('div', { class: 'field check' }, autoplay, el('label', { for: 'f-autoplay' }, 'Start playing automatically')),
    field('Show in the catalog by default', kind),
    el('button', { type: 'submit', class: 'primary' }, 'Save'), saved);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    box.hidden = true;
    saved.textContent = '';
    try {
      await api('PUT', '/api/me/preferences', {
        preferred_quality: quality.value, autoplay: autoplay.checked, preferred_kind: kind.value || null,
      });
      saved.textContent = 'Saved.';
    } catch (err) {
      showError(box, err);
    }
  });
  main.append(form, passwordForm(), sessionsCard());
}

function passwordForm() {
  const box = alertBox();
  const current = el('input', { name: 'current_password', type: 'password', autocomplete: 'current-password', required: true });
  const fresh = el('input', { name: 'new_password', type: 'password', autocomplete: 'new-password', required: true, minlength: 10 });
  const done = el('p', { role: 'status', 'aria-live': 'polite', class: 'ok' });
  const form = el('form', { class: 'card narrow', novalidate: true, 'aria-labelledby': 'password-h' },
    el('h2', { id: 'password-h' }, 'Change password'), box,
    field('Current password', current),
    field('New password', fresh, 'At least 10 characters. Your other devices are signed out.'),
    el('button', { type: 'submit' }, 'Change password'), done);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    box.hidden = true;
    done.textContent = '';
    if (!current.value) {
      showError(box, 'Enter your current password.');
      current.focus();
      return;
    }
    if (fresh.value.length < 10) {
      showError(box, 'The new password must be at least 10 characters long.');
      fresh.focus();
      return;
    }
    try {
      // The answer sets a new session cookie for this browser; every other session ends.
      await api('POST', '/api/me/password', { current_password: current.value, new_password: fresh.value });
      current.value = '';
      fresh.value = '';
      done.textContent = 'Password changed. Your other devices are signed out.';
    } catch (err) {
      showError(box, err);
    }
  });
  return form;
}

function sessionsCard() {
  const box = alertBox();
  const everywhere = el('button', { type: 'button', id: 'logout-everywhere' }, 'Sign out everywhere');
  everywhere.addEventListener('click', async () => {
    everywhere.disabled = true;
    box.hidden = true;
    loggingOut = true;
    try {
      await api('POST', '/api/auth/logout-everywhere');
      location.assign('/');
    } catch (err) {
      // Not done: say so (the other sessions may still be alive).
      loggingOut = false;
      everywhere.disabled = false;
      showError(box, err);
    }
  });
  return el('section', { class: 'card narrow', 'aria-labelledby': 'sessions-h' },
    el('h2', { id: 'sessions-h' }, 'Sessions'), box,
    el('p', {}, 'Ends your session on every device and browser, this one included.'), everywhere);
}

const PAGES = {
  browse: browsePage,
  login: () => authPage('login'),
  signup: () => authPage('signup'),
  upload: uploadPage,
  watch: watchPage,
  history: historyPage,
  preferences: preferencesPage,
};

nav();
const render = PAGES[page] || browsePage;
Promise.resolve(render()).catch((err) => {
  if (err instanceof ApiError && err.status === 401) {
    // A request still in flight when the user logged out gets a 401 too: logging out goes home.
    if (!loggingOut) {
      location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    }
    return;
  }
  main.append(el('p', { class: 'alert', role: 'alert' }, err.message || String(err)));
});
