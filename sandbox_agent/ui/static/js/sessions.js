// Every session of the daemon (live, ended, restored, store-only) with live status and last activity.

import { STATUS_LABEL, fill, h, relTime, statusBadge } from './dom.js';

const POLL_MS = 1500;

export function mount(root, ctx) {
  const lastActivity = new Map(); // session_id -> {count, time}
  let sessions = [];
  let timer = null;
  let stopped = false;
  let lastSig = '';

  const agentFilter = h('select', { id: 'filter-agent', onchange: draw }, h('option', { value: '', text: 'All agents' }));
  const statusFilter = h('select', { id: 'filter-status', onchange: draw },
    h('option', { value: '', text: 'All statuses' }),
    Object.entries(STATUS_LABEL).map(([value, text]) => h('option', { value, text })));
  const count = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const body = h('tbody');
  const table = h('table', { class: 'sessions', 'aria-label': 'Sessions' },
    h('thead', {}, h('tr', {},
      ['Session', 'Agent', 'Status', 'Last activity', 'Events', 'Created'].map((t) => h('th', { scope: 'col', text: t })))),
    body);
  root.append(
    h('section', { class: 'view', 'aria-labelledby': 'sessions-title' },
      h('div', { class: 'view-head' },
        h('h2', { id: 'sessions-title', text: 'Sessions' }),
        h('a', { class: 'button primary', href: '#/new', text: 'New session' })),
      h('div', { class: 'filters', role: 'group', 'aria-label': 'Filters' },
        h('label', { for: 'filter-agent', text: 'Agent' }), agentFilter,
        h('label', { for: 'filter-status', text: 'Status' }), statusFilter),
      count,
      h('div', { class: 'table-wrap', role: 'region', 'aria-label': 'Sessions table', tabindex: '0' }, table)));

  function activityOf(s) {
    const seen = lastActivity.get(s.session_id);
    return (seen && seen.time) || s.created_at;
  }

  function draw() {
    const agents = [...new Set(sessions.map((s) => s.agent))].sort();
    const chosen = agentFilter.value;
    if (agentFilter.options.length - 1 !== agents.length) {
      fill(agentFilter, h('option', { value: '', text: 'All agents' }),
        agents.map((a) => h('option', { value: a, text: a })));
      agentFilter.value = agents.includes(chosen) ? chosen : '';
    }
    const shown = sessions
      .filter((s) => !agentFilter.value || s.agent === agentFilter.value)
      .filter((s) => !statusFilter.value || s.status === statusFilter.value)
      .sort((a, b) => activityOf(b).localeCompare(activityOf(a)));
    const now = Date.now();
    // Redraw only on change (or every 10 s for the relative times), so focus and selection survive the polling.
    const sig = JSON.stringify([agentFilter.value, statusFilter.value, Math.floor(now / 10000),
      shown.map((s) => [s.session_id, s.status, s.event_count, activityOf(s), s.pending_permissions.length + s.pending_questions.length])]);
    if (sig === lastSig) return;
    lastSig = sig;
    const focused = document.activeElement && document.activeElement.closest('tr[data-session]');
    const refocus = focused ? focused.dataset.session : null;
    count.textContent = `${shown.length} of ${sessions.length} sessions`;
    fill(body, 
      shown.map((s) => h('tr', { dataset: { session: s.session_id } },
        h('th', { scope: 'row' }, h('a', { href: `#/session/${encodeURIComponent(s.session_id)}`, text: s.session_id })),
        h('td', { text: s.agent }),
        h('td', {}, statusBadge(s.status),
          s.pending_permissions.length + s.pending_questions.length
            ? h('span', { class: 'muted', text: ` ${s.pending_permissions.length + s.pending_questions.length} pending` })
            : null),
        h('td', {}, h('time', { datetime: activityOf(s), title: activityOf(s), text: relTime(activityOf(s), now) })),
        h('td', { class: 'num', text: s.event_count }),
        h('td', {}, h('time', { datetime: s.created_at, title: s.created_at, text: relTime(s.created_at, now) })))));
    if (refocus) {
      const link = body.querySelector(`tr[data-session="${CSS.escape(refocus)}"] a`);
      if (link) link.focus();
    }
    if (!shown.length) {
      body.append(h('tr', {}, h('td', { colspan: 6, class: 'empty', text: sessions.length ? 'No session matches.' : 'No sessions yet.' })));
    }
  }

  // The time of each session's newest event, fetched only when its event count moved.
  async function refreshActivity() {
    const stale = sessions.filter((s) => s.event_count > 0 && lastActivity.get(s.session_id)?.count !== s.event_count);
    await Promise.all(stale.slice(0, 100).map(async (s) => {
      try {
        const page = await ctx.rpc.call('sessions/events', { session_id: s.session_id, offset: s.event_count - 1, limit: 1 });
        const last = page.events[page.events.length - 1];
        lastActivity.set(s.session_id, { count: s.event_count, time: last ? last.time : null });
      } catch {
        lastActivity.set(s.session_id, { count: s.event_count, time: null });
      }
    }));
  }

  async function poll() {
    try {
      sessions = await ctx.rpc.call('sessions/list');
      await refreshActivity();
      if (!stopped) draw();
    } catch (err) {
      if (!stopped) count.textContent = `Could not list sessions: ${err.message}`;
    }
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  }
  poll();
  const cleanup = () => {
    stopped = true;
    clearTimeout(timer);
  };
  cleanup.resync = () => {}; // the polling carries on over the new connection
  return cleanup;
}
