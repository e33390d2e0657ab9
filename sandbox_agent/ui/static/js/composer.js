// The composer: text plus image and file attachments, sent as content parts (schema/content.py InputPart).

import { fill, h, toast } from './dom.js';

const MAX_ATTACHMENT = 8 * 1024 * 1024;

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ''));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

export class Composer {
  constructor(ctx, sessionId, isBusy) {
    this.ctx = ctx;
    this.sessionId = sessionId;
    this.isBusy = isBusy;
    this.files = [];
    this.text = h('textarea', { id: 'composer-text', rows: 3, placeholder: 'Message the agent (Enter sends, Shift+Enter for a new line)' });
    this.picker = h('input', { id: 'composer-files', type: 'file', multiple: true, hidden: true, 'aria-label': 'Files to attach' });
    this.chips = h('ul', { class: 'chips', 'aria-label': 'Attachments' });
    this.delivery = h('select', { id: 'composer-delivery' },
      h('option', { value: 'queue', text: 'queue it' }),
      h('option', { value: 'steer', text: 'steer the turn' }),
      h('option', { value: 'reject', text: 'refuse' }));
    this.sendButton = h('button', { type: 'submit', class: 'primary', text: 'Send' });
    this.el = h('form', { class: 'composer', 'aria-label': 'Composer' },
      h('label', { for: 'composer-text', class: 'visually-hidden', text: 'Message' }), this.text,
      this.chips,
      h('div', { class: 'row' },
        h('button', { type: 'button', text: 'Attach files', onclick: () => this.picker.click() }), this.picker,
        h('label', { for: 'composer-delivery', text: 'While busy' }), this.delivery,
        this.sendButton));
    this.picker.addEventListener('change', () => {
      for (const f of this.picker.files) {
        if (f.size > MAX_ATTACHMENT) toast(`${f.name} is over 8 MiB; not attached.`, 'error');
        else this.files.push(f);
      }
      this.picker.value = '';
      this.drawChips();
    });
    this.text.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        this.el.requestSubmit();
      }
    });
    this.el.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submit();
    });
  }

  drawChips() {
    fill(this.chips, this.files.map((f, i) => h('li', { class: 'chip' },
      h('span', { text: `${f.name} (${Math.ceil(f.size / 1024)} KB)` }),
      h('button', { type: 'button', 'aria-label': `Remove ${f.name}`, text: '×', onclick: () => { this.files.splice(i, 1); this.drawChips(); } }))));
  }

  async submit() {
    const text = this.text.value.trim();
    if (!text && !this.files.length) return;
    const content = [];
    if (text) content.push({ type: 'text', text });
    for (const f of this.files) {
      const data = await readBase64(f);
      if (f.type.startsWith('image/')) content.push({ type: 'image', mime: f.type, data });
      else content.push({ type: 'file', data, name: f.name, ...(f.type ? { mime: f.type } : {}) });
    }
    this.sendButton.disabled = true;
    try {
      const params = { session_id: this.sessionId, content };
      if (this.isBusy()) params.delivery = this.delivery.value;
      await this.ctx.rpc.call('sessions/send_message', params);
      this.text.value = '';
      this.files = [];
      this.drawChips();
    } catch (err) {
      toast(`Not sent: ${err.message}`, 'error');
    } finally {
      this.sendButton.disabled = false;
    }
  }
}
