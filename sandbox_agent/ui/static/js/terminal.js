// The Terminal tab: a shell on a PTY in the session's working directory (terminals/open), bytes over
// /v1/terminals/{id} (binary frames, same auth as /v1/rpc), drawn by the vendored xterm.js (loaded on first use).

import { h, toast } from './dom.js';
import { wsProtocols, wsUrl } from './rpc.js';

let loading = null;

function loadXterm() {
  if (window.Terminal) return Promise.resolve(window.Terminal);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      document.head.append(h('link', { rel: 'stylesheet', href: 'vendor/xterm.css' }));
      const script = h('script', { src: 'vendor/xterm.js' });
      script.addEventListener('load', () => resolve(window.Terminal));
      script.addEventListener('error', () => reject(new Error('xterm.js did not load')));
      document.head.append(script);
    });
  }
  return loading;
}

export function terminalPanel(ctx, sessionInfo) {
  let term = null;
  let ws = null;
  let terminalId = null;
  let observer = null;
  const screen = h('div', { class: 'terminal-screen', role: 'application', 'aria-label': 'Terminal' });
  const status = h('span', { class: 'muted', role: 'status', text: 'Not started.' });
  const start = h('button', { type: 'button', class: 'primary', text: 'Open terminal', onclick: () => open() });
  const close = h('button', { type: 'button', text: 'Close terminal', disabled: true, onclick: () => shut() });
  const panel = h('div', { class: 'panel terminal' }, h('div', { class: 'row' }, start, close, status), screen);

  async function open() {
    start.disabled = true;
    try {
      const Terminal = await loadXterm();
      term = term || new Terminal({ convertEol: false, cursorBlink: true, fontSize: 13, screenReaderMode: true });
      if (!term.element) term.open(screen);
      const info = sessionInfo();
      const cols = term.cols;
      const rows = term.rows;
      const opened = await ctx.rpc.call('terminals/open', { cols, rows, ...(info && info.cwd ? { cwd: info.cwd } : {}) });
      terminalId = opened.terminal_id;
      const token = sessionStorage.getItem('sandbox-agent.token');
      ws = new WebSocket(wsUrl(ctx.endpoint, opened.websocket_path), wsProtocols(token));
      ws.binaryType = 'arraybuffer';
      ws.addEventListener('message', (ev) => term.write(typeof ev.data === 'string' ? ev.data : new Uint8Array(ev.data)));
      ws.addEventListener('close', () => {
        status.textContent = 'Disconnected.';
      });
      const encoder = new TextEncoder();
      const early = []; // keys typed before the socket opened are sent once it does, not lost
      ws.addEventListener('open', () => early.splice(0).forEach((bytes) => ws.send(bytes)));
      term.onData((data) => {
        if (!ws) return;
        if (ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(data));
        else if (ws.readyState === WebSocket.CONNECTING) early.push(encoder.encode(data));
      });
      observer = new ResizeObserver(() => fit());
      observer.observe(screen);
      status.textContent = `Terminal ${terminalId} (pid ${opened.pid}).`;
      close.disabled = false;
      term.focus();
    } catch (err) {
      toast(`Terminal failed: ${err.message}`, 'error');
      start.disabled = false;
    }
  }

  // Fit the grid to the box from xterm's measured cell size, then tell the PTY (SIGWINCH).
  function fit() {
    const core = term && term._core;
    const cell = core && core._renderService && core._renderService.dimensions && core._renderService.dimensions.css.cell;
    if (!cell || !cell.width || !screen.clientWidth) return;
    const cols = Math.max(20, Math.floor((screen.clientWidth - 16) / cell.width));
    const rows = Math.max(5, Math.floor((screen.clientHeight - 8) / cell.height));
    if (cols === term.cols && rows === term.rows) return;
    term.resize(cols, rows);
    if (terminalId) ctx.rpc.call('terminals/resize', { terminal_id: terminalId, cols, rows }).catch(() => {});
  }

  async function shut() {
    close.disabled = true;
    if (ws) ws.close(1000);
    ws = null;
    if (terminalId) await ctx.rpc.call('terminals/close', { terminal_id: terminalId }).catch(() => {});
    terminalId = null;
    status.textContent = 'Closed.';
    start.disabled = false;
  }

  panel.activate = () => term && term.focus();
  panel.dispose = () => {
    if (observer) observer.disconnect();
    if (ws) ws.close(1000);
    if (terminalId) ctx.rpc.call('terminals/close', { terminal_id: terminalId }).catch(() => {});
    if (term) term.dispose();
  };
  return panel;
}
