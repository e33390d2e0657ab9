// The conversation: items built from events (started -> delta* -> completed), nested by parent_id, rendered
// incrementally (dirty items once per animation frame; older entries only on demand) so long sessions stay fast.

import { clear, h, pretty } from './dom.js';

const INITIAL_ENTRIES = 150;
const PAGE_ENTRIES = 150;

const KIND_LABEL = {
  tool_call: 'Tool call',
  tool_result: 'Tool result',
  reasoning: 'Reasoning',
  command: 'Command',
  file_change: 'File change',
  system: 'System',
  status: 'Status',
  unknown: 'Item',
};

function itemLabel(item) {
  if (item.kind === 'message') return `${item.role === 'user' ? 'User' : item.role === 'assistant' ? 'Assistant' : item.role || 'Agent'} message`;
  if (item.kind === 'tool_call') {
    const call = item.content.find((p) => p.type === 'tool_call');
    return call ? `Tool call ${call.name}` : 'Tool call';
  }
  if (item.kind === 'command') {
    const cmd = item.content.find((p) => p.type === 'command');
    return cmd ? `Command ${cmd.command}` : 'Command';
  }
  return KIND_LABEL[item.kind] || 'Item';
}

export class Conversation {
  constructor(onChange) {
    this.items = new Map(); // item_id -> entry
    this.entries = []; // top-level entries in order
    this.dirty = new Set();
    this.appended = [];
    this.frame = 0;
    this.shownFrom = 0;
    this.onChange = onChange;
    this.el = h('div', { class: 'conversation', role: 'log', 'aria-label': 'Conversation', 'aria-live': 'off' });
    this.more = h('button', { type: 'button', class: 'more', text: 'Show earlier items', onclick: () => this.showEarlier() });
    this.list = h('div', { class: 'entries' });
    this.el.append(this.more, this.list);
    this.more.hidden = true;
    this.mounted = false;
    // Scrolling up to the button loads the earlier items too; the view stays where it was.
    this.observer = new IntersectionObserver((seen) => {
      if (this.mounted && !this.more.hidden && seen.some((e) => e.isIntersecting)) this.showEarlier();
    });
    this.observer.observe(this.more);
  }

  // Apply one event to the model; rendering happens later in one batch.
  apply(ev) {
    const d = ev.data || {};
    switch (ev.type) {
      case 'item.started':
      case 'item.completed': {
        const item = d.item;
        let entry = this.items.get(item.item_id);
        if (!entry) {
          entry = { type: 'item', id: item.item_id, item, stream: '', children: [], el: null, seq: ev.sequence };
          this.items.set(item.item_id, entry);
          const parent = item.parent_id && this.items.get(item.parent_id);
          if (parent) {
            parent.children.push(entry);
            entry.parent = parent;
          } else this.add(entry);
        } else entry.item = item;
        this.touch(entry);
        break;
      }
      case 'item.delta': {
        const entry = this.items.get(d.item_id);
        if (entry) {
          entry.stream += d.delta;
          this.touch(entry);
        }
        break;
      }
      case 'error':
        this.add({ type: 'error', seq: ev.sequence, data: d, el: null });
        break;
      case 'session.started':
        this.add({ type: 'marker', seq: ev.sequence, text: d.resumed || (d.metadata && d.metadata.resumed) ? 'Session resumed' : d.forked_from ? `Forked from ${d.forked_from}` : 'Session started', el: null });
        break;
      case 'session.ended':
        this.add({
          type: 'marker', seq: ev.sequence, el: null, ended: true,
          text: `Session ended: ${d.reason}${d.terminated_by ? ` by ${d.terminated_by}` : ''}${d.exit_code != null ? `, exit code ${d.exit_code}` : ''}${d.message ? ` — ${d.message}` : ''}`,
        });
        break;
      case 'turn.ended':
        if (d.stop_reason && d.stop_reason !== 'end_turn') this.add({ type: 'marker', seq: ev.sequence, text: `Turn ${d.stop_reason}`, el: null });
        break;
      case 'message.queued':
        this.add({ type: 'marker', seq: ev.sequence, text: 'Message queued', el: null });
        break;
      case 'message.steered':
        this.add({ type: 'marker', seq: ev.sequence, text: 'Message steered into the running turn', el: null });
        break;
      case 'agent.unparsed':
        this.add({ type: 'error', seq: ev.sequence, data: { message: `Unparsed agent output: ${d.error}`, code: d.location }, el: null });
        break;
      default:
        break;
    }
  }

