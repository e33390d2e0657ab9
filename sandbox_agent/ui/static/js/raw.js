// Raw events: a virtualized listbox (only visible rows exist in the DOM), type filter, JSON view, jump to sequence.

import { fill, h } from './dom.js';

const ROW = 28;
const OVERSCAN = 10;

function summary(ev) {
  const d = ev.data || {};
  switch (ev.type) {
    case 'item.delta':
      return JSON.stringify(d.delta).slice(0, 80);
    case 'item.started':
    case 'item.completed':
      return `${d.item.kind}${d.item.role ? `/${d.item.role}` : ''} ${d.item.item_id}`;
    case 'turn.started':
    case 'turn.ended':
      return `${d.turn_id}${d.stop_reason ? ` ${d.stop_reason}` : ''}`;
    case 'permission.requested':
    case 'permission.resolved':
      return `${d.action} ${d.status}`;
    case 'question.requested':
    case 'question.resolved':
      return `${d.prompt} ${d.status}`;
    case 'error':
      return d.message;
    default:
      return '';
  }
}

export class RawEvents {
  constructor(events) {
    this.events = events; // shared array, appended by the session view
    this.filtered = events;
    this.filterType = '';
    this.types = new Set();
    this.selected = -1; // index into filtered
    this.frame = 0;
    this.typeSelect = h('select', { id: 'raw-type', onchange: () => this.setFilter(this.typeSelect.value) },
      h('option', { value: '', text: 'All types' }));
    this.jumpInput = h('input', { id: 'raw-jump', type: 'number', min: 1, inputmode: 'numeric' });
    this.count = h('span', { class: 'muted', role: 'status' });
    this.spacer = h('div', { class: 'raw-spacer' });
    this.list = h('div', { class: 'raw-list', role: 'listbox', 'aria-label': 'Events', tabindex: '0' }, this.spacer);
    this.json = h('pre', { class: 'raw-json', role: 'region', 'aria-label': 'Event JSON', tabindex: '0', text: 'Select an event to see its JSON.' });
    this.el = h('div', { class: 'raw' },
      h('form', { class: 'filters', 'aria-label': 'Raw event tools', onsubmit: (ev) => { ev.preventDefault(); this.jump(Number(this.jumpInput.value)); } },
        h('label', { for: 'raw-type', text: 'Event type' }), this.typeSelect,
        h('label', { for: 'raw-jump', text: 'Jump to sequence' }), this.jumpInput,
        h('button', { type: 'submit', text: 'Go' }), this.count),
      h('div', { class: 'raw-panes' }, this.list, this.json));
    this.list.addEventListener('scroll', () => this.schedule());
    this.list.addEventListener('keydown', (ev) => this.key(ev));
    this.list.addEventListener('click', (ev) => {
      const row = ev.target.closest('[data-index]');
      if (row) this.select(Number(row.dataset.index), false);
    });
  }

  added(ev) {
    if (!this.types.has(ev.type)) {
      this.types.add(ev.type);
      const chosen = this.typeSelect.value;
      fill(this.typeSelect, h('option', { value: '', text: 'All types' }),
        [...this.types].sort().map((t) => h('option', { value: t, text: t })));
      this.typeSelect.value = chosen;
    }
    if (this.filterType && ev.type === this.filterType) this.filtered.push(ev);
    this.schedule();
  }

  setFilter(type) {
    const current = this.filtered[this.selected];
    this.filterType = type;
    this.filtered = type ? this.events.filter((e) => e.type === type) : this.events;
    this.selected = current ? this.filtered.indexOf(current) : -1;
    this.list.scrollTop = 0;
    this.schedule();
  }

  jump(seq) {
    if (!seq) return;
    // events are in sequence order: binary search for the first with sequence >= seq
    let lo = 0;
    let hi = this.filtered.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.filtered[mid].sequence < seq) lo = mid + 1;
      else hi = mid;
    }
    if (lo >= this.filtered.length) return;
    this.select(lo, true);
    this.list.focus();
  }

  select(index, scroll) {
    if (index < 0 || index >= this.filtered.length) return;
    this.selected = index;
    const ev = this.filtered[index];
    this.json.textContent = JSON.stringify(ev, null, 2);
    if (scroll) {
      const top = index * ROW;
      if (top < this.list.scrollTop || top + ROW > this.list.scrollTop + this.list.clientHeight) {
        this.list.scrollTop = Math.max(0, top - this.list.clientHeight / 2);
      }
    }
    this.draw();
  }

  key(ev) {
    const page = Math.max(1, Math.floor(this.list.clientHeight / ROW) - 1);
    const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page };
    let next = null;
    if (ev.key in moves) next = Math.max(0, this.selected + moves[ev.key]);
    else if (ev.key === 'Home') next = 0;
    else if (ev.key === 'End') next = this.filtered.length - 1;
    if (next === null) return;
    ev.preventDefault();
    this.select(Math.min(next, this.filtered.length - 1), true);
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.visible() ? this.draw() : (this.frame = 0));
  }

  // While its tab is hidden, streaming events cost nothing here; showing the tab draws it.
  visible() {
    return this.el.isConnected && !this.el.closest('[hidden]');
  }

  draw() {
    this.frame = 0;
    const n = this.filtered.length;
    this.count.textContent = `${n} events`;
    this.spacer.style.height = `${n * ROW}px`;
    const first = Math.max(0, Math.floor(this.list.scrollTop / ROW) - OVERSCAN);
    const last = Math.min(n, Math.ceil((this.list.scrollTop + (this.list.clientHeight || 600)) / ROW) + OVERSCAN);
    const rows = [];
    for (let i = first; i < last; i++) {
      const ev = this.filtered[i];
      const id = `raw-row-${i}`;
      const row = h('div', {
        id, class: `raw-row${i === this.selected ? ' selected' : ''}`, role: 'option', 'aria-selected': i === this.selected ? 'true' : 'false',
        'aria-setsize': n, 'aria-posinset': i + 1, dataset: { index: i },
      }, h('span', { class: 'seq', text: `#${ev.sequence}` }), h('span', { class: 'type', text: ev.type }), h('span', { class: 'sum', text: summary(ev) }));
      row.style.top = `${i * ROW}px`;
      rows.push(row);
    }
    fill(this.spacer, rows);
    if (this.selected >= first && this.selected < last) this.list.setAttribute('aria-activedescendant', `raw-row-${this.selected}`);
    else this.list.removeAttribute('aria-activedescendant');
  }
}
