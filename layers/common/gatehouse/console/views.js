// The console's views. Each renders into `root` from the public API, offering only what the
// credential's scopes allow (docs/console.md).

import { api, ApiError, enc, q } from './api.js';
import { barChart, formatNumber, gauge } from './charts.js';
import { field, fmtDuration, fmtTime, h } from './dom.js';
import { actionButton, badge, can, errorBox, form, panel, secretOnce, session, table } from './ui.js';

const WINDOWS = ['5m', '1h', '24h'];
const SCOPES = ['admin', 'keys:read', 'keys:write', 'ratelimit:check', 'ratelimit:admin', 'webhooks:read',
  'webhooks:admin', 'campaigns:read', 'campaigns:write', 'timers:write', 'metrics:read'];
const TIERS = ['free', 'starter', 'professional', 'enterprise'];

const input = (attrs) => h('input', { autocomplete: 'off', ...attrs });
const select = (options, value, attrs = {}, empty = 'any') => h('select', attrs,
  options.map((o) => h('option', { value: o, selected: o === value }, o || empty)));
const hashWith = (path, params) => `#/${path}${q(params)}`;
const missing = (err) => err instanceof ApiError && err.status === 404;

/** Re-runs `fn` every `ms` while the view is shown. */
function every(ctx, ms, fn) {
  const id = setInterval(() => {
    const active = document.activeElement;
    if (active && ['INPUT', 'TEXTAREA', 'SELECT'].includes(active.tagName)) return; // the operator is typing
    fn();
  }, ms);
  ctx.onLeave(() => clearInterval(id));
}

// -- overview -------------------------------------------------------------------------------------------

async function overview(root, _parts, _params, ctx) {
  root.append(h('h1', {}, 'Overview'));
  const metricsBox = panel('Traffic (5 m / 1 h / 24 h)');
  const readyBox = panel('Readiness');
  const breakersBox = panel('Breakers');
  root.append(metricsBox, h('div', { class: 'grid2' }, readyBox, breakersBox));
  const jobs = [readiness(readyBox)];
  if (can('metrics:read')) jobs.push(metricsPanel(metricsBox));
  else metricsBox.append(h('p', {}, 'Your credential does not hold metrics:read.'));
  if (can('admin')) jobs.push(breakerStates(breakersBox, false));
  else breakersBox.append(h('p', {}, 'Breaker states need the admin scope.'));
  await Promise.all(jobs);
  every(ctx, 15000, () => ctx.refresh());
}

async function metricsPanel(box) {
  let results;
  try {
    results = await Promise.all(WINDOWS.map((w) => api('GET', `/v1/metrics${q({ window: w })}`)));
  } catch (err) {
    if (missing(err)) {
      box.append(h('div', { class: 'notice', 'data-metrics': 'unavailable' },
        h('strong', {}, 'Metrics not available'),
        h('p', {}, 'This deployment does not serve GET /v1/metrics yet; readiness and breakers below still work.')));
      return;
    }
    box.append(errorBox(err));
    return;
  }
  const series = (pick) => results.map((m, i) => ({ label: WINDOWS[i], value: Number(pick(m)) || 0 }));
  const lat = (p) => (m) => ((m.requests || {}).latencyMs || {})[p];
  box.append(h('div', { class: 'charts', 'data-metrics': 'available' },
    barChart('Requests per second', series((m) => (m.requests || {}).perSecond)),
    barChart('Error rate (5xx, %)', series((m) => 100 * ((m.requests || {}).errorRate || 0)), '%'),
    barChart('Latency p50 (ms)', series(lat('p50'))),
    barChart('Latency p95 (ms)', series(lat('p95'))),
    barChart('Latency p99 (ms)', series(lat('p99'))),
    barChart('Rate-limited (429s)', series((m) => (m.rateLimit || {}).limited))));
  const hour = results[1].requests || {};
  box.append(h('div', { class: 'grid2' },
    h('div', {}, h('h3', {}, 'Top routes (1 h)'), table(['route', 'requests', 'errors', 'p95 ms'],
      (hour.topRoutes || []).map((r) => h('tr', {}, h('td', {}, h('code', {}, r.route)), h('td', {}, r.requests),
        h('td', {}, r.errors), h('td', {}, formatNumber(Number(r.p95Ms))))))),
    h('div', {}, h('h3', {}, 'Top principals (1 h)'), table(['principal', 'requests'],
      (hour.topPrincipals || []).map((p) => h('tr', {}, h('td', {}, h('code', {}, p.principal)),
        h('td', {}, p.requests)))))));
  const states = results[0].breakers || {};
  if (Object.keys(states).length) {
    box.append(h('p', {}, 'Breakers seen by metrics: ',
      Object.entries(states).map(([name, state]) => h('span', { class: 'pair' }, `${name} `, badge(state)))));
  }
}

