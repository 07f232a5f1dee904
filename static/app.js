// pusher's chat page: one WebSocket speaking the messages of PROTOCOL.md.
// No framework and no build step; everything the server sends is shown as text.
'use strict';
(() => {
  const SINGLE = 0, GROUP = 1, SYS = 2, ONLINE = 3, OFFLINE = 4, JOIN = 5, LEAVE = 6;
  const STORE_KEY = 'pusher.userId';
  const roomsKey = (user) => 'pusher.rooms.' + user; // the rooms are each name's own
  // The server answers a join that succeeds with nothing at all. So each join is followed by a
  // Leave of this room, which the page never joins: its error: reply comes after any reply to
  // the join, and so says that the join's answer, if there was one, has come.
  const PROBE = '\u2063pusher-page-probe\u2063';
  const $ = (id) => document.getElementById(id);
  const ui = {
    status: $('status'), online: $('online'), input: $('input'),
    send: $('send'), composer: $('composer'), login: $('login'), name: $('name'),
    loginError: $('login-error'), app: $('app'), me: $('me'), meBox: $('me-box'),
    changeName: $('change-name'), target: $('target'), everyone: $('everyone'),
    note: $('composer-note'), convs: $('convs'), rooms: $('rooms'), side: $('side'),
    addRoom: $('add-room'), joinRoom: $('join-room'), roomName: $('room-name'), roomError: $('room-error'),
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
  let target = '';         // private-message target; empty means the conversation shown
  let lastCreate = 0;      // keeps our createAt unique, so local echoes match exactly
  let lastEcho = null;     // our newest local echo, to mark it when the server refuses it
  let shown = '';          // the conversation on screen: '' is everyone, else a room's name
  let awaiting = [];       // joins sent on this socket whose probe has not come back, oldest first
  let saveTimer = 0;       // pending write of the rooms to localStorage
  const users = new Set();
  // The conversations: everyone ('') first, then the rooms in the order joined. Each has its own
  // list of lines, its own ids already shown (so a room left and joined again shows its history
  // again, while replays and reconnects never repeat a line), its unread count, and `read`, the
  // id of its newest line seen on screen (kept across reloads, so old history is not "unread").
  // A room's state: 'pending' (to join with rooms= at the next connect), 'joining' (Join sent,
  // its answer awaited) or 'in'.
  const convs = new Map();
  const leftRooms = new Set(); // rooms left on this socket: a late error about one is no news
  // The server does not echo a Group message to its sender, yet replays it in the history
  // after a reconnect; our own lines wait here (by createAt and content) to learn their id.
  const pending = new Map();
  // Our Singles to others, by createAt, until the server says one was kept for someone offline
  // (its queued: reply carries the same createAt); the last SENT_MAX of them.
  const sentSingles = new Map();
  const SENT_MAX = 100;

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
    if (pf.final && dropRooms(pf.final, pf.reason)) return connect(); // without the room refused
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
    // Membership lives with the connection: a reconnect (or a reload) joins the rooms again as
    // it opens, and its since= covers their histories too, so nothing is shown twice.
    const names = roomNames();
    if (names.length) url += '&rooms=' + names.map(encodeURIComponent).join(',');
    const sock = ws = new WebSocket(url);
    let openedAt = 0;
    sock.onopen = () => {
      openedAt = Date.now();
      live = true;
      lastReason = '';
      setStatus('online', 'online');
      users.add(me);
      for (const name of names) {
        const c = convs.get(name);
        if (c) {
          c.state = 'in';
          c.fresh = false;
        } else { // left while connecting
          sock.send(JSON.stringify({ messageType: LEAVE, to: name }));
          leftRooms.add(name);
        }
      }
      for (const c of convs.values()) if (c.name && !names.includes(c.name)) sendJoin(c); // added meanwhile
      saveRooms();
      renderRooms();
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
      awaiting = []; // their answers are lost: those rooms are joined again with rooms= next time
      for (const c of convs.values()) if (c.state === 'joining') c.state = 'pending';
      leftRooms.clear();
      ui.online.removeAttribute('aria-busy');
      renderRooms();
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
    if (pf.final && dropRooms(pf.final, pf.reason)) return connect();
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
    const names = roomNames();
    if (names.length) q.set('rooms', names.join(','));
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

  // A connect refused for one of its rooms (a name the server will not take, or one the token
  // does not allow, PROTOCOL.md "Rooms") would be refused again and again, and with it the
  // whole chat: leave that room out, say why, and connect without it. True where one was dropped.
  function dropRooms(status, reason) {
    if (!(status === 400 && /^rooms\b/.test(reason)) && !(status === 403 && /\broom "/.test(reason))) return false;
    const rooms = [...convs.values()].filter((c) => c.name);
    let drop = rooms.filter((c) => reason.includes('room "' + c.name + '"') || reason.includes('"' + c.name + '" is'));
    // A reason that names none (more than --max-rooms): the room added last goes, one at a time.
    if (!drop.length) drop = rooms.filter((c) => c.fresh).slice(-1);
    if (!drop.length) drop = rooms.slice(-1);
    for (const c of drop) refuseRoom(c, reason);
    return drop.length > 0;
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
    const id = Number.isSafeInteger(m.id) ? m.id : undefined;
    if (id !== undefined && id > lastId) lastId = id;
    const from = str(m.from), type = m.messageType;
    // The server's replies to this connection: from nobody, to us, never in a history.
    if (type === SYS && !from && str(m.to) === me && str(m.content).startsWith('error:')) return serverError(m);
    if (type === SYS && !from && str(m.to) === me && str(m.content).startsWith('queued:')) return markKept(m);
    const c = convOf(m);
    if (!c) return; // a room we are no longer in
    if (id !== undefined) {
      if (c.seen.has(id)) return;
      c.seen.add(id);
      if (id > c.last) c.last = id;
    }
    if ((type === GROUP || type === SINGLE) && from === me) {
      const mine = pending.get(echoKey(m));
      if (mine) {
        pending.delete(echoKey(m));
        if (id !== undefined) mine.dataset.id = id;
        return;
      }
    }
    // Only presence events change the list: a line in the history is no sign of anyone now.
    if (type === ONLINE || type === OFFLINE) {
      if (held) held.push(m);
      else presence(m);
    }
    render(c, m, false);
    if (c.name === shown) markRead(c, id);
    else if (((type === GROUP || type === SINGLE) && from !== me || type === SYS) && !(id <= c.read)) {
      c.unread++; // a line for a person to read, newer than what they had seen before a reload
      renderRooms();
    }
    renderUsers();
  }

  // Which conversation a message belongs to; null for a room we are not in (any more).
  function convOf(m) {
    const type = m.messageType, to = str(m.to);
    const everyone = convs.get('');
    if (type === JOIN || type === LEAVE) return (to && convs.get(to)) || null;
    if (type === GROUP) return to ? convs.get(to) || null : everyone;
    if (type === SYS && to) return convs.get(to) || everyone; // pushed to a room
    return everyone; // Single, presence, and whatever else the server may say
  }

  // An error: reply. Those that answer a join decide whether the room is kept.
  function serverError(m) {
    const content = str(m.content);
    if (content.includes('"' + PROBE + '"')) {
      const a = awaiting.shift(); // the probe's answer: the join before it went through, unless refused
      const c = a && convs.get(a.name);
      if (c && c.state === 'joining' && !a.answered) { c.state = 'in'; c.fresh = false; saveRooms(); renderRooms(); }
      return;
    }
    const about = (name) => content.includes('room "' + name + '"');
    if ([...leftRooms].some(about)) return; // a Leave that crossed something on the way: no news
    let c = [...convs.values()].find((x) => x.name && about(x.name));
    let a = c && awaiting.find((x) => x.name === c.name && !x.answered);
    // The server does not name the room in every refusal (at most --max-rooms rooms, a bad name):
    // one that names no user is the answer to the oldest join still unanswered.
    if (!c && !/\buser "/.test(content)) {
      a = awaiting.find((x) => !x.answered);
      c = a && convs.get(a.name);
    }
    if (a && c && c.state === 'joining') {
      a.answered = true;
      if (/\balready\b/.test(content)) { c.state = 'in'; c.fresh = false; saveRooms(); renderRooms(); return; } // in it all along
      return refuseRoom(c, content.replace(/^error:\s*/, ''));
    }
    // Errors about a person belong with the private lines; the others with what is on screen.
    render(c || convs.get(/\buser "/.test(content) ? '' : shown), m, false);
  }

  // A queued: reply: the line it answers says it waits for its reader.
  function markKept(m) {
    const li = sentSingles.get(m.createAt);
    if (!li) return render(convs.get(''), m, false); // sent from another tab, or long ago
    sentSingles.delete(m.createAt);
    li.classList.add('kept');
    li.append(node('div', 'note', li.dataset.to + ' is offline: delivered when they come back'));
  }

  function render(c, m, force) {
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
    } else if (type === JOIN || type === LEAVE) {
      // Our own come from the room's history: an earlier visit, or the page before a reload.
      kind = type === JOIN ? 'online' : 'offline';
      text = (from === me ? 'you' : from) + (type === JOIN ? ' joined' : ' left');
    } else {
      text = 'message of unknown type ' + type;
    }
    const li = node('li', 'msg ' + kind);
    if (type === JOIN || type === LEAVE) li.classList.add('room-event');
    if (m.id !== undefined) li.dataset.id = m.id;
    const when = Number(m.createAt) || Number(m.updateAt) || Date.now();
    if (who) {
      if (from === me) li.classList.add('own');
      // Lines from one sender within five minutes share one header.
      const prev = c.prev;
      if (prev && prev.kind === kind && prev.who === who && when - prev.when < 300000) li.classList.add('cont');
      c.prev = { kind, who, when };
      const meta = node('div', 'meta');
      meta.append(node('span', 'from', who), timeNode(when));
      li.append(meta, body(m, text));
    } else {
      c.prev = null;
      if (type === SYS && from) text = from + ': ' + text;
      li.append(body(m, text), timeNode(when));
    }
    append(c, li, force);
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

  function append(c, li, force) {
    const box = c.list;
    if (box.hidden) {
      box.append(li); // a hidden list has no layout: where it is read from is settled on showing it
      if (force) c.scroll = null;
      return;
    }
    // Follow the conversation only while the reader is at its end.
    const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    box.append(li);
    if (atEnd || force) box.scrollTop = box.scrollHeight;
  }

  // Lines of the page itself (drops, refusals): shown like server notices, without an id,
  // in the conversation on screen unless another is named.
  function notice(kind, text, c = convs.get(shown)) {
    c.prev = null;
    const li = node('li', 'msg local ' + kind);
    li.append(node('div', 'content', text), timeNode(Date.now()));
    append(c, li, false);
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

  // A private message is a Single, and private lines live in the everyone conversation:
  // picking a person shows that one.
  function setTarget(name) {
    if (name && shown) return show('', name);
    target = name;
    const room = shown;
    ui.target.textContent = name ? 'to: ' + name : room ? 'to: everyone in ' + room : 'to: everyone';
    ui.target.classList.toggle('private', !!name);
    ui.target.classList.toggle('room', !name && !!room);
    ui.everyone.hidden = !name;
    ui.input.placeholder = name ? 'Private message to ' + name : room ? 'Message everyone in ' + room : 'Message everyone';
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
    // To the person picked, else to the conversation on screen: everyone or its room.
    const c = convs.get(target ? '' : shown);
    const m = { messageType: target ? SINGLE : GROUP, mediaType: 0, to: target || c.name, content: text, createAt };
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
    const li = render(c, { ...m, from: me }, true);
    pending.set(echoKey(m), li);
    lastEcho = li;
    if (target && target !== me) {
      li.dataset.to = target;
      sentSingles.set(createAt, li);
      if (sentSingles.size > SENT_MAX) sentSingles.delete(sentSingles.keys().next().value);
    }
  });

  // ---- rooms -------------------------------------------------------------------------

  function makeConv(name, state) {
    const list = node('ol', 'messages');
    list.dataset.room = name;
    list.setAttribute('aria-label', name ? 'Messages in ' + name : 'Messages');
    list.setAttribute('aria-live', 'polite');
    list.hidden = true;
    ui.convs.append(list);
    const c = { name, state, list, seen: new Set(), last: 0, unread: 0, read: 0, prev: null, scroll: null, fresh: false };
    convs.set(name, c);
    return c;
  }

  // The rooms to be in on the next connect: all but those refused meanwhile.
  const roomNames = () => [...convs.keys()].filter(Boolean);

  function sendJoin(c) {
    c.state = 'joining';
    leftRooms.delete(c.name);
    ws.send(JSON.stringify({ messageType: JOIN, to: c.name }));
    ws.send(JSON.stringify({ messageType: LEAVE, to: PROBE }));
    awaiting.push({ name: c.name, answered: false });
  }

  function removeConv(c) {
    c.list.remove();
    convs.delete(c.name);
    if (shown === c.name) show('');
    saveRooms();
    renderRooms();
  }

  // The server will not have us in the room: it is not kept, and the join form says why,
  // with the name in its box to be mended.
  function refuseRoom(c, reason) {
    removeConv(c);
    const why = 'Could not join "' + c.name + '"' + (c.fresh ? '' : ' again') + ': ' + reason;
    if (c.fresh) { // the user's own join: the form it came from says why
      ui.roomError.textContent = why;
      ui.roomName.value = c.name;
      setAdding(true); // at a phone's width the form may be folded away
    }
    notice('error', why, convs.get(''));
  }

  function leaveRoom(name) {
    const c = convs.get(name);
    if (!c || !c.name) return;
    // Where the socket is not open, the next connect simply leaves it out of rooms=.
    if (live && ws && c.state !== 'pending') {
      ws.send(JSON.stringify({ messageType: LEAVE, to: name }));
      leftRooms.add(name);
    }
    removeConv(c);
  }

  // Shows a conversation; its unread lines are read now. `to` picks a person in it at once.
  function show(name, to = '') {
    const c = convs.get(name) || convs.get('');
    const old = convs.get(shown);
    if (old && old !== c && !old.list.hidden) {
      const box = old.list;
      old.scroll = box.scrollHeight - box.scrollTop - box.clientHeight < 80 ? null : box.scrollTop;
      box.hidden = true;
      box.removeAttribute('id');
    }
    shown = c.name;
    c.list.hidden = false;
    c.list.id = 'messages'; // the conversation on screen is always #messages
    c.list.scrollTop = c.scroll === null ? c.list.scrollHeight : c.scroll;
    c.unread = 0;
    markRead(c, c.last);
    setTarget(to);
    renderRooms();
  }

  function markRead(c, id) {
    if (!Number.isSafeInteger(id) || id <= c.read) return;
    c.read = id;
    saveSoon();
  }

  function renderRooms() {
    ui.rooms.replaceChildren(...[...convs.values()].map((c) => {
      const li = node('li');
      li.dataset.room = c.name;
      li.dataset.state = c.state;
      const b = node('button', 'conv');
      b.type = 'button';
      b.append(node('span', 'conv-name', c.name || 'everyone'));
      if (c.state === 'joining') b.append(node('span', 'conv-state', 'joining…'));
      if (c.unread && c.name !== shown) {
        const u = node('span', 'unread', c.unread > 99 ? '99+' : String(c.unread));
        u.title = c.unread + ' unread';
        b.append(u);
      }
      b.setAttribute('aria-current', String(c.name === shown));
      b.title = c.name ? 'room ' + c.name : 'everyone';
      b.onclick = () => show(c.name);
      li.append(b);
      if (c.name) {
        const x = node('button', 'leave', '×');
        x.type = 'button';
        x.title = 'Leave ' + c.name;
        x.setAttribute('aria-label', 'Leave ' + c.name);
        x.disabled = c.state === 'joining'; // until the server has answered the join
        x.onclick = () => leaveRoom(c.name);
        li.append(x);
      }
      return li;
    }));
  }

  // Stored per userId: the rooms (all but a join still unanswered) and what was read in each.
  function saveRooms() {
    clearTimeout(saveTimer);
    saveTimer = 0;
    if (!me) return;
    const rooms = [...convs.values()].filter((c) => c.name && c.state !== 'joining').map((c) => c.name);
    const read = {};
    for (const c of convs.values()) if (c.read) read[c.name] = c.read;
    try { localStorage.setItem(roomsKey(me), JSON.stringify({ rooms, read })); } catch { /* not remembered */ }
  }
  function saveSoon() { if (!saveTimer) saveTimer = setTimeout(saveRooms, 500); }
  window.addEventListener('pagehide', () => { if (saveTimer) saveRooms(); });

  function loadRooms(name) {
    let saved = null;
    try { saved = JSON.parse(localStorage.getItem(roomsKey(name)) || 'null'); } catch { /* none */ }
    const rooms = saved && Array.isArray(saved.rooms) ? saved.rooms : [];
    const read = saved && saved.read && typeof saved.read === 'object' ? saved.read : {};
    const everyone = convs.get('');
    if (Number.isSafeInteger(read[''])) everyone.read = read[''];
    for (const r of rooms) {
      // What storage holds is checked like what is typed: a bad name would cost the whole connect.
      if (typeof r !== 'string' || roomProblem(r) || convs.has(r) || convs.size > 100) continue;
      const c = makeConv(r, 'pending');
      if (Number.isSafeInteger(read[r])) c.read = read[r];
    }
  }

  function roomProblem(name) {
    const p = nameProblem(name, 'room name');
    if (p) return p;
    if (name.includes(',')) return 'A room name may not hold a comma (the page rejoins its rooms as a list split at commas).';
    if (name === PROBE) return 'That name is kept for the page itself.';
    return '';
  }

  ui.joinRoom.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = ui.roomName.value.trim();
    const problem = roomProblem(name);
    ui.roomError.textContent = problem;
    if (problem) return; // said here, and nothing sent
    ui.roomName.value = '';
    if (!convs.has(name)) {
      const c = makeConv(name, 'pending');
      c.fresh = true;
      if (live && ws) sendJoin(c); // else it goes with rooms= when the socket opens
    }
    setAdding(false);
    show(name);
  });
  ui.roomName.addEventListener('input', () => { ui.roomError.textContent = ''; });
  // At a phone's width the join form folds away behind the "+ room" toggle.
  function setAdding(on) {
    ui.side.classList.toggle('adding', on);
    ui.addRoom.setAttribute('aria-expanded', String(on));
  }
  ui.addRoom.onclick = () => {
    setAdding(!ui.side.classList.contains('adding'));
    if (ui.side.classList.contains('adding')) ui.roomName.focus();
  };

  // ---- name --------------------------------------------------------------------------

  // The server's rules for userId (PROTOCOL.md), checked here so a typo is not a refused handshake.
  // Room names follow the same rules.
  function nameProblem(name, what = 'name') {
    const A = 'A ' + what;
    if (!name) return what === 'name' ? 'Please pick a name.' : 'Please give the room a name.';
    try { encodeURIComponent(name); } catch { return A + ' must be valid text (this one holds half a character).'; }
    const bytes = new TextEncoder().encode(name).length;
    if (bytes > 64) return A + ' is at most 64 bytes of UTF-8; this one has ' + bytes + '.';
    if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return A + ' may not hold control characters.';
    return '';
  }

  function start(name) {
    me = name;
    lastId = 0; attempt = 0; target = ''; lastEcho = null; awaiting = [];
    live = false; retrying = false; lastReason = ''; limits = null; listed = 0; held = null;
    ui.loginError.textContent = ui.roomError.textContent = '';
    setNote('');
    users.clear(); pending.clear(); sentSingles.clear(); convs.clear(); leftRooms.clear();
    users.add(me);
    ui.convs.replaceChildren();
    makeConv('', 'in');
    loadRooms(name);
    shown = '';
    ui.me.textContent = name;
    ui.login.hidden = true;
    ui.app.hidden = ui.meBox.hidden = false;
    show('');
    connect();
  }

  // Back to the name form, saying why where there is a reason.
  function leave(why = '') {
    if (saveTimer) saveRooms(); // under the name being left
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
