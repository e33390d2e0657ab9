// Agents: installed or not, versions, the coverage matrix, and install with live progress.

import { fill, h, toast } from './dom.js';

const CELL = { yes: '✓ yes', partial: '◐ partial', no: '— no' };

export function mount(root, ctx) {
  let stopped = false;
  const progress = new Map(); // agent -> {phase, bytes, total} while installing
  const finished = new Map(); // agent -> the last phase its install reported
  const list = h('tbody');
  const matrix = h('table', { class: 'matrix', 'aria-label': 'Coverage matrix' });
  root.append(h('section', { class: 'view', 'aria-labelledby': 'agents-title' },
    h('h2', { id: 'agents-title', text: 'Agents' }),
    h('div', { class: 'table-wrap', role: 'region', 'aria-label': 'Agents table', tabindex: '0' },
      h('table', { class: 'agents', 'aria-label': 'Agents' },
        h('thead', {}, h('tr', {}, ['Agent', 'Installed', 'Version', 'Install'].map((t) => h('th', { scope: 'col', text: t })))),
        list)),
    h('h3', { text: 'Coverage matrix' }),
    h('div', { class: 'table-wrap', role: 'region', 'aria-label': 'Coverage matrix table', tabindex: '0' }, matrix)));

  const off = ctx.rpc.on('agents/install_progress', (p) => {
    progress.set(p.agent, p);
    const row = list.querySelector(`[data-agent="${CSS.escape(p.agent)}"]`);
    if (row) drawProgress(row.querySelector('.progress-slot'), p);
  });

  function drawProgress(slot, p) {
    if (!slot) return;
    const bar = h('progress', { 'aria-label': `Installing ${p.agent}` });
    if (p.total) {
      bar.max = p.total;
      bar.value = p.bytes || 0;
    }
    const kb = p.bytes ? ` ${Math.round(p.bytes / 1024)} KB${p.total ? ` of ${Math.round(p.total / 1024)} KB` : ''}` : '';
    slot.replaceChildren(bar, h('span', { class: 'muted', role: 'status', text: ` ${p.phase}${kb}` }));
  }

  async function install(agent, reinstall) {
    progress.set(agent.id, { agent: agent.id, phase: 'starting' });
    draw(lastAgents);
    try {
      const done = await ctx.rpc.call('agents/install', { agent: agent.id, reinstall });
      toast(`${agent.name} ${done.version || ''} installed.`);
    } catch (err) {
      toast(`Install of ${agent.name} failed: ${err.message}`, 'error');
    }
    const last = progress.get(agent.id);
    progress.delete(agent.id);
    if (last) finished.set(agent.id, last.phase);
    load();
  }

  let lastAgents = [];
  function draw(agents) {
    lastAgents = agents;
    fill(list, agents.map((a) => {
      const busy = progress.has(a.id);
      const slot = h('span', { class: 'progress-slot' });
      const row = h('tr', { dataset: { agent: a.id } },
        h('th', { scope: 'row', text: a.name }),
        h('td', { text: a.installed ? 'yes' : 'no' }),
        h('td', { text: a.version || '—' }),
        h('td', {},
          h('button', {
            type: 'button', disabled: busy, text: a.installed ? `Reinstall ${a.name}` : `Install ${a.name}`,
            onclick: () => install(a, a.installed),
          }), slot));
      if (busy) drawProgress(slot, progress.get(a.id));
      else if (finished.has(a.id)) slot.append(h('span', { class: 'muted', role: 'status', text: ` last step: ${finished.get(a.id)}` }));
      return row;
    }));
    const features = agents.length ? Object.keys(agents[0].capabilities) : [];
    fill(matrix, 
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Feature' }), agents.map((a) => h('th', { scope: 'col', text: a.name })))),
      h('tbody', {}, features.map((f) => h('tr', {},
        h('th', { scope: 'row', text: f.replace(/_/g, ' ') }),
        agents.map((a) => h('td', { class: `cov cov-${a.capabilities[f]}`, text: CELL[a.capabilities[f]] || a.capabilities[f] }))))));
  }

  async function load() {
    try {
      const { agents } = await ctx.rpc.call('agents/list');
      if (!stopped) draw(agents);
    } catch (err) {
      toast(`Cannot list agents: ${err.message}`, 'error');
    }
  }
  load();
  return () => {
    stopped = true;
    off();
  };
}
