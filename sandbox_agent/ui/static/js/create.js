// Create a session: agent, model, agent mode, permission mode, cwd, env (values are password fields, never shown back).

import { fill, h, nextId, toast } from './dom.js';

export function mount(root, ctx) {
  let agents = [];
  const agent = h('select', { id: 'new-agent', required: true });
  const model = h('input', { id: 'new-model', type: 'text', list: 'new-model-list', placeholder: 'agent default' });
  const models = h('datalist', { id: 'new-model-list' });
  const mode = h('input', { id: 'new-mode', type: 'text', list: 'new-mode-list', placeholder: 'agent default' });
  const modes = h('datalist', { id: 'new-mode-list' });
  const permission = h('select', { id: 'new-permission' },
    ['default', 'plan', 'accept_edits', 'bypass'].map((v) => h('option', { value: v, text: v.replace('_', ' ') })));
  const cwd = h('input', { id: 'new-cwd', type: 'text', placeholder: "the daemon's working directory" });
  const sid = h('input', { id: 'new-id', type: 'text', pattern: '[A-Za-z0-9._\\-]{1,128}', placeholder: 'generated' });
  const envRows = h('div', { class: 'env-rows' });
  const submit = h('button', { type: 'submit', class: 'primary', text: 'Create session' });

  function addEnvRow() {
    const n = envRows.children.length + 1;
    const keyId = nextId('env-key');
    const valId = nextId('env-val');
    const row = h('div', { class: 'env-row', role: 'group', 'aria-label': `Variable ${n}` },
      h('label', { for: keyId, text: `Name ${n}` }),
      h('input', { id: keyId, type: 'text', class: 'env-key', autocomplete: 'off', spellcheck: 'false' }),
      h('label', { for: valId, text: `Value ${n}` }),
      h('input', { id: valId, type: 'password', class: 'env-val', autocomplete: 'new-password' }),
      h('button', { type: 'button', 'aria-label': `Remove variable ${n}`, text: '×', onclick: () => row.remove() }));
    envRows.append(row);
    return row;
  }

  function onAgent() {
    const a = agents.find((x) => x.id === agent.value);
    fill(models, ((a && a.models) || []).map((m) => h('option', { value: m })));
    fill(modes, ((a && a.modes) || []).map((m) => h('option', { value: m })));
  }
  agent.addEventListener('change', onAgent);

  const form = h('form', { class: 'create', 'aria-labelledby': 'new-title' },
    h('label', { for: 'new-agent', text: 'Agent' }), agent,
    h('label', { for: 'new-model', text: 'Model' }), model, models,
    h('label', { for: 'new-mode', text: 'Agent mode' }), mode, modes,
    h('label', { for: 'new-permission', text: 'Permission mode' }), permission,
    h('label', { for: 'new-cwd', text: 'Working directory' }), cwd,
    h('label', { for: 'new-id', text: 'Session id' }), sid,
    h('fieldset', { class: 'env' }, h('legend', { text: 'Environment (values are sent once, never shown back)' }), envRows,
      h('button', { type: 'button', text: 'Add variable', onclick: () => addEnvRow().querySelector('input').focus() })),
    h('div', { class: 'row' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const params = { agent: agent.value, permission_mode: permission.value };
    if (model.value.trim()) params.model = model.value.trim();
    if (mode.value.trim()) params.agent_mode = mode.value.trim();
    if (cwd.value.trim()) params.cwd = cwd.value.trim();
    if (sid.value.trim()) params.session_id = sid.value.trim();
    const env = {};
    for (const row of envRows.querySelectorAll('.env-row')) {
      const key = row.querySelector('.env-key').value.trim();
      if (key) env[key] = row.querySelector('.env-val').value;
    }
    if (Object.keys(env).length) params.env = env;
    submit.disabled = true;
    try {
      const info = await ctx.rpc.call('sessions/create', params);
      for (const input of envRows.querySelectorAll('.env-val')) input.value = '';
      ctx.navigate(`#/session/${encodeURIComponent(info.session_id)}`);
    } catch (err) {
      toast(`Could not create the session: ${err.message}`, 'error');
      submit.disabled = false;
    }
  });

  root.append(h('section', { class: 'view', 'aria-labelledby': 'new-title' }, h('h2', { id: 'new-title', text: 'New session' }), form));
  const cleanup = () => {};
  cleanup.resync = () => {}; // keep what was typed; the next submit goes over the new connection
  (async () => {
    try {
      ({ agents } = await ctx.rpc.call('agents/list'));
    } catch (err) {
      toast(`Cannot list agents: ${err.message}`, 'error');
      return;
    }
    fill(agent, agents.map((a) => h('option', { value: a.id, text: a.installed ? a.name : `${a.name} (not installed)` })));
    const first = agents.find((a) => a.installed);
    if (first) agent.value = first.id;
    onAgent();
  })();
  return cleanup;
}