  add(entry) {
    this.entries.push(entry);
    this.appended.push(entry);
    this.schedule();
  }

  touch(entry) {
    let top = entry;
    while (top.parent) top = top.parent;
    this.dirty.add(top);
    this.schedule();
  }

  schedule() {
    if (this.frame || !this.mounted) return;
    this.frame = requestAnimationFrame(() => this.flush());
  }

  // First render: only the newest entries; the rest wait behind "Show earlier items".
  mount() {
    this.mounted = true;
    this.shownFrom = Math.max(0, this.entries.length - INITIAL_ENTRIES);
    this.appended = [];
    this.dirty.clear();
    const frag = document.createDocumentFragment();
    for (const entry of this.entries.slice(this.shownFrom)) frag.append(this.render(entry));
    this.list.append(frag);
    this.more.hidden = this.shownFrom === 0;
    this.more.textContent = `Show earlier items (${this.shownFrom})`;
  }

  showEarlier() {
    if (this.shownFrom === 0) return;
    const from = Math.max(0, this.shownFrom - PAGE_ENTRIES);
    const frag = document.createDocumentFragment();
    for (const entry of this.entries.slice(from, this.shownFrom)) frag.append(this.render(entry));
    const scroller = document.scrollingElement;
    const height = scroller.scrollHeight;
    this.list.prepend(frag);
    scroller.scrollTop += scroller.scrollHeight - height;
    this.shownFrom = from;
    this.more.hidden = from === 0;
    this.more.textContent = `Show earlier items (${from})`;
  }

  flush() {
    this.frame = 0;
    const scroller = this.el.closest('.scroll') || document.scrollingElement;
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    for (const entry of this.appended) {
      if (!entry.el) this.list.append(this.render(entry));
    }
    for (const entry of this.dirty) {
      if (entry.el) entry.el.replaceWith(this.render(entry));
    }
    this.appended = [];
    this.dirty.clear();
    if (atBottom) scroller.scrollTop = scroller.scrollHeight;
    if (this.onChange) this.onChange();
  }

  render(entry) {
    let el;
    if (entry.type === 'item') el = this.renderItem(entry);
    else if (entry.type === 'error') {
      el = h('article', { class: 'entry error', role: 'alert', 'aria-label': 'Error' },
        h('strong', { text: 'Error' }), ' ', entry.data.message,
        entry.data.code ? h('span', { class: 'muted', text: ` (${entry.data.code})` }) : null,
        entry.data.details ? h('pre', { text: pretty(entry.data.details) }) : null);
    } else el = h('p', { class: `entry marker${entry.ended ? ' ended' : ''}`, text: entry.text });
    el.dataset.seq = entry.seq;
    entry.el = el;
    return el;
  }

  renderItem(entry) {
    const { item } = entry;
    const label = itemLabel(item);
    const status = item.status === 'in_progress' ? 'in progress' : item.status;
    const cls = `entry item kind-${item.kind} role-${item.role || 'none'} st-${item.status}`;
    const body = this.renderContent(entry);
    const nested = entry.children.length
      ? h('div', { class: 'children', role: 'group', 'aria-label': `Nested under ${label}` }, entry.children.map((c) => this.render(c)))
      : null;
    const collapsible = ['reasoning', 'tool_call', 'tool_result'].includes(item.kind);
    if (collapsible) {
      // reasoning stays open while it streams, then folds away unless the user opened or closed it
      const open = entry.open ?? (item.kind !== 'reasoning' || item.status === 'in_progress');
      const details = h('details', { class: cls, open, 'aria-label': label },
        h('summary', {}, h('span', { class: 'kind', text: label }), h('span', { class: `st st-${item.status}`, text: status })),
        body, nested);
      details.addEventListener('toggle', () => {
        entry.open = details.open;
      });
      return details;
    }
    return h('article', { class: cls, 'aria-label': label },
      h('header', {}, h('span', { class: 'kind', text: label }),
        item.status !== 'completed' ? h('span', { class: `st st-${item.status}`, text: status }) : null),
      body, nested);
  }