async function readiness(box) {
  let data;
  try {
    data = await api('GET', '/health/ready');
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 503)) { box.append(errorBox(err)); return; }
    data = err.data || { status: 'fail' };
  }
  const rows = [];
  for (const [name, entries] of Object.entries(data.checks || {})) {
    for (const c of Array.isArray(entries) ? entries : [entries]) {
      rows.push(h('tr', {}, h('td', {}, name), h('td', {}, badge(c.status)),
        h('td', {}, c.observedValue === undefined ? '—' : `${c.observedValue}${c.observedUnit ? ` ${c.observedUnit}` : ''}`)));
    }
  }
  box.append(h('p', { 'data-ready': data.status }, 'Status: ', badge(data.status)),
    table(['check', 'status', 'observed'], rows));
}

// -- breakers --------------------------------------------------------------------------------------------

async function breakerStates(box, withActions) {
  let page;
  try {
    page = await api('GET', '/v1/breakers');
  } catch (err) {
    if (missing(err)) {
      box.append(h('div', { class: 'notice', 'data-breakers': 'unavailable' }, h('strong', {}, 'Breakers not available'),
        h('p', {}, 'This deployment does not serve GET /v1/breakers yet.')));
      return;
    }
    box.append(errorBox(err));
    return;
  }
  const out = h('div', { 'aria-live': 'polite' });
  const rows = (page.items || []).map((b) => h('tr', {},
    h('td', {}, h('code', {}, b.name)), h('td', {}, badge(b.state)),
    h('td', {}, b.window ? `${b.window.failures}/${b.window.calls}` : '—'),
    h('td', {}, b.retryAfterSeconds ? `${b.retryAfterSeconds}s` : '—'),
    withActions ? h('td', {}, actionButton('Reset', async () => {
      await api('POST', `/v1/breakers/${enc(b.name)}/reset`);
      box.dispatchEvent(new CustomEvent('reload'));
    }, { out, confirmText: `Confirm reset of ${b.name}` })) : null));
  box.append(table(['breaker', 'state', 'failures/calls', 'retry after', withActions ? 'actions' : null].filter(Boolean), rows), out);
}

async function breakers(root, _parts, _params, ctx) {
  root.append(h('h1', {}, 'Breakers'));
  const box = panel('Breaker states');
  box.addEventListener('reload', () => ctx.refresh());
  root.append(box);
  await breakerStates(box, true);
}

// -- keys -------------------------------------------------------------------------------------------------

async function keys(root, _parts, params, ctx) {
  root.append(h('h1', {}, 'API keys'));
  if (can('keys:write')) root.append(createKeyPanel(ctx));
  const out = h('div', { 'aria-live': 'polite' });
  root.append(out, await keyList(params, out));
}

