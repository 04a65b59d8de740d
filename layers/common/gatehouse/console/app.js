// The console shell: sign-in, the navigation the credential allows, and hash routes (#/keys, …).

import { api, credential } from './api.js';
import { clear, field, h } from './dom.js';
import { can, errorBox, session } from './ui.js';
import { VIEWS } from './views.js';

const main = () => document.getElementById('main');
let cleanups = [];

/** Runs `fn` when the view is left (timers, polling). */
function onLeave(fn) { cleanups.push(fn); }

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/overview';
  const [path, query = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(query) };
}

function renderNav() {
  const nav = clear(document.getElementById('nav'));
  const who = clear(document.getElementById('who'));
  if (!session.me) return;
  const current = parseHash().parts[0] || 'overview';
  const list = h('ul', {});
  for (const view of VIEWS.filter((v) => can(v.scope))) {
    list.append(h('li', {}, h('a', {
      href: `#/${view.path}`, 'aria-current': view.path === current ? 'page' : null,
    }, view.title)));
  }
  nav.append(list);
  const signOut = h('button', { type: 'button', class: 'link' }, 'Sign out');
  signOut.addEventListener('click', () => {
    credential.clear();
    session.me = null;
    location.hash = '#/signin';
    route();
  });
  who.append(h('span', { title: `scopes: ${session.me.scopes.join(' ')}` },
    `${session.me.principalId} (${session.me.authType}, ${session.me.tier})`), ' ', signOut);
}

function signInView(problem) {
  const input = h('textarea', { rows: 3, autocomplete: 'off', spellcheck: 'false', required: true,
    placeholder: 'gk_live_… or eyJ…' });
  const message = h('div', { 'aria-live': 'polite' }, problem ? errorBox(problem) : null);
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { 'aria-label': 'Sign in', class: 'form signin' },
    field('API key or JWT', input, 'Kept in this tab\'s sessionStorage only; sent as a Bearer token to this API.'),
    submit, message);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    credential.set(token);
    submit.disabled = true;
    try {
      session.me = await api('GET', '/v1/me');
      if (location.hash === '' || location.hash.startsWith('#/signin')) location.hash = '#/overview';
      else route();
    } catch (err) {
      credential.clear();
      message.replaceChildren(errorBox(err));
    } finally {
      submit.disabled = false;
    }
  });
  return h('section', { class: 'panel narrow' }, h('h1', {}, 'Sign in to the Gatehouse console'), form);
}

async function route() {
  for (const fn of cleanups) fn();
  cleanups = [];
  const root = clear(main());
  if (!credential.get()) {
    session.me = null;
    renderNav();
    root.append(signInView());
    return;
  }
  if (!session.me) {
    try {
      session.me = await api('GET', '/v1/me');
    } catch (err) {
      credential.clear();
      renderNav();
      root.append(signInView(err));
      return;
    }
  }
  const { parts, params } = parseHash();
  if (parts[0] === 'signin') {
    location.hash = '#/overview';
    return;
  }
  renderNav();
  const view = VIEWS.find((v) => v.path === (parts[0] || 'overview'));
  if (!view) {
    root.append(h('section', { class: 'panel' }, h('h1', {}, 'No such view'), h('a', { href: '#/overview' }, 'Overview')));
    return;
  }
  document.title = `${view.title} · Gatehouse console`;
  if (!can(view.scope)) {
    root.append(h('section', { class: 'panel' }, h('h1', {}, view.title),
      h('p', {}, `Your credential does not hold ${view.scope}: this view is not available to it.`)));
    return;
  }
  const body = h('div', { class: 'view', 'data-view': view.path });
  root.append(body);
  try {
    await view.render(body, parts.slice(1), params, { onLeave, refresh: route });
  } catch (err) {
    body.append(errorBox(err));
  }
  root.focus({ preventScroll: true });
}

window.addEventListener('hashchange', route);
route(); // module scripts run once the page is parsed
