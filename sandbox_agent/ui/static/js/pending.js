// Pending permission and question cards. Any client may answer; the *.resolved event removes the card in every tab.

import { clear, h, nextId, pretty, toast } from './dom.js';

// What the agent wants to run or touch, shown on the card itself (the full metadata stays under Details).
function target(metadata) {
  const input = (metadata && (metadata.input || metadata.raw_input)) || metadata || {};
  if (typeof input !== 'object') return '';
  return input.command || input.cmd || input.file_path || input.path || input.url || '';
}

export class Pending {
  constructor(ctx, sessionId, onChange) {
    this.ctx = ctx;
    this.sessionId = sessionId;
    this.onChange = onChange;
    this.permissions = new Map();
    this.questions = new Map();
    this.cards = new Map();
    this.el = h('section', { class: 'pending', 'aria-label': 'Pending requests' });
    this.el.hidden = true;
  }

  get count() {
    return this.permissions.size + this.questions.size;
  }

  apply(ev) {
    const d = ev.data || {};
    if (ev.type === 'permission.requested') this.permissions.set(d.permission_id, d);
    else if (ev.type === 'permission.resolved') this.permissions.delete(d.permission_id);
    else if (ev.type === 'question.requested') this.questions.set(d.question_id, d);
    else if (ev.type === 'question.resolved') this.questions.delete(d.question_id);
    else if (ev.type === 'session.ended') {
      this.permissions.clear();
      this.questions.clear();
    } else return false;
    return true;
  }

  // Keep cards that still pend (a half-typed answer survives), add new ones, drop resolved ones.
  render() {
    const live = new Set([...this.permissions.keys()].map((k) => `p:${k}`).concat([...this.questions.keys()].map((k) => `q:${k}`)));
    for (const [key, card] of this.cards) {
      if (!live.has(key)) {
        card.remove();
        this.cards.delete(key);
      }
    }
    for (const [id, data] of this.permissions) {
      if (!this.cards.has(`p:${id}`)) this.mountCard(`p:${id}`, this.permissionCard(data));
    }
    for (const [id, data] of this.questions) {
      if (!this.cards.has(`q:${id}`)) this.mountCard(`q:${id}`, this.questionCard(data));
    }
    this.el.hidden = this.cards.size === 0;
    if (this.onChange) this.onChange();
  }

  mountCard(key, card) {
    this.cards.set(key, card);
    this.el.append(card);
  }

  async send(method, params, card) {
    for (const b of card.querySelectorAll('button')) b.disabled = true;
    try {
      await this.ctx.rpc.call(method, { session_id: this.sessionId, ...params });
    } catch (err) {
      if (err.kind === 'already_resolved' || err.kind === 'permission_not_found' || err.kind === 'question_not_found') {
        toast('Already answered elsewhere.');
      } else {
        toast(`Could not answer: ${err.message}`, 'error');
        for (const b of card.querySelectorAll('button')) b.disabled = false;
      }
    }
  }

  permissionCard(data) {
    const msgId = nextId('perm-msg');
    const message = h('input', { id: msgId, type: 'text', placeholder: 'Optional, the agent sees it' });
    const card = h('article', { class: 'card permission', 'aria-label': `Permission request: ${data.action}` },
      h('h3', {}, 'Permission: ', h('code', { text: data.action })),
      target(data.metadata) ? h('pre', { class: 'target', 'aria-label': 'Requested', text: target(data.metadata) }) : null,
      data.metadata ? h('details', {}, h('summary', { text: 'Details' }), h('pre', { text: pretty(data.metadata) })) : null,
      h('label', { for: msgId, text: 'Note for the agent' }), message,
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'primary', text: 'Allow once', onclick: () => reply('once') }),
        h('button', { type: 'button', text: 'Allow always', onclick: () => reply('always') }),
        h('button', { type: 'button', class: 'danger', text: 'Reject', onclick: () => reply('reject') })));
    const reply = (kind) => this.send('permissions/reply', {
      permission_id: data.permission_id, reply: kind, ...(message.value ? { message: message.value } : {}),
    }, card);
    return card;
  }

  questionCard(data) {
    const questions = data.questions && data.questions.length
      ? data.questions
      : [{ prompt: data.prompt, options: (data.options || []).map((label) => ({ label })), multi_select: false }];
    const groups = questions.map((q, qi) => {
      const name = nextId('q');
      const otherId = nextId('q-other');
      const inputs = q.options.map((opt) => {
        const id = nextId('q-opt');
        const input = h('input', { id, type: q.multi_select ? 'checkbox' : 'radio', name, value: opt.label });
        return { input, row: h('div', { class: 'option' }, input, h('label', { for: id, text: opt.label }),
          opt.description ? h('span', { class: 'muted', text: ` — ${opt.description}` }) : null) };
      });
      const other = h('input', { id: otherId, type: 'text', placeholder: 'Type an answer' });
      const fieldset = h('fieldset', {},
        h('legend', { text: q.header ? `${q.header}: ${q.prompt}` : q.prompt }),
        inputs.map((i) => i.row),
        h('label', { for: otherId, text: questions.length > 1 ? `Other answer ${qi + 1}` : 'Other answer' }), other);
      return { fieldset, answers: () => [...inputs.filter((i) => i.input.checked).map((i) => i.input.value), ...(other.value.trim() ? [other.value.trim()] : [])] };
    });
    const card = h('article', { class: 'card question', 'aria-label': `Question: ${data.prompt}` },
      h('h3', { text: 'Question' }),
      groups.map((g) => g.fieldset),
      h('div', { class: 'row' },
        h('button', {
          type: 'button', class: 'primary', text: 'Answer',
          onclick: () => {
            const answers = groups.map((g) => g.answers());
            if (answers.some((a) => a.length === 0)) return toast('Choose an option or type an answer.', 'error');
            this.send('questions/reply', { question_id: data.question_id, answers }, card);
          },
        }),
        h('button', { type: 'button', class: 'danger', text: 'Decline', onclick: () => this.send('questions/reject', { question_id: data.question_id }, card) })));
    return card;
  }

  reset() {
    this.permissions.clear();
    this.questions.clear();
    this.cards.clear();
    clear(this.el);
  }
}