async function keyList(params, out) {
  const page = await api('GET', `/v1/keys${q({ limit: 20, cursor: params.get('cursor') })}`);
  let list;
  const reload = async () => list.replaceWith(await keyList(params, out));
  const rows = page.items.map((k) => {
    const actions = h('td', { class: 'actions' });
    if (can('keys:write') && k.status !== 'revoked') {
      const grace = input({ type: 'number', min: 0, max: 2592000, value: 86400, class: 'short',
        'aria-label': `Grace period in seconds for ${k.name}` });
      actions.append(
        grace,
        actionButton('Rotate', async () => {
          const created = await api('POST', `/v1/keys/${enc(k.id)}/rotate`, { gracePeriodSeconds: Number(grace.value) });
          out.replaceChildren(secretOnce(`New secret of ${created.name}`, created.key));
          await reload();
        }, { out }),
        actionButton('Revoke', async () => {
          await api('DELETE', `/v1/keys/${enc(k.id)}`);
          out.replaceChildren(h('p', { role: 'status' }, `Revoked ${k.name}.`));
          await reload();
        }, { out, kind: 'danger', confirmText: 'Confirm revoke' }),
      );
    }
    return h('tr', { 'data-key-id': k.id },
      h('td', {}, k.name), h('td', {}, h('code', {}, k.prefix)), h('td', {}, badge(k.status)), h('td', {}, k.tier),
      h('td', {}, k.scopes.join(' ')), h('td', {}, fmtTime(k.createdAt)),
      h('td', {}, k.graceUntil ? `grace until ${fmtTime(k.graceUntil)}` : fmtTime(k.expiresAt)), actions);
  });
  list = panel('Keys', table(['name', 'prefix', 'status', 'tier', 'scopes', 'created', 'expires', 'actions'], rows),
    h('nav', { class: 'pager', 'aria-label': 'Pages' },
      params.get('cursor') ? h('a', { href: '#/keys' }, 'First page') : null,
      page.nextCursor ? h('a', { href: hashWith('keys', { cursor: page.nextCursor }) }, 'Next page') : null));
  return list;
}

function createKeyPanel(ctx) {
  const name = input({ required: true, maxlength: 128 });
  const mine = SCOPES.filter((sc) => sc !== 'admin' && can(sc));
  const boxes = h('fieldset', { class: 'checks' }, h('legend', {}, 'Scopes'),
    (can('admin') ? ['admin', ...mine] : mine).map((sc) => h('label', {}, h('input', { type: 'checkbox', value: sc }), ` ${sc}`)));
  const tier = select(['', ...TIERS], '', {}, '(default)');
  const expires = input({ type: 'datetime-local' });
  const result = h('div', { 'aria-live': 'polite' });
  const f = form('Create a key', [field('Name', name), boxes,
    can('admin') ? field('Tier', tier, 'admin only; empty: free') : null,
    field('Expires (UTC, optional)', expires)], 'Create key', async () => {
    const body = { name: name.value, scopes: [...boxes.querySelectorAll('input:checked')].map((c) => c.value) };
    if (tier.value) body.tier = tier.value;
    if (expires.value) body.expiresAt = `${expires.value}:00Z`; // datetime-local is minutes, read as UTC
    const created = await api('POST', '/v1/keys', body);
    result.replaceChildren(secretOnce(`Secret of ${created.name}`, created.key),
      h('p', {}, h('a', { href: '#/keys', 'data-reload': '' }, 'Done: show the list')));
    result.querySelector('[data-reload]').addEventListener('click', (e) => { e.preventDefault(); ctx.refresh(); });
    f.reset();
  });
  return panel('Create a key', f, result);
}

// -- rate limits ------------------------------------------------------------------------------------------

const windowsText = (ws) => (ws || []).map((w) => `${w.name}: ${w.limit}/${w.periodSeconds}s ${w.algorithm || ''}`).join(', ');

async function ratelimit(root, _parts, params, ctx) {
  root.append(h('h1', {}, 'Rate limits'));
  const policies = await api('GET', '/v1/ratelimit/policies');
  root.append(panel('Policies', table(['policy', 'kind', 'on Redis failure', 'windows'],
    policies.items.map((p) => h('tr', {}, h('td', {}, p.name), h('td', {}, p.kind), h('td', {}, p.failureMode),
      h('td', {}, windowsText(p.windows))))),
  h('p', {}, 'Route groups: ', Object.entries(policies.routeGroups || {}).map(([r, g]) => h('span', { class: 'pair' },
    h('code', {}, r), ` → ${g}`)))));

  const subject = params.get('subject') || session.me.principalId;
  const subjectIn = input({ value: subject, required: true, name: 'subject' });
  const ownerIn = input({ value: params.get('owner') || '', name: 'owner' });
  const policyIn = input({ value: params.get('policy') || '', name: 'policy' });
  const lookup = form('Look up a subject', [field('Subject', subjectIn, 'a principalId, or any string of the check API'),
    can('ratelimit:admin') ? field('Owner (an API key\'s owner)', ownerIn) : null,
    can('ratelimit:admin') ? field('Policies (comma-separated)', policyIn) : null], 'Show usage', async () => {
    location.hash = hashWith('ratelimit', { subject: subjectIn.value.trim(), owner: ownerIn.value.trim(), policy: policyIn.value.trim() });
  });
  const usageBox = panel(`Usage of ${subject}`);
  root.append(panel('Subject', lookup), usageBox);
  try {
    const usage = await api('GET', `/v1/ratelimit/usage/${enc(subject)}${q({ owner: params.get('owner'), policy: params.get('policy') })}`);
    usageBox.append(h('div', {},
      usage.blocked ? h('p', {}, badge('blocked'), ' every request of this subject is refused') : null,
      usage.degraded ? h('p', {}, badge('warn'), ' Redis unavailable: in-process fallback') : null),
    h('div', { class: 'gauges', 'data-subject': subject }, usage.windows.map((w) => gauge(`${w.policy}.${w.window}`, w.used, w.limit,
        `${w.algorithm}, ${w.windowSeconds}s window, resets ${fmtTime(w.resetAt)}`))));
  } catch (err) {
    usageBox.append(errorBox(err));
  }
  if (can('ratelimit:admin')) root.append(await overridePanel(subject, ctx));
}

