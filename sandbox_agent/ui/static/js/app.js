// The Inspector's shell: token, one WebSocket connection, hash routes (#/sessions, #/session/ID, #/agents, #/new).

import { RpcClient, wsUrl } from './rpc.js';
import { clear, fill, h } from './dom.js';

const TOKEN_KEY = 'sandbox-agent.token';
const ENDPOINT_KEY = 'sandbox-agent.endpoint';
const views = {
  sessions: () => import('./sessions.js'),
  session: () => import('./session.js'),
  agents: () => import('./agents.js'),
  new: () => import('./create.js'),
};

const main = document.getElementById('main');
const connLabel = document.getElementById('conn');
const dialog = document.getElementById('token-dialog');
const tokenInput = document.getElementById('token-input');
const endpointInput = document.getElementById('endpoint-input');

const ctx = {
  rpc: null,
  // The daemon: this page's own server unless the user named another (a UI hosted elsewhere, with CORS).
  endpoint: new URL(sessionStorage.getItem(ENDPOINT_KEY) || location.origin),
  auth: 'unknown',
  methods: null,
  navigate(hash) {
    location.hash = hash;
  },
  // rpc.discover once per connection: which optional surfaces (terminals, control) this daemon has.
  async hasMethod(name) {
    if (!this.methods) {
      this.methods = this.rpc
        .call('rpc.discover')
        .then((doc) => new Set((doc.methods || []).map((m) => m.name)))
        .catch(() => new Set());
    }
    return (await this.methods).has(name);
  },
};
let cleanup = null;
let renderSeq = 0;

function setConn(text, state) {
  connLabel.textContent = text;
  connLabel.dataset.state = state;
}

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  const name = parts[0] && views[parts[0]] ? parts[0] : 'sessions';
  return { name, arg: parts.slice(1).map(decodeURIComponent).join('/') };
}

async function render() {
  const seq = ++renderSeq;
  const route = parseRoute();
  for (const link of document.querySelectorAll('nav a')) {
    if (link.dataset.route === route.name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (cleanup) {
    try {
      cleanup();
    } catch (err) {
      console.warn(err);
    }
    cleanup = null;
  }
  if (!ctx.rpc || ctx.rpc.state !== 'open') {
    fill(main, noDataNotice());
    return;
  }
  const mod = await views[route.name]();
  if (seq !== renderSeq) return;
  clear(main);
  cleanup = mod.mount(main, ctx, route.arg) || null;
}

function noDataNotice() {
  if (ctx.auth === 'bearer' && !sessionStorage.getItem(TOKEN_KEY)) {
    return h('section', { class: 'notice', 'aria-label': 'Token needed' },
      h('h2', { text: 'Token needed' }),
      h('p', { text: 'This daemon requires a bearer token. Nothing is shown until you give it.' }),
      h('button', { type: 'button', class: 'primary', text: 'Enter token', onclick: askToken }));
  }
  if (ctx.rpc && ctx.rpc.state === 'refused') {
    return h('section', { class: 'notice', 'aria-label': 'Token refused' },
      h('h2', { text: 'Token refused' }),
      h('p', { text: 'The daemon did not accept this token.' }),
      h('button', { type: 'button', class: 'primary', text: 'Enter token', onclick: askToken }));
  }
  return h('p', { class: 'empty', text: 'Connecting…' });
}

function askToken() {
  tokenInput.value = '';
  endpointInput.value = ctx.endpoint.origin === location.origin ? '' : ctx.endpoint.origin;
  if (!dialog.open) dialog.showModal();
  tokenInput.focus();
}

function connect() {
  if (ctx.rpc) ctx.rpc.close();
  ctx.methods = null;
  const token = sessionStorage.getItem(TOKEN_KEY) || null;
  if (ctx.auth === 'bearer' && !token) {
    setConn('No token', 'notoken');
    render();
    askToken();
    return;
  }
  const rpc = new RpcClient(wsUrl(ctx.endpoint), token);
  ctx.rpc = rpc;
  rpc.addEventListener('state', (ev) => {
    const { state } = ev.detail;
    if (state === 'open') setConn('Connected', 'open');
    else if (state === 'connecting') setConn('Connecting…', 'connecting');
    else if (state === 'retrying') setConn('Disconnected, retrying…', 'retrying');
    else if (state === 'refused') {
      setConn(ctx.auth === 'bearer' ? 'Token refused' : 'Cannot connect', 'refused');
      render();
    }
  });
  let opened = false;
  rpc.addEventListener('open', () => {
    ctx.methods = null;
    // After a reconnect a view that can catch up in place does (nothing typed is lost); the others re-render.
    if (opened && cleanup && cleanup.resync) cleanup.resync();
    else render();
    opened = true;
  });
  rpc.connect();
}

async function start() {
  document.getElementById('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = tokenInput.value.trim();
    const address = endpointInput.value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    if (address) {
      try {
        ctx.endpoint = new URL(address);
        sessionStorage.setItem(ENDPOINT_KEY, ctx.endpoint.origin);
      } catch {
        endpointInput.setCustomValidity('Not a URL');
        return;
      }
    }
    tokenInput.value = '';
    dialog.close();
    probe().then(connect);
  });
  document.getElementById('token-cancel').addEventListener('click', () => dialog.close());
  document.getElementById('token-forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(ENDPOINT_KEY);
    ctx.endpoint = new URL(location.origin);
    dialog.close();
    probe().then(connect);
  });
  document.getElementById('token-button').addEventListener('click', askToken);
  window.addEventListener('hashchange', render);
  endpointInput.addEventListener('input', () => endpointInput.setCustomValidity(''));
  await probe();
  connect();
}

// /v1/health answers without a token and says whether one is needed, so the page never makes a request that 401s.
async function probe() {
  try {
    const health = await (await fetch(new URL('/v1/health', ctx.endpoint), { cache: 'no-store' })).json();
    ctx.auth = health.auth || 'unknown';
  } catch {
    ctx.auth = 'unknown';
  }
}

start();
