// JSON-RPC 2.0 over the daemon's WebSocket (/v1/rpc). The token travels as a subprotocol, never in the URL.

const SUBPROTOCOL = 'sandbox-agent.v1';
const BEARER_PREFIX = 'sandbox-agent.bearer.';

export class RpcError extends Error {
  constructor(error) {
    super(error.message || 'error');
    this.code = error.code;
    this.data = error.data || {};
    this.kind = this.data.kind || null;
  }
}

function base64url(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function wsUrl(base = location, path = '/v1/rpc') {
  const proto = base.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${base.host}${path}`;
}

// The subprotocols that authenticate a browser WebSocket: the API version, then the token (if any).
export function wsProtocols(token) {
  return token ? [SUBPROTOCOL, BEARER_PREFIX + base64url(token)] : [SUBPROTOCOL];
}

// One connection; reconnects with backoff until closed on purpose or refused for auth.
export class RpcClient extends EventTarget {
  constructor(url, token) {
    super();
    this.url = url;
    this.token = token;
    this.nextId = 1;
    this.pending = new Map();
    this.handlers = new Map();
    this.ws = null;
    this.state = 'idle';
    this.stopped = false;
    this.retry = 0;
    this.everOpened = false;
  }

  on(method, fn) {
    if (!this.handlers.has(method)) this.handlers.set(method, new Set());
    this.handlers.get(method).add(fn);
    return () => this.handlers.get(method).delete(fn);
  }

  setState(state, detail = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state, ...detail } }));
  }

  connect() {
    const ws = new WebSocket(this.url, wsProtocols(this.token));
    this.ws = ws;
    this.setState('connecting');
    ws.addEventListener('open', () => {
      this.retry = 0;
      this.everOpened = true;
      this.setState('open');
      this.dispatchEvent(new Event('open'));
    });
    ws.addEventListener('message', (ev) => this.receive(ev.data));
    ws.addEventListener('close', (ev) => this.closed(ws, ev));
  }

  closed(ws, ev) {
    if (ws !== this.ws) return;
    for (const { reject } of this.pending.values()) reject(new RpcError({ code: -32000, message: 'connection lost' }));
    this.pending.clear();
    if (this.stopped) return this.setState('closed');
    // 1008 or a handshake that never opened on a fresh page: the token was refused; do not hammer the server.
    if (ev.code === 1008 || (!this.everOpened && this.retry >= 1)) return this.setState('refused');
    this.retry += 1;
    const delay = Math.min(5000, 250 * 2 ** Math.min(this.retry, 5));
    this.setState('retrying', { delay });
    setTimeout(() => !this.stopped && this.connect(), delay);
  }

  close() {
    this.stopped = true;
    if (this.ws) this.ws.close(1000);
  }

  receive(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    for (const one of Array.isArray(msg) ? msg : [msg]) {
      if (one.id !== undefined && one.id !== null && (one.result !== undefined || one.error !== undefined)) {
        const waiter = this.pending.get(one.id);
        if (!waiter) continue;
        this.pending.delete(one.id);
        if (one.error) waiter.reject(new RpcError(one.error));
        else waiter.resolve(one.result);
      } else if (one.method) {
        for (const fn of this.handlers.get(one.method) || []) {
          try {
            fn(one.params || {});
          } catch (err) {
            console.warn('handler failed', one.method, err);
          }
        }
      }
    }
  }

  call(method, params = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new RpcError({ code: -32000, message: 'not connected' }));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }
}