async function overridePanel(subject, ctx) {
  let current = null;
  const box = panel(`Override of ${subject}`);
  try {
    current = await api('GET', `/v1/ratelimit/overrides/${enc(subject)}`);
  } catch (err) {
    if (!missing(err)) box.append(errorBox(err));
  }
  const first = (ws) => (ws && ws[0]) || {};
  const cur = current || {};
  const limit = input({ type: 'number', min: 1, value: first(cur.limits).limit || '', name: 'limit' });
  const period = input({ type: 'number', min: 1, value: first(cur.limits).periodSeconds || 3600, name: 'period' });
  const algorithm = select(['sliding', 'gcra'], first(cur.limits).algorithm || 'sliding');
  const boost = input({ type: 'number', min: 0, step: '0.1', value: cur.boost || '', name: 'boost' });
  const boostUntil = input({ type: 'datetime-local', value: (cur.boostExpiresAt || '').slice(0, 16) });
  const emLimit = input({ type: 'number', min: 1, value: first(cur.emergency).limit || '', name: 'emergency' });
  const emPeriod = input({ type: 'number', min: 1, value: first(cur.emergency).periodSeconds || 60 });
  const blocked = h('input', { type: 'checkbox', checked: Boolean(cur.blocked), name: 'blocked' });
  const expires = input({ type: 'datetime-local', value: (cur.expiresAt || '').slice(0, 16) });
  const reason = input({ value: cur.reason || '', maxlength: 500 });
  const utc = (v) => (v ? `${v}:00Z` : undefined);
  const f = form('Edit override', [
    h('fieldset', {}, h('legend', {}, 'Custom limit (replaces the tier windows)'),
      field('Requests', limit), field('Per seconds', period), field('Algorithm', algorithm)),
    h('fieldset', {}, h('legend', {}, 'Boost'), field('Multiplier', boost), field('Until (UTC)', boostUntil)),
    h('fieldset', {}, h('legend', {}, 'Emergency cap (replaces the subject\'s own windows)'),
      field('Requests', emLimit), field('Per seconds', emPeriod)),
    h('fieldset', {}, h('legend', {}, 'Block'), h('label', {}, blocked, ' block every request')),
    field('Whole override expires (UTC, optional)', expires), field('Reason', reason),
  ], 'Save override', async (_el, message) => {
    const body = { blocked: blocked.checked };
    if (limit.value) body.limits = [{ name: 'custom', limit: Number(limit.value), periodSeconds: Number(period.value), algorithm: algorithm.value }];
    if (boost.value) { body.boost = Number(boost.value); body.boostExpiresAt = utc(boostUntil.value); }
    if (emLimit.value) body.emergency = [{ name: 'emergency', limit: Number(emLimit.value), periodSeconds: Number(emPeriod.value) }];
    if (expires.value) body.expiresAt = utc(expires.value);
    if (reason.value) body.reason = reason.value;
    await api('PUT', `/v1/ratelimit/overrides/${enc(subject)}`, body);
    message.replaceChildren(h('p', { class: 'ok', role: 'status' }, 'Override saved.'));
  });
  box.append(current ? h('p', {}, 'Current: ', h('code', {}, JSON.stringify(current))) : h('p', {}, 'No override.'), f);
  if (current) {
    box.append(actionButton('Delete override', async () => {
      await api('DELETE', `/v1/ratelimit/overrides/${enc(subject)}`);
      ctx.refresh();
    }, { kind: 'danger', confirmText: 'Confirm delete' }));
  }
  return box;
}