  renderContent(entry) {
    const { item } = entry;
    const parts = item.content || [];
    const out = [];
    if (entry.stream && (item.status === 'in_progress' || parts.length === 0)) {
      out.push(h('div', { class: item.kind === 'reasoning' ? 'reasoning-text' : 'text', text: entry.stream }));
    }
    for (const part of parts) {
      if ((part.type === 'text' || part.type === 'reasoning') && entry.stream && item.status === 'in_progress') continue;
      out.push(renderPart(part));
    }
    return h('div', { class: 'body' }, out);
  }
}

function renderPart(part) {
  switch (part.type) {
    case 'text':
      return h('div', { class: 'text', text: part.text });
    case 'reasoning':
      return h('div', { class: 'reasoning-text', text: part.text });
    case 'json':
      return h('pre', { class: 'json', text: pretty(part.json) });
    case 'tool_call':
      return h('div', { class: 'tool-call' }, part.server ? h('span', { class: 'muted', text: `${part.server} · ` }) : null,
        h('code', { text: part.name }), h('pre', { class: 'json', 'aria-label': `Arguments of ${part.name}`, text: pretty(part.arguments) }));
    case 'tool_result':
      return h('pre', { class: `tool-output${part.is_error ? ' is-error' : ''}`, 'aria-label': part.is_error ? 'Tool error' : 'Tool output', text: pretty(part.output) });
    case 'command':
      return h('div', { class: 'command' },
        h('pre', { class: 'cmdline', text: `$ ${part.command}` }),
        part.output ? h('pre', { class: 'cmd-output', 'aria-label': 'Command output', text: part.output }) : null,
        part.exit_code != null
          ? h('span', { class: `exit ${part.exit_code === 0 ? 'ok' : 'bad'}`, text: `exit code ${part.exit_code}` })
          : null);
    case 'file_ref':
      return renderFile(part);
    case 'image':
      return part.data
        ? h('img', { class: 'image', alt: 'Attached image', src: `data:${part.mime};base64,${part.data}` })
        : h('p', { class: 'muted', text: `Image ${part.path}` });
    case 'file':
      return h('p', { class: 'muted', text: `File ${part.name || part.path || ''}` });
    case 'status':
      return h('p', { class: 'status-part', text: part.detail ? `${part.label}: ${part.detail}` : part.label });
    default:
      return h('pre', { class: 'json', text: pretty(part) });
  }
}

function renderFile(part) {
  const head = h('div', { class: 'file-head' }, h('span', { class: 'badge', text: part.action }), ' ', h('code', { text: part.path }));
  if (!part.diff) return h('div', { class: 'file-ref' }, head);
  const lines = part.diff.replace(/\n$/, '').split('\n');
  const pre = h('pre', { class: 'diff' });
  for (const line of lines) {
    let cls = 'ctx';
    if (line.startsWith('+++') || line.startsWith('---')) cls = 'meta';
    else if (line.startsWith('@@')) cls = 'hunk';
    else if (line.startsWith('+')) cls = 'add';
    else if (line.startsWith('-')) cls = 'del';
    pre.append(h('span', { class: `line ${cls}`, text: `${line}\n` }));
  }
  return h('section', { class: 'file-ref', 'aria-label': `Diff of ${part.path}` }, head, pre);
}

export function clearConversation(conv) {
  clear(conv.list);
}
