// One session: live conversation, pending requests, actions, composer, raw events and (when the daemon has
// terminals) a terminal tab. History comes from sessions/events in pages, then one sessions/subscribe goes live.

import { h, statusBadge, toast } from './dom.js';
import { Conversation } from './conversation.js';
import { Pending } from './pending.js';
import { Composer } from './composer.js';
import { RawEvents } from './raw.js';

export function mount(root, ctx, sessionId) {
  const events = [];
  let info = null;
  let lastSeq = 0;
  let subscriptionId = null;
  let stopped = false;
  let running = false;
  let ended = false;
  let loaded = false;
  const opened = performance.now();

  const title = h('h2', { id: 'session-title' }, 'Session ', h('code', { text: sessionId }));
  const badge = h('span', { class: 'status-slot', role: 'status', 'aria-live': 'polite', 'aria-label': 'Session status' });
  const meta = h('dl', { class: 'meta' });
  const interrupt = h('button', { type: 'button', text: 'Interrupt', onclick: () => act('sessions/interrupt') });
  const terminate = h('button', { type: 'button', class: 'danger', text: 'Terminate', onclick: () => act('sessions/terminate') });
  const resume = h('button', { type: 'button', text: 'Resume', onclick: () => doResume() });
  const conv = new Conversation(null);
  const pending = new Pending(ctx, sessionId, () => drawStatus());
  const composer = new Composer(ctx, sessionId, () => running);
  const raw = new RawEvents(events);
  const loading = h('p', { class: 'muted', role: 'status', text: 'Loading events…' });

  const panels = {
    conversation: h('div', { class: 'panel', role: 'tabpanel', id: 'panel-conversation', 'aria-labelledby': 'tab-conversation' },
      loading, conv.el, pending.el, composer.el),
    raw: h('div', { class: 'panel', role: 'tabpanel', id: 'panel-raw', 'aria-labelledby': 'tab-raw', hidden: true }, raw.el),
  };
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Session views' });
  const tabButtons = {};
  function addTab(key, label) {
    const button = h('button', {
      type: 'button', role: 'tab', id: `tab-${key}`, 'aria-controls': `panel-${key}`, 'aria-selected': 'false', tabindex: '-1', text: label,
      onclick: () => selectTab(key),
    });
    tabButtons[key] = button;
    tabs.append(button);
  }
  function selectTab(key) {
    for (const [k, b] of Object.entries(tabButtons)) {
      b.setAttribute('aria-selected', String(k === key));
      b.tabIndex = k === key ? 0 : -1;
      panels[k].hidden = k !== key;
    }
    if (key === 'raw') raw.draw();
    if (key === 'terminal' && panels.terminal.activate) panels.terminal.activate();
  }
  tabs.addEventListener('keydown', (ev) => {
    const keys = Object.keys(tabButtons);
    const at = keys.findIndex((k) => tabButtons[k] === document.activeElement);
    if (at < 0 || !['ArrowRight', 'ArrowLeft', 'Home', 'End'].includes(ev.key)) return;
    ev.preventDefault();
    let next = ev.key === 'ArrowRight' ? at + 1 : ev.key === 'ArrowLeft' ? at - 1 : ev.key === 'Home' ? 0 : keys.length - 1;
    next = (next + keys.length) % keys.length;
    selectTab(keys[next]);
    tabButtons[keys[next]].focus();
  });
  addTab('conversation', 'Conversation');
  addTab('raw', 'Raw events');

  const section = h('section', { class: 'view session', 'aria-labelledby': 'session-title' },
    h('div', { class: 'view-head' }, title, badge),
    meta,
    h('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Session actions' }, interrupt, terminate, resume),
    tabs, panels.conversation, panels.raw);
  root.append(section);
  selectTab('conversation');

  // Terminal tab: only when this daemon serves terminals (rpc.discover); the module loads on demand.
  ctx.hasMethod('terminals/open').then(async (has) => {
    if (!has || stopped) return;
    const { terminalPanel } = await import('./terminal.js');
    if (stopped) return;
    panels.terminal = terminalPanel(ctx, () => info);
    panels.terminal.id = 'panel-terminal';
    panels.terminal.setAttribute('role', 'tabpanel');
    panels.terminal.setAttribute('aria-labelledby', 'tab-terminal');
    panels.terminal.hidden = true;
    section.append(panels.terminal);
    addTab('terminal', 'Terminal');
  });

  function derive() {
    if (ended) return 'ended';
    if (pending.count) return 'awaiting_input';
    return running ? 'running' : 'idle';
  }

  function drawStatus() {
    const status = derive();
    badge.replaceChildren(statusBadge(status));
    interrupt.disabled = status !== 'running' && status !== 'awaiting_input';
    terminate.disabled = ended;
    resume.disabled = !ended;
  }

  function drawMeta() {
    if (!info) return;
    const rows = [['Agent', info.agent], ['Model', info.model], ['Mode', info.agent_mode], ['Permissions', info.permission_mode],
      ['Working dir', info.cwd], ['Native id', info.native_session_id], ['Created', info.created_at], ['Usage', usageText(info.usage)]];
    meta.replaceChildren(...rows.filter(([, v]) => v).flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]));
  }

  function usageText(u) {
    if (!u || !u.turns) return '';
    const parts = [`${u.turns} turn${u.turns === 1 ? '' : 's'}`];
    if (u.input_tokens != null) parts.push(`${u.input_tokens} tokens in`);
    if (u.output_tokens != null) parts.push(`${u.output_tokens} out`);
    if (u.total_cost_usd != null) parts.push(`$${u.total_cost_usd.toFixed(4)}`);
    return parts.join(', ');
  }

  // Totals and the native id change with turns: ask again when one ends (once per turn, not per event).
  async function refreshInfo() {
    try {
      info = await ctx.rpc.call('sessions/get', { session_id: sessionId });
      if (!stopped) drawMeta();
    } catch {
      // the next turn tries again
    }
  }

  function onEvent(ev) {
    if (ev.sequence <= lastSeq) return; // a replay after reconnect never shows an event twice
    lastSeq = ev.sequence;
    events.push(ev);
    if (ev.type === 'turn.started') running = true;
    else if (ev.type === 'turn.ended') running = false;
    else if (ev.type === 'session.started') ended = false;
    else if (ev.type === 'session.ended') {
      ended = true;
      running = false;
      if (loaded) watchForResume();
    }
    conv.apply(ev);
    raw.added(ev);
    if (pending.apply(ev) && loaded) pending.render();
    if (loaded && (ev.type.startsWith('turn.') || ev.type.startsWith('session.'))) drawStatus();
    if (loaded && ev.type === 'turn.ended') refreshInfo();
    if (!loaded && lastSeq >= (info ? info.event_count : 0)) finishLoad();
  }

  function finishLoad() {
    if (loaded) return;
    loaded = true;
    if (info && info.status === 'ended' && lastSeq <= info.event_count) {
      ended = true; // restored after a crash: ended without a session.ended event
      running = false;
    }
    loading.remove();
    conv.mount();
    pending.render();
    drawStatus();
    const ms = Math.round(performance.now() - opened);
    section.dataset.loadMs = String(ms);
    section.dataset.loaded = 'true';
    if (ended) watchForResume();
    performance.mark('inspector-session-loaded');
    requestAnimationFrame(() => {
      const scroller = document.scrollingElement;
      scroller.scrollTop = scroller.scrollHeight;
    });
  }

  const offEvent = ctx.rpc.on('sessions/event', (p) => {
    if (p.subscription_id === subscriptionId) onEvent(p.event); // the result arrives before its events
  });
  const offClosed = ctx.rpc.on('sessions/subscription_closed', (p) => {
    if (p.subscription_id !== subscriptionId) return;
    subscriptionId = null;
    if (p.reason === 'overflow' && !stopped) subscribe();
    else if (p.reason === 'session_ended' && !stopped) {
      // the daemon's word: a session restored after a crash has no session.ended event of its own
      ended = true;
      running = false;
      if (loaded) drawStatus();
      watchForResume();
    }
  });

  // An ended session may be resumed by any client; look now and then, and follow it again when it is.
  let resumeTimer = null;
  function watchForResume() {
    clearTimeout(resumeTimer);
    resumeTimer = setTimeout(async () => {
      if (stopped || !ended) return;
      try {
        const now = await ctx.rpc.call('sessions/get', { session_id: sessionId });
        if (now.status !== 'ended') {
          info = now;
          drawMeta();
          if (!subscriptionId) await subscribe(); // else its events (session.started first) are on their way
          return;
        }
      } catch {
        // not connected right now: the next view mount subscribes afresh
      }
      watchForResume();
    }, 2000);
  }

  async function subscribe() {
    try {
      const result = await ctx.rpc.call('sessions/subscribe', { session_id: sessionId, offset: lastSeq });
      subscriptionId = result.subscription_id;
      if (stopped) ctx.rpc.call('sessions/unsubscribe', { subscription_id: subscriptionId }).catch(() => {});
    } catch (err) {
      toast(`Cannot follow this session: ${err.message}`, 'error');
    }
  }

  // History in pages of 1,000 (ten frames for 10,000 events instead of 10,000), then live from where it ended.
  async function loadHistory() {
    try {
      for (;;) {
        const page = await ctx.rpc.call('sessions/events', { session_id: sessionId, offset: lastSeq, limit: 1000 });
        for (const ev of page.events) onEvent(ev);
        if (!page.has_more || stopped || !page.events.length) return;
      }
    } catch (err) {
      toast(`Cannot read this session's events: ${err.message}`, 'error');
    }
  }

  async function act(method) {
    try {
      await ctx.rpc.call(method, { session_id: sessionId });
    } catch (err) {
      toast(`${method} failed: ${err.message}`, 'error');
    }
  }

  async function doResume() {
    resume.disabled = true;
    try {
      info = await ctx.rpc.call('sessions/resume', { session_id: sessionId });
      drawMeta();
      if (!subscriptionId) await subscribe();
    } catch (err) {
      toast(`Resume failed: ${err.message}`, 'error');
      resume.disabled = false;
    }
  }

  (async () => {
    try {
      info = await ctx.rpc.call('sessions/get', { session_id: sessionId });
    } catch (err) {
      loading.textContent = err.kind === 'session_not_found' ? 'No such session.' : `Cannot load: ${err.message}`;
      return;
    }
    if (stopped) return;
    ended = info.status === 'ended';
    drawMeta();
    await loadHistory();
    if (stopped) return;
    await subscribe();
    if (info.event_count === 0 || lastSeq >= info.event_count) finishLoad();
  })();

  // After a reconnect: the old subscription died with the socket; read what was missed, then follow again.
  async function resync() {
    subscriptionId = null;
    try {
      info = await ctx.rpc.call('sessions/get', { session_id: sessionId });
    } catch {
      return;
    }
    drawMeta();
    await loadHistory();
    if (stopped) return;
    if (info.status === 'ended' && !ended) {
      ended = true;
      running = false;
    }
    await subscribe();
    if (loaded) drawStatus();
    if (ended) watchForResume();
  }

  const cleanup = () => {
    stopped = true;
    clearTimeout(resumeTimer);
    offEvent();
    offClosed();
    if (subscriptionId) ctx.rpc.call('sessions/unsubscribe', { subscription_id: subscriptionId }).catch(() => {});
    if (panels.terminal && panels.terminal.dispose) panels.terminal.dispose();
    conv.observer.disconnect();
  };
  cleanup.resync = resync;
  return cleanup;
}