// -- webhooks ---------------------------------------------------------------------------------------------

function randomStandardSecret() {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

async function webhooks(root, parts, params, ctx) {
  if (parts[0] === 'events' && parts[1]) return webhookEvent(root, parts[1], ctx);
  root.append(h('h1', {}, 'Webhooks'));
  if (can('webhooks:admin')) root.append(await sourcesPanel(ctx));
  const filters = { source: params.get('source') || '', type: params.get('type') || '', status: params.get('status') || '' };
  const sourceIn = input({ value: filters.source, name: 'source' });
  const typeIn = input({ value: filters.type, name: 'type' });
  const statusIn = select(['', 'RECEIVED', 'PROCESSED', 'FAILED'], filters.status, { name: 'status' });
  const filterForm = form('Filter events', [field('Source', sourceIn), field('Type', typeIn), field('Status', statusIn)],
    'Filter', async () => {
      location.hash = hashWith('webhooks', { source: sourceIn.value.trim(), type: typeIn.value.trim(), status: statusIn.value });
    });
  filterForm.classList.add('inline');
  const page = await api('GET', `/v1/webhook-events${q({ ...filters, limit: 20, cursor: params.get('cursor') })}`);
  const rows = page.items.map((e) => h('tr', { 'data-event-id': e.id },
    h('td', {}, h('a', { href: `#/webhooks/events/${enc(e.id)}` }, e.id)), h('td', {}, e.source), h('td', {}, e.type),
    h('td', {}, badge(e.status)), h('td', {}, e.attempts), h('td', {}, fmtTime(e.receivedAt))));
  root.append(panel('Events', filterForm, table(['event', 'source', 'type', 'status', 'attempts', 'received'], rows),
    h('nav', { class: 'pager', 'aria-label': 'Pages' },
      page.nextCursor ? h('a', { href: hashWith('webhooks', { ...filters, cursor: page.nextCursor }) }, 'Next page') : null)));
  return undefined;
}

async function sourcesPanel(ctx) {
  const out = h('div', { 'aria-live': 'polite' });
  const page = await api('GET', '/v1/webhook-sources');
  const rows = page.items.map((src) => h('tr', {},
    h('td', {}, src.name), h('td', {}, src.scheme), h('td', {}, h('code', {}, src.intakePath)),
    h('td', {}, badge(src.enabled ? 'enabled' : 'disabled')), h('td', {}, String(src.secrets.length)),
    h('td', {}, actionButton('Rotate secret', async () => {
      const rotated = await api('POST', `/v1/webhook-sources/${enc(src.name)}/rotate-secret`, { gracePeriodSeconds: 86400 });
      out.replaceChildren(rotated.secret ? secretOnce(`New secret of ${src.name}`, rotated.secret)
        : h('p', { role: 'status' }, `Rotated ${src.name}.`));
    }, { out }))));
  const name = input({ required: true, pattern: '[A-Za-z0-9_-]+', name: 'name' });
  const scheme = select(['standard', 'stripe', 'github', 'slack', 'shopify', 'hmac-sha256'], 'standard');
  const secret = input({ name: 'secret', placeholder: 'empty: generate a whsec_ secret (standard)' });
  const typePath = input({ name: 'eventTypePath', placeholder: 'type' });
  const f = form('Register a source', [field('Name', name), field('Scheme', scheme), field('Secret', secret),
    field('Event type path (JSON)', typePath)], 'Register source', async () => {
    const value = secret.value.trim() || randomStandardSecret();
    const body = { scheme: scheme.value, secrets: [value] };
    if (typePath.value.trim()) body.eventTypePath = typePath.value.trim();
    await api('PUT', `/v1/webhook-sources/${enc(name.value.trim())}`, body);
    out.replaceChildren(secret.value.trim() ? h('p', { role: 'status' }, `Registered ${name.value}.`)
      : secretOnce(`Secret of ${name.value}`, value));
    f.reset();
  });
  const box = panel('Sources', out, table(['source', 'scheme', 'intake', 'enabled', 'secrets', 'actions'], rows),
    h('details', {}, h('summary', {}, 'Register a source'), f));
  box.append(h('p', {}, h('a', { href: '#/webhooks', 'data-reload': '' }, 'Refresh')));
  box.querySelector('[data-reload]').addEventListener('click', (e) => { e.preventDefault(); ctx.refresh(); });
  return box;
}

async function webhookEvent(root, id, ctx) {
  root.append(h('p', {}, h('a', { href: '#/webhooks' }, '← Webhooks')), h('h1', {}, `Event ${id}`));
  const box = h('div', {});
  root.append(box);
  const out = h('div', { 'aria-live': 'polite' });
  async function load() {
    const e = await api('GET', `/v1/webhook-events/${enc(id)}`);
    box.replaceChildren(panel('Event', h('dl', { class: 'facts' }, [
      ['source', e.source], ['type', e.type], ['delivery', e.deliveryId],
      ['status', badge(e.status)], ['attempts', e.attempts], ['replays', e.replayCount],
      ['received', fmtTime(e.receivedAt)], ['processed', fmtTime(e.processedAt)], ['failed', fmtTime(e.failedAt)],
      ['last error', e.lastError || '—']].map(([k, v]) => [h('dt', {}, k), h('dd', { 'data-field': k }, v)])),
    can('webhooks:admin') && e.status !== 'RECEIVED' ? actionButton('Replay', async () => {
      await api('POST', `/v1/webhook-events/${enc(id)}/replay`);
      out.replaceChildren(h('p', { role: 'status', class: 'ok' }, 'Replay queued.'));
      await load();
    }, { out }) : null, out),
    panel('Received', h('h3', {}, 'Headers kept'), h('pre', {}, JSON.stringify(e.headers, null, 2)),
      h('h3', {}, `Body (${e.bodyEncoding}, ${e.bodyBytes} bytes)`), h('pre', {}, e.body)));
  }
  await load();
  every(ctx, 1000, () => load().catch((err) => out.replaceChildren(errorBox(err))));
}

// -- campaigns --------------------------------------------------------------------------------------------

async function campaigns(root, parts, params, ctx) {
  if (parts[0]) return campaignTimeline(root, parts[0], ctx);
  root.append(h('h1', {}, 'Campaigns'));
  if (can('campaigns:write')) root.append(createCampaignPanel());
  const page = await api('GET', `/v1/campaigns${q({ limit: 20, cursor: params.get('cursor') })}`);
  const rows = page.items.map((c) => h('tr', { 'data-campaign-id': c.id },
    h('td', {}, h('a', { href: `#/campaigns/${enc(c.id)}` }, c.name)), h('td', {}, badge(c.status)),
    h('td', {}, fmtTime(c.startTime)), h('td', {}, fmtTime(c.endTime)), h('td', {}, c.targetEngagements ?? '—')));
  root.append(panel('Campaigns', table(['name', 'status', 'start', 'end', 'target'], rows),
    h('nav', { class: 'pager', 'aria-label': 'Pages' },
      params.get('cursor') ? h('a', { href: '#/campaigns' }, 'First page') : null,
      page.nextCursor ? h('a', { href: hashWith('campaigns', { cursor: page.nextCursor }) }, 'Next page') : null)));
  return undefined;
}

function createCampaignPanel() {
  const name = input({ required: true, maxlength: 200, name: 'name' });
  const startIn = input({ type: 'number', min: 1, value: 60, name: 'startIn' });
  const hours = input({ type: 'number', min: 0.01, step: '0.01', value: 1, name: 'durationHours' });
  const target = input({ type: 'number', min: 1, name: 'targetEngagements' });
  const f = form('Create a campaign', [field('Name', name), field('Starts in (seconds)', startIn),
    field('Duration (hours)', hours), field('Target engagements (optional)', target)], 'Create campaign', async () => {
    const start = new Date(Math.ceil(Date.now() / 1000 + Number(startIn.value)) * 1000).toISOString().replace('.000Z', 'Z');
    const body = { name: name.value, startTime: start, durationHours: Number(hours.value) };
    if (target.value) body.targetEngagements = Number(target.value);
    const created = await api('POST', '/v1/campaigns', body);
    location.hash = `#/campaigns/${enc(created.id)}`;
  });
  return panel('Create a campaign', h('details', {}, h('summary', {}, 'New campaign'), f));
}

async function campaignTimeline(root, id, ctx) {
  root.append(h('p', {}, h('a', { href: '#/campaigns' }, '← Campaigns')));
  const box = h('div', {});
  const out = h('div', { 'aria-live': 'polite' });
  root.append(box);
  async function load() {
    const life = await api('GET', `/v1/campaigns/${enc(id)}/lifecycle`);
    const c = life.campaign;
    const m = life.metrics || {};
    const timers = (life.timers || {}).details || [];
    const live = ['SCHEDULED', 'RUNNING'].includes(c.status);
    box.replaceChildren(
      h('h1', {}, c.name),
      panel('State', h('p', { 'data-status': c.status }, 'Status: ', badge(c.status)),
        h('dl', { class: 'facts' }, [['start', fmtTime(c.startTime)], ['end', fmtTime(c.endTime)],
          ['participants', m.participants ?? 0], ['rewards claimed', m.rewardsClaimed ?? 0]]
          .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
        c.targetEngagements ? gauge('Engagements vs target', m.totalEngagements || 0, c.targetEngagements)
          : h('p', {}, `Engagements: ${m.totalEngagements || 0} (no target)`),
        can('campaigns:write') && live ? cancelForm(id, out, load) : null, out),
      panel('Timers', table(['type', 'status', 'scheduled', 'countdown', 'executed', 'retries', 'last error', ''],
        timers.map((t) => h('tr', { 'data-timer': t.type },
          h('td', {}, t.type), h('td', {}, badge(t.status)), h('td', {}, fmtTime(t.scheduledAt)),
          h('td', { 'data-countdown': t.status === 'PENDING' ? t.scheduledAt : null }, t.status === 'PENDING' ? '' : '—'),
          h('td', {}, fmtTime(t.executedAt)), h('td', {}, `${t.retryCount ?? 0}/${t.maxRetries ?? '—'}`),
          h('td', {}, t.lastError || '—'),
          h('td', {}, can('timers:write') && t.status === 'PENDING' ? actionButton('Execute now', async () => {
            await api('POST', `/v1/campaigns/${enc(id)}/timers/${enc(t.timerId)}/execute`);
            await load();
          }, { out }) : null))))),
      panel('State history', table(['at', 'from', 'to', 'trigger', 'actor', 'reason'],
        (life.stateHistory || []).map((e) => h('tr', {}, h('td', {}, fmtTime(e.at)), h('td', {}, e.fromStatus || '—'),
          h('td', {}, badge(e.toStatus)), h('td', {}, e.trigger), h('td', {}, e.actor || '—'), h('td', {}, e.reason || '—'))))));
    tick();
  }
  function tick() {
    for (const cell of box.querySelectorAll('[data-countdown]')) {
      const ms = new Date(cell.getAttribute('data-countdown')).getTime() - Date.now();
      cell.textContent = ms > 0 ? `in ${fmtDuration(ms)}` : `due ${fmtDuration(-ms)} ago`;
    }
  }
  await load();
  every(ctx, 1000, tick);
  every(ctx, 2000, () => load().catch((err) => out.replaceChildren(errorBox(err))));
  return undefined;
}

function cancelForm(id, out, load) {
  const reason = input({ name: 'reason', maxlength: 500, placeholder: 'why' });
  const f = form('Cancel campaign', [field('Reason', reason)], 'Cancel campaign', async () => {
    await api('POST', `/v1/campaigns/${enc(id)}/cancel`, reason.value ? { reason: reason.value } : {});
    out.replaceChildren(h('p', { role: 'status' }, 'Cancelled.'));
    await load();
  });
  f.classList.add('inline');
  return f;
}

/** Every view: its hash path, title, the scope that offers it (null: any credential), and renderer. */
export const VIEWS = [
  { path: 'overview', title: 'Overview', scope: null, render: overview },
  { path: 'keys', title: 'Keys', scope: 'keys:read', render: keys },
  { path: 'ratelimit', title: 'Rate limits', scope: null, render: ratelimit },
  { path: 'webhooks', title: 'Webhooks', scope: 'webhooks:read', render: webhooks },
  { path: 'campaigns', title: 'Campaigns', scope: 'campaigns:read', render: campaigns },
  { path: 'breakers', title: 'Breakers', scope: 'admin', render: breakers },
];
