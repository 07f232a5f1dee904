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
    note: $('composer-note'),
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
  // Refusals that come out the same however often one asks (PROTOCOL.md): say why, and stop.
  // 400 is the name, sent back to the form; 503 (full) and outages are worth another try.
  const FINAL = [400, 401, 403];
  const HINT = {
    401: 'The page needs ?token= in its address, a valid token for this name.',
    403: 'The server does not take connections from pages at ' + location.origin + '.',
  };

  let me = '';             // our userId; empty while the name form is shown
  let ws = null;           // the live socket, or null between attempts
  let lastId = 0;          // largest message id seen: the `since` of the next connect
  let attempt = 0;         // failed connects in a row, for the back-off
  let timer = 0;           // pending reconnect / countdown
  let gen = 0;             // counts connects and leaves: an answer for an older one is dropped
  let live = false;        // the socket is open: only then do we show ourselves online
  let retrying = false;    // a reconnect is scheduled (coming back online may cut it short)
  let lastReason = '';     // the connect failure last shown, so a run of retries says it once
  let limits = null;       // the server's limits from /api/preflight; null where it gave none
  let listed = 0;          // `id` of the last /api/online answer: presence events up to it are in it
  let held = null;         // presence events that came while /api/online was pending, else null
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
    ui.status.title = text; // the header cuts a long one short; the whole of it on hover
  }

  function setComposer(on) {
    ui.input.disabled = ui.send.disabled = !on;
    if (on) ui.input.focus();
  }

  // ---- connection ------------------------------------------------------------------

  async function connect() {
    clearTimeout(timer);
    retrying = false;
    const my = ++gen;
    setStatus('connecting', 'connecting…');
    // Ask first: a refused WebSocket tells a script nothing, this says why, and gives the limits.
    const pf = await preflight();
    if (my !== gen) return; // left, renamed or started again meanwhile
    if (pf.final) return refused(pf.final, pf.reason);
    if (pf.reason) return failed(pf.reason);
    limits = pf.limits;
    open();
  }

  function open() {
    let url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host +
      '/websocket?userId=' + encodeURIComponent(me);
    if (token) url += '&token=' + encodeURIComponent(token);
    if (lastId) url += '&since=' + lastId;
    const sock = ws = new WebSocket(url);
    let openedAt = 0;
    sock.onopen = () => {
      openedAt = Date.now();
      live = true;
      lastReason = '';
      setStatus('online', 'online');
      users.add(me);
      setComposer(true);
      fetchOnline(sock);
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
      live = false;
      held = null;
      ui.online.removeAttribute('aria-busy');
      setComposer(false);
      renderUsers();
      dropped(ev, openedAt);
    };
  }

  async function dropped(ev, openedAt) {
    if (openedAt) {
      // A connection that lived a while was healthy: start the back-off afresh.
      if (Date.now() - openedAt > 10000) attempt = 0;
      let reason = (CLOSE_TEXT[ev.code] || 'closed') + ' (' + ev.code + ')';
      if (ev.reason) reason += ': ' + ev.reason;
      // Only where the server gave no limit can a message be too long for it.
      if (ev.code === 1009 && lastEcho) markFailed(lastEcho, 'not delivered: message too long');
      notice(BAD_CLOSES.includes(ev.code) ? 'error' : 'system', 'disconnected: ' + reason);
      return schedule(reason);
    }
    // The handshake failed after a preflight that passed (the server filled up meanwhile,
    // say); the browser hides the status from scripts, so ask again why.
    const my = gen;
    const pf = await preflight();
    if (my !== gen) return;
    if (pf.final) return refused(pf.final, pf.reason);
    failed(pf.reason || 'the WebSocket did not open');
  }

  // GET /api/preflight: the answer the upgrade with the same query would get, minus the
  // upgrade. Gives { limits }, { reason } (worth another try) or { final, reason } (not).
  async function preflight() {
    // A same-origin GET carries no Origin header, so the page names its origin itself.
    const q = new URLSearchParams({ userId: me, origin: location.origin });
    if (token) q.set('token', token);
    if (lastId) q.set('since', String(lastId));
    let r;
    try {
      r = await fetch('api/preflight?' + q, { cache: 'no-store', signal: AbortSignal.timeout(10000) });
    } catch (e) {
      return { reason: e.name === 'TimeoutError' ? 'no answer from the server' : 'server unreachable' };
    }
    if (r.ok) {
      const j = await r.json().catch(() => null);
      const ok = j && Number.isSafeInteger(j.maxMessage) && j.maxMessage > 0;
      return { limits: ok ? j : null };
    }
    if (r.status === 404) return { limits: null }; // a server from before /api/preflight: just try
    // The server's reason is one line of text/plain; a proxy's error page is not worth quoting.
    const plain = /^text\/plain/i.test(r.headers.get('content-type') || '');
    const body = plain ? (await r.text().catch(() => '')).trim().split('\n')[0].slice(0, 200) : '';
    if (FINAL.includes(r.status)) return { final: r.status, reason: body || 'refused (HTTP ' + r.status + ')' };
    return { reason: body || 'server error (HTTP ' + r.status + ')' };
  }

  function failed(reason) {
    if (reason !== lastReason) notice('error', 'cannot connect: ' + reason);
    lastReason = reason;
    schedule(reason);
  }

  function refused(status, reason) {
    if (status === 400) return leave('The server refused the name "' + me + '": ' + reason);
    setStatus('refused', 'not connected · ' + reason);
    notice('error', 'cannot connect: ' + reason + ' (' + status + '). Not retrying: ' +
      (HINT[status] || 'asking again would get the same answer.'));
  }

  function schedule(reason) {
    const delay = Math.min(15000, 500 * 2 ** attempt++) * (0.5 + Math.random());
    const until = Date.now() + delay;
    retrying = true;
    const tick = () => {
      const left = until - Date.now();
      if (left <= 0) return connect();
      setStatus('reconnecting', 'reconnecting in ' + Math.ceil(left / 1000) + 's · ' + reason);
      timer = setTimeout(tick, left % 1000 || 1000);
    };
    tick();
  }

  // Back on the network: no need to sit out the rest of the back-off.
  window.addEventListener('online', () => { if (retrying) connect(); });

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
    // Only presence events change the list: a line in the history is no sign of anyone now.
    if (type === ONLINE || type === OFFLINE) {
      if (held) held.push(m);
      else presence(m);
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
      who = from === me ? 'you' : from;
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

  // A word under the composer about what is in it (a message too long to send).
  function setNote(text) {
    ui.note.textContent = text;
    ui.note.hidden = !text;
  }

  function markFailed(li, why) {
    li.classList.add('failed');
    li.append(node('div', 'note', why));
  }

  // ---- who is online -----------------------------------------------------------------

  // The list comes whole from GET /api/online on every open, so a leave missed while we were
  // away, or an arrival older than the history, is set right. Its `id` says which presence
  // events it already holds; those that come before it answers wait in `held`.
  async function fetchOnline(sock) {
    held = [];
    ui.online.setAttribute('aria-busy', 'true');
    let list = null;
    try {
      const q = token ? '?token=' + encodeURIComponent(token) : '';
      const r = await fetch('api/online' + q, { cache: 'no-store', signal: AbortSignal.timeout(10000) });
      if (r.ok) list = await r.json();
    } catch { /* no list: below */ }
    if (sock !== ws) return; // closed meanwhile: the next open asks again
    const waiting = held;
    held = null;
    if (list && Array.isArray(list.users) && Number.isSafeInteger(list.id)) {
      users.clear();
      for (const u of list.users) if (typeof u === 'string') users.add(u);
      listed = list.id;
    } else {
      listed = 0; // no list to be had (a server from before /api/online): events alone, as before
    }
    users.add(me);
    waiting.forEach(presence);
    ui.online.removeAttribute('aria-busy');
    renderUsers();
  }

  function presence(m) {
    if (Number.isSafeInteger(m.id) && m.id <= listed) return; // /api/online counted it already
    const from = str(m.from);
    if (m.messageType === ONLINE && from) users.add(from);
    else if (m.messageType === OFFLINE && from !== me) users.delete(from);
  }

  function renderUsers() {
    const names = [...users].sort((a, b) => (a === me ? -1 : b === me ? 1 : a.localeCompare(b)));
    // Not connected, we cannot vouch for anyone, least of all ourselves.
    ui.online.classList.toggle('stale', !live);
    ui.online.title = live ? '' : 'not connected: this list may be out of date';
    ui.online.replaceChildren(...names.map((name) => {
      const li = node('li');
      li.dataset.user = name;
      const own = name === me;
      const b = node('button', 'user', own ? name + (live ? ' (you)' : ' (you, offline)') : name);
      if (own && !live) b.classList.add('offline');
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
  ui.input.addEventListener('input', () => setNote(''));
  ui.input.addEventListener('keydown', (e) => { if (e.key === 'Escape' && target) setTarget(''); });

  // ---- sending -----------------------------------------------------------------------

  ui.composer.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = ui.input.value;
    if (!text.trim() || !ws || ws.readyState !== WebSocket.OPEN) return;
    const createAt = Math.max(Date.now(), lastCreate + 1);
    const m = { messageType: target ? SINGLE : GROUP, mediaType: 0, to: target, content: text, createAt };
    const json = JSON.stringify(m);
    // The server closes the whole connection (1009) on a message over its limit, so weigh
    // the very text we would send, in UTF-8 bytes as the server counts them, and keep it here.
    const size = new TextEncoder().encode(json).length;
    if (limits && size > limits.maxMessage) {
      setNote('Too long to send: ' + size + ' bytes as sent, and the server takes at most ' +
        limits.maxMessage + '. Shorten it to send it.');
      return;
    }
    lastCreate = createAt;
    ws.send(json);
    ui.input.value = '';
    setNote('');
    const li = render({ ...m, from: me }, true);
    pending.set(echoKey(m), li);
    lastEcho = li;
  });

  // ---- name --------------------------------------------------------------------------

  // The server's rules for userId (PROTOCOL.md), checked here so a typo is not a refused handshake.
  function nameProblem(name) {
    if (!name) return 'Please pick a name.';
    try { encodeURIComponent(name); } catch { return 'A name must be valid text (this one holds half a character).'; }
    const bytes = new TextEncoder().encode(name).length;
    if (bytes > 64) return 'A name is at most 64 bytes of UTF-8; this one has ' + bytes + '.';
    if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'A name may not hold control characters.';
    return '';
  }

  function start(name) {
    me = name;
    lastId = 0; attempt = 0; target = ''; prev = null; lastEcho = null;
    live = false; retrying = false; lastReason = ''; limits = null; listed = 0; held = null;
    ui.loginError.textContent = '';
    setNote('');
    seen.clear(); users.clear(); pending.clear();
    users.add(me);
    ui.messages.replaceChildren();
    ui.me.textContent = name;
    ui.login.hidden = true;
    ui.app.hidden = ui.meBox.hidden = false;
    setTarget('');
    connect();
  }

  // Back to the name form, saying why where there is a reason.
  function leave(why = '') {
    const sock = ws;
    ws = null;
    me = '';
    gen++; // whatever connect was under way is void
    live = false; retrying = false; held = null;
    clearTimeout(timer);
    if (sock) sock.close(1000);
    setComposer(false);
    setNote('');
    setStatus('offline', 'offline');
    ui.loginError.textContent = why;
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
  ui.changeName.onclick = () => leave();

  // A name from the address (or from last time) is checked like a typed one, and the form
  // says what is wrong with it rather than appear without a word.
  const fromUrl = params.get('userId') || '';
  let remembered = fromUrl;
  try { remembered = remembered || localStorage.getItem(STORE_KEY) || ''; } catch { /* none */ }
  ui.name.value = remembered;
  const problem = remembered ? nameProblem(remembered) : '';
  if (remembered && !problem) start(remembered);
  else if (problem) leave((fromUrl ? 'The name given in the page\'s address as ?userId= cannot be used. '
    : 'The name remembered from last time cannot be used. ') + problem);
  else leave();
})();
