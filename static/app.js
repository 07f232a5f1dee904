// pusher's chat page: one WebSocket speaking the messages of PROTOCOL.md.
// No framework and no build step; everything the server sends is shown as text.
'use strict';
(() => {
  const SINGLE = 0, GROUP = 1, SYS = 2, ONLINE = 3, OFFLINE = 4;
  const STORE_KEY = 'pusher.userId';
  const $ = (id) => document.getElementById(id);
  const ui = {
    status: $('status'), messages: $('messages'), online: $('online'), input: $('input'),
    send: $('send'), composer: $('composer'), login: $('login'), name: $('name'),
    loginError: $('login-error'), app: $('app'), me: $('me'), meBox: $('me-box'),
    changeName: $('change-name'), target: $('target'), everyone: $('everyone'),
  };
  const params = new URLSearchParams(location.search);
  const token = params.get('token') || '';

  // The browser hides a close's cause behind its code; these say it in words (RFC 6455 §7.4.1).
  const CLOSE_TEXT = {
    1000: 'closed', 1001: 'server going away', 1002: 'protocol error',
    1003: 'unsupported data', 1006: 'connection lost', 1007: 'invalid text (not UTF-8)',
    1008: 'policy violation (sending too fast or reading too slowly)',
    1009: 'message too long', 1011: 'server error',
  };
  const BAD_CLOSES = [1003, 1007, 1008, 1009];

  let me = '';             // our userId; empty while the name form is shown
  let ws = null;           // the live socket, or null between attempts
  let lastId = 0;          // largest message id seen: the `since` of the next connect
  let attempt = 0;         // failed connects in a row, for the back-off
  let timer = 0;           // pending reconnect / countdown
  let target = '';         // private-message target; empty means everyone
  let lastCreate = 0;      // keeps our createAt unique, so local echoes match exactly
  let lastEcho = null;     // our newest local echo, to mark it when the server refuses it
  let prev = null;         // last chat line, to fold runs from one sender
  const seen = new Set();  // ids already shown: replays and reconnects never repeat a line
  const users = new Set();
  // The server does not echo a Group message to its sender, yet replays it in the history
  // after a reconnect; our own lines wait here (by createAt and content) to learn their id.
  const pending = new Map();

  const str = (v) => (typeof v === 'string' ? v : '');
  const echoKey = (m) => m.createAt + '\n' + m.content;

  function node(tag, cls, text) {
    const el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function setStatus(state, text) {
    ui.status.dataset.state = state;
    ui.status.textContent = text;
  }

  function setComposer(on) {
    ui.input.disabled = ui.send.disabled = !on;
    if (on) ui.input.focus();
  }

  // ---- connection ------------------------------------------------------------------

  function connect() {
    clearTimeout(timer);
    let url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host +
      '/websocket?userId=' + encodeURIComponent(me);
    if (token) url += '&token=' + encodeURIComponent(token);
    if (lastId) url += '&since=' + lastId;
    setStatus('connecting', 'connecting…');
    const sock = ws = new WebSocket(url);
    let openedAt = 0;
    sock.onopen = () => {
      openedAt = Date.now();
      setStatus('online', 'online');
      users.add(me);
      renderUsers();
      setComposer(true);
    };
    sock.onmessage = (ev) => {
      let m = null;
      try { m = JSON.parse(ev.data); } catch { /* shown below */ }
      if (m && typeof m === 'object' && !Array.isArray(m)) receive(m);
      else notice('error', 'unreadable message from the server');
    };
    sock.onclose = (ev) => {
      if (sock !== ws) return; // we closed it on purpose (change of name)
      ws = null;
      setComposer(false);
      dropped(ev, openedAt);
    };
  }

  async function dropped(ev, openedAt) {
    // A connection that lived a while was healthy: start the back-off afresh.
    if (openedAt && Date.now() - openedAt > 10000) attempt = 0;
    let reason = (CLOSE_TEXT[ev.code] || 'closed') + ' (' + ev.code + ')';
    if (ev.reason) reason += ': ' + ev.reason;
    if (!openedAt) reason = await refusal();
    if (!me || ws) return; // the user left or changed name meanwhile
    const bad = BAD_CLOSES.includes(ev.code);
    if (ev.code === 1009 && lastEcho) markFailed(lastEcho, 'not delivered: message too long');
    if (openedAt) notice(bad ? 'error' : 'system', 'disconnected: ' + reason);
    else if (attempt === 0) notice('error', reason);
    schedule(reason);
  }

  // A failed handshake gives no HTTP status to scripts; /healthz tells a refusal from an outage.
  async function refusal() {
    try {
      const r = await fetch('healthz', { cache: 'no-store' });
      if (r.ok) return 'the server refused the connection (bad name or token, origin not allowed, or server full)';
    } catch { /* unreachable, below */ }
    return 'server unreachable';
  }

  function schedule(reason) {
    const delay = Math.min(15000, 500 * 2 ** attempt++) * (0.5 + Math.random());
    const until = Date.now() + delay;
    const tick = () => {
      const left = until - Date.now();
      if (left <= 0) return connect();
      setStatus('reconnecting', 'reconnecting in ' + Math.ceil(left / 1000) + 's · ' + reason);
      timer = setTimeout(tick, left % 1000 || 1000);
    };
    tick();
  }

  // Back on the network: no need to sit out the rest of the back-off.
  window.addEventListener('online', () => { if (me && !ws) connect(); });

  // ---- incoming ----------------------------------------------------------------------

  function receive(m) {
    if (Number.isSafeInteger(m.id)) {
      if (seen.has(m.id)) return;
      seen.add(m.id);
      if (m.id > lastId) lastId = m.id;
    }
    const from = str(m.from), type = m.messageType;
    if ((type === GROUP || type === SINGLE) && from === me) {
      const mine = pending.get(echoKey(m));
      if (mine) {
        pending.delete(echoKey(m));
        if (m.id !== undefined) mine.dataset.id = m.id;
        return;
      }
    }
    if (type === OFFLINE) {
      if (from !== me) users.delete(from);
    } else if (from && type !== SYS) {
      users.add(from);
    }
    render(m, false);
    renderUsers();
  }

  function render(m, force) {
    const type = m.messageType, from = str(m.from), to = str(m.to), content = str(m.content);
    let kind = 'system', text = content, who = '';
    if (type === SINGLE) {
      kind = 'single';
      who = from === me ? 'you → ' + (to === me ? 'you' : to) : from + ' → you';
    } else if (type === GROUP) {
      kind = 'group';
      who = from;
    } else if (type === SYS) {
      if (content.startsWith('error:')) kind = 'error';
    } else if (type === ONLINE) {
      kind = 'online'; text = from + ' joined';
    } else if (type === OFFLINE) {
      kind = 'offline'; text = from + ' left';
    } else {
      text = 'message of unknown type ' + type;
    }
    const li = node('li', 'msg ' + kind);
    if (m.id !== undefined) li.dataset.id = m.id;
    const when = Number(m.createAt) || Number(m.updateAt) || Date.now();
    if (who) {
      if (from === me) li.classList.add('own');
      // Lines from one sender within five minutes share one header.
      if (prev && prev.kind === kind && prev.who === who && when - prev.when < 300000) li.classList.add('cont');
      prev = { kind, who, when };
      const meta = node('div', 'meta');
      meta.append(node('span', 'from', who), timeNode(when));
      li.append(meta, body(m, text));
    } else {
      prev = null;
      if (type === SYS && from) text = from + ': ' + text;
      li.append(body(m, text), timeNode(when));
    }
    append(li, force);
    return li;
  }

  function body(m, text) {
    const div = node('div', 'content');
    const url = str(m.url);
    if (m.mediaType === 1 || m.mediaType === 2) {
      div.append(node('span', 'badge', m.mediaType === 1 ? 'image' : 'file'));
      if (/^https?:\/\//i.test(url)) {
        const a = node('a', '', text || url);
        a.href = url;
        a.target = '_blank';
        a.rel = 'noopener noreferrer';
        div.append(a);
        return div;
      }
    }
    div.append(text);
    return div;
  }

  function timeNode(ms) {
    const d = new Date(ms), t = node('time', 'time');
    const today = d.toDateString() === new Date().toDateString();
    t.textContent = today
      ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
      : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
    t.dateTime = d.toISOString();
    t.title = d.toLocaleString();
    return t;
  }

  function append(li, force) {
    const box = ui.messages;
    // Follow the conversation only while the reader is at its end.
    const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    box.append(li);
    if (atEnd || force) box.scrollTop = box.scrollHeight;
  }

  // Lines of the page itself (drops, refusals): shown like server notices, without an id.
  function notice(kind, text) {
    prev = null;
    const li = node('li', 'msg local ' + kind);
    li.append(node('div', 'content', text), timeNode(Date.now()));
    append(li, false);
  }

  function markFailed(li, why) {
    li.classList.add('failed');
    li.append(node('div', 'note', why));
  }

  // ---- who is online -----------------------------------------------------------------

  function renderUsers() {
    const names = [...users].sort((a, b) => (a === me ? -1 : b === me ? 1 : a.localeCompare(b)));
    ui.online.replaceChildren(...names.map((name) => {
      const li = node('li');
      li.dataset.user = name;
      const b = node('button', 'user', name === me ? name + ' (you)' : name);
      b.type = 'button';
      b.setAttribute('aria-pressed', String(name === target));
      b.onclick = () => setTarget(name === target ? '' : name);
      li.append(b);
      return li;
    }));
  }

  function setTarget(name) {
    target = name;
    ui.target.textContent = name ? 'to: ' + name : 'to: everyone';
    ui.target.classList.toggle('private', !!name);
    ui.everyone.hidden = !name;
    ui.input.placeholder = name ? 'Private message to ' + name : 'Message everyone';
    renderUsers();
    if (!ui.input.disabled) ui.input.focus();
  }

  ui.everyone.onclick = () => setTarget('');
  ui.input.addEventListener('keydown', (e) => { if (e.key === 'Escape' && target) setTarget(''); });

  // ---- sending -----------------------------------------------------------------------

  ui.composer.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = ui.input.value;
    if (!text.trim() || !ws || ws.readyState !== WebSocket.OPEN) return;
    lastCreate = Math.max(Date.now(), lastCreate + 1);
    const m = { messageType: target ? SINGLE : GROUP, mediaType: 0, to: target, content: text, createAt: lastCreate };
    ws.send(JSON.stringify(m));
    ui.input.value = '';
    const li = render({ ...m, from: me }, true);
    pending.set(echoKey(m), li);
    lastEcho = li;
  });

  // ---- name --------------------------------------------------------------------------

  // The server's rules for userId (PROTOCOL.md), checked here so a typo is not a refused handshake.
  function nameProblem(name) {
    if (!name) return 'Please pick a name.';
    try { encodeURIComponent(name); } catch { return 'That name is not valid text.'; }
    if (new TextEncoder().encode(name).length > 64) return 'At most 64 bytes, please.';
    if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'No control characters, please.';
    return '';
  }

  function start(name) {
    me = name;
    lastId = 0; attempt = 0; target = ''; prev = null; lastEcho = null;
    seen.clear(); users.clear(); pending.clear();
    users.add(me);
    ui.messages.replaceChildren();
    ui.me.textContent = name;
    ui.login.hidden = true;
    ui.app.hidden = ui.meBox.hidden = false;
    setTarget('');
    connect();
  }

  function leave() {
    const sock = ws;
    ws = null;
    me = '';
    clearTimeout(timer);
    if (sock) sock.close(1000);
    setComposer(false);
    setStatus('offline', 'offline');
    ui.app.hidden = ui.meBox.hidden = true;
    ui.login.hidden = false;
    ui.name.focus();
    ui.name.select();
  }

  ui.login.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = ui.name.value.trim();
    const problem = nameProblem(name);
    ui.loginError.textContent = problem;
    if (problem) return;
    try { localStorage.setItem(STORE_KEY, name); } catch { /* private mode: just not remembered */ }
    start(name);
  });
  ui.changeName.onclick = leave;

  let remembered = params.get('userId') || '';
  try { remembered = remembered || localStorage.getItem(STORE_KEY) || ''; } catch { /* none */ }
  ui.name.value = remembered;
  if (remembered && !nameProblem(remembered)) start(remembered);
  else leave();
})();
