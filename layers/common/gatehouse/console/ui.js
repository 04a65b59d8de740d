// Shared pieces of every view: the session (who is signed in, what they may do), panels, errors, buttons.

import { ApiError } from './api.js';
import { h } from './dom.js';

export const session = { me: null };

/** Whether the signed-in credential holds `scope` (admin holds every scope). */
export function can(scope) {
  const scopes = (session.me && session.me.scopes) || [];
  return scope === null || scopes.includes('admin') || scopes.includes(scope);
}

/** An error as the operator needs it: code, message, field details and the requestId to quote. */
export function errorBox(err) {
  const e = err instanceof ApiError ? err : new ApiError(0, 'CONSOLE_ERROR', String(err && err.message), null);
  return h('div', { class: 'error', role: 'alert' },
    h('strong', {}, `${e.status ? `${e.status} ` : ''}${e.code}`), ': ', e.message,
    e.details.length ? h('ul', {}, e.details.map((d) => h('li', {}, `${d.field}: ${d.message}`))) : null,
    h('div', { class: 'request-id' }, 'requestId: ', h('code', {}, e.requestId || '(none)')));
}

export function panel(title, ...children) {
  return h('section', { class: 'panel', 'aria-label': title }, h('h2', {}, title), ...children);
}

/** A button whose click runs `action`, disabled while it runs; a failure shows in `out` (or after it). */
export function actionButton(label, action, { out, kind = '', confirmText } = {}) {
  const btn = h('button', { type: 'button', class: kind });
  btn.textContent = label;
  let armed = false;
  btn.addEventListener('click', async () => {
    // A destructive action takes a second click on the relabelled button (no modal dialogs).
    if (confirmText && !armed) {
      armed = true;
      btn.textContent = confirmText;
      setTimeout(() => { armed = false; btn.textContent = label; }, 5000);
      return;
    }
    btn.disabled = true;
    try {
      await action();
    } catch (err) {
      const box = errorBox(err);
      if (out) out.replaceChildren(box); else btn.after(box);
    } finally {
      btn.disabled = false;
    }
  });
  return btn;
}

/** A form that runs `onSubmit(form)`; a failure shows in the form's own message area. */
export function form(label, fields, submitLabel, onSubmit) {
  const message = h('div', { class: 'form-message', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, submitLabel);
  const el = h('form', { 'aria-label': label, class: 'form', novalidate: true }, fields, submit, message);
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    message.replaceChildren();
    try {
      await onSubmit(el, message);
    } catch (err) {
      message.replaceChildren(errorBox(err));
    } finally {
      submit.disabled = false;
    }
  });
  return el;
}

export function table(headers, rows, caption) {
  return h('div', { class: 'table-wrap' }, h('table', {},
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'empty' }, 'Nothing here yet.')))));
}

export function badge(text) {
  const value = String(text || '').toUpperCase();
  const kind = ['PROCESSED', 'COMPLETED', 'RUNNING', 'ACTIVE', 'PASS', 'CLOSED'].includes(value) ? 'good'
    : ['FAILED', 'REVOKED', 'FAIL', 'OPEN', 'CANCELLED'].includes(value) ? 'bad'
      : ['WARN', 'HALF_OPEN', 'HALF-OPEN', 'ROTATED', 'RECEIVED'].includes(value) ? 'warn' : '';
  return h('span', { class: `badge ${kind}` }, String(text ?? '—'));
}

/** A secret shown once, with a copy button; the operator is told it will not be shown again. */
export function secretOnce(title, secret) {
  const code = h('code', { class: 'secret', 'data-secret': '' }, secret);
  const status = h('span', { 'aria-live': 'polite' });
  const copy = h('button', { type: 'button' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(secret);
      status.textContent = ' Copied.';
    } catch {
      const range = document.createRange();
      range.selectNodeContents(code);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      status.textContent = ' Selected: press Ctrl+C to copy.';
    }
  });
  return h('div', { class: 'secret-once', role: 'status' }, h('strong', {}, title),
    h('p', {}, 'Shown once: copy it now, it cannot be read again.'), code, ' ', copy, status);
}
