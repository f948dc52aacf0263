import type { SandboxState } from '../state.js';

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
  :root { --blue:#0a7cff; --grey:#e4e6eb; --text:#050505; --muted:#65676b; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  * { box-sizing: border-box; }
  body { margin:0; background:#f0f2f5; color:var(--text); }
  .app { max-width: 980px; margin: 0 auto; display:grid; grid-template-columns: 1fr 300px; gap:16px; padding:16px; height:100vh; }
  .phone { background:#fff; border-radius:12px; display:flex; flex-direction:column; overflow:hidden; box-shadow:0 1px 3px rgba(0,0,0,.15); }
  header { padding:12px 16px; border-bottom:1px solid var(--grey); display:flex; align-items:center; gap:10px; }
  header .avatar { width:36px; height:36px; border-radius:50%; background:var(--blue); color:#fff; display:grid; place-items:center; font-weight:700; }
  header .name { font-weight:600; } header .sub { font-size:12px; color:var(--muted); }
  #thread { flex:1; overflow-y:auto; padding:16px; display:flex; flex-direction:column; gap:6px; }
  .row { display:flex; } .row.user { justify-content:flex-end; }
  .bubble { max-width:70%; padding:8px 12px; border-radius:18px; white-space:pre-wrap; word-wrap:break-word; line-height:1.35; }
  .row.page .bubble { background:var(--grey); } .row.user .bubble { background:var(--blue); color:#fff; }
  .meta { font-size:11px; color:var(--muted); margin:2px 8px 6px; } .row.user + .meta { text-align:right; }
  .badge { display:inline-block; font-size:10px; font-weight:700; letter-spacing:.03em; color:#fff; background:#8a2be2; border-radius:4px; padding:1px 5px; margin-right:6px; vertical-align:middle; }
  .badge.recurring { background:#0b8457; }
  .system { align-self:center; font-size:12px; color:var(--muted); padding:2px 8px; }
  .card { width:280px; border:1px solid var(--grey); border-radius:18px; overflow:hidden; background:#fff; }
  .card img { width:100%; display:block; object-fit:cover; } .card img.HORIZONTAL { aspect-ratio:1.91/1; } .card img.SQUARE { aspect-ratio:1/1; }
  .card .body { padding:12px; } .card .title { font-weight:600; } .card .hint { font-size:12px; color:var(--muted); margin-top:4px; }
  .card button { width:100%; border:0; border-top:1px solid var(--grey); background:#fff; color:var(--blue); font-weight:600; padding:10px; cursor:pointer; font-size:14px; }
  .card button:disabled { color:var(--muted); cursor:default; }
  form { display:flex; gap:8px; padding:12px; border-top:1px solid var(--grey); }
  form input { flex:1; border:0; background:#f0f2f5; border-radius:18px; padding:10px 14px; font-size:14px; }
  form button, .side button { border:0; background:var(--blue); color:#fff; border-radius:18px; padding:8px 14px; font-weight:600; cursor:pointer; }
  .side { display:flex; flex-direction:column; gap:12px; overflow-y:auto; }
  .panel { background:#fff; border-radius:12px; padding:12px; box-shadow:0 1px 3px rgba(0,0,0,.15); }
  .panel h2 { font-size:14px; margin:0 0 8px; } .topic { border-top:1px solid var(--grey); padding:8px 0; font-size:13px; }
  .topic:first-of-type { border-top:0; } .topic .state { color:var(--muted); font-size:12px; margin:2px 0 6px; }
  .side button.secondary { background:var(--grey); color:var(--text); }
  #target { font-size:12px; color:var(--muted); word-break:break-all; }
  #status { font-size:12px; color:var(--muted); white-space:pre-wrap; } #status.error { color:#c00; }
  label { font-size:12px; color:var(--muted); } select { font-size:12px; }
  @media (max-width: 760px) { .app { grid-template-columns:1fr; height:auto; } .phone { height:80vh; } }
`;

/** The Messenger user's view of one Page. Plain DOM; all text goes through textContent. */
const SCRIPT = `
  const params = new URLSearchParams(location.search);
  const pageId = params.get('page');
  const psid = params.get('psid');
  const thread = document.getElementById('thread');
  const statusBox = document.getElementById('status');
  let lastSeq = 0;
  const cards = new Map();

  function el(tag, attrs = {}, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function time(ms) { return new Date(ms).toLocaleString(); }
  function setStatus(text, isError) { statusBox.textContent = text; statusBox.className = isError ? 'error' : ''; }

  async function api(path, body) {
    const res = await fetch(path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(json.error || ('HTTP ' + res.status));
    return json;
  }

  async function act(action, label) {
    try {
      const result = await api('/__sandbox/webhooks/trigger', { pageId, ...action });
      const cb = result.callback;
      setStatus(label + ': webhook ' + (cb.status ? 'answered HTTP ' + cb.status : 'not delivered (' + (cb.error || 'no callback') + ')'), !cb.status || cb.status >= 300);
      await poll();
    } catch (error) { setStatus(label + ' failed: ' + error.message, true); }
  }

  // Meta's receipts: the person's Messenger reports what it shows (message_deliveries) and what was read
  // (message_reads, here on "Mark as read"). Receipts change nothing on this page, so no re-poll follows.
  async function receipt(action, label) {
    try {
      const result = await api('/__sandbox/webhooks/trigger', { pageId, ...action });
      const cb = result.callback;
      setStatus(label + ' receipt: webhook ' + (cb.status ? 'answered HTTP ' + cb.status : 'not delivered (' + (cb.error || 'no callback') + ')'), !cb.status || cb.status >= 300);
    } catch (error) { setStatus(label + ' receipt failed: ' + error.message, true); }
  }

  function renderCard(item) {
    const c = item.card;
    const box = el('div', { class: 'card', 'data-mid': item.mid });
    if (c.imageUrl) {
      const img = el('img', { src: c.imageUrl, alt: '', class: c.imageAspectRatio || 'HORIZONTAL' });
      img.addEventListener('error', () => img.remove());
      box.append(img);
    }
    const body = el('div', { class: 'body' });
    body.append(el('div', { class: 'title' }, c.title));
    body.append(el('div', { class: 'hint' }, c.type === 'one_time'
      ? 'You\\'ll get one message when this is available.'
      : 'Get ' + String(c.frequency || 'DAILY').toLowerCase() + ' updates from this Page. You can stop these anytime.'));
    box.append(body);
    const choices = c.elements && c.elements.length > 1 ? c.elements : [null];
    for (const [index, element] of choices.entries()) {
      const label = element ? c.buttonLabel + ' (' + (element.title || element.frequency) + ')' : c.buttonLabel;
      const button = el('button', { type: 'button' }, label);
      button.addEventListener('click', () => {
        button.disabled = true;
        const action = c.type === 'one_time'
          ? { type: 'one_time_optin', psid, inReplyTo: item.mid }
          : { type: 'recurring_optin', psid, inReplyTo: item.mid, elementIndex: index };
        act(action, c.type === 'one_time' ? 'Notify me' : c.buttonLabel);
      });
      box.append(button);
    }
    cards.set(item.mid, { box, type: c.type });
    markAnswered(item.mid, c.answered);
    return box;
  }

  function markAnswered(mid, answered) {
    const card = cards.get(mid);
    if (!card || !answered) return;
    for (const button of card.box.querySelectorAll('button')) {
      button.disabled = true;
      button.textContent = card.type === 'one_time' ? '\\u2713 You\\'ll be notified' : '\\u2713 Subscribed';
    }
  }

  function renderItem(item) {
    if (item.from === 'user' && item.kind !== 'text' && item.kind !== 'postback') {
      const words = { one_time_optin: 'You asked to be notified: ', recurring_optin: 'You subscribed to: ', stop: 'You stopped: ', resume: 'You resumed: ' };
      thread.append(el('div', { class: 'system' }, (words[item.kind] || '') + item.text));
      return;
    }
    const row = el('div', { class: 'row ' + item.from, 'data-seq': String(item.seq) });
    if (item.kind === 'card') row.append(renderCard(item));
    else {
      const bubble = el('div', { class: 'bubble' });
      if (item.tokenKind) bubble.append(el('span', { class: 'badge ' + (item.tokenKind === 'RECURRING' ? 'recurring' : '') }, item.tokenKind === 'RECURRING' ? 'UPDATE' : 'NOTIFICATION'));
      bubble.append(document.createTextNode(item.text || ''));
      row.append(bubble);
    }
    thread.append(row);
    thread.append(el('div', { class: 'meta' }, time(item.at) + (item.tag ? ' \\u00b7 ' + item.tag : '')));
  }

  function renderTopics(topics) {
    const box = document.getElementById('topics');
    box.replaceChildren();
    if (topics.length === 0) { box.append(el('div', { class: 'state' }, 'No recurring subscriptions yet.')); return; }
    for (const topic of topics) {
      const row = el('div', { class: 'topic' });
      row.append(el('div', {}, topic.title));
      row.append(el('div', { class: 'state' }, topic.frequency + ' \\u00b7 ' + (topic.stopped ? 'stopped' : 'active') + (topic.nextEligibleAt ? ' \\u00b7 next ' + time(topic.nextEligibleAt) : '')));
      const stop = !topic.stopped;
      const button = el('button', { type: 'button', class: stop ? 'secondary' : '' }, stop ? 'Stop these messages' : 'Resume these messages');
      button.addEventListener('click', () => act({ type: 'recurring_status', token: topic.token, status: stop ? 'STOP' : 'RESUME', spelling: document.getElementById('spelling').value }, stop ? 'Stop' : 'Resume'));
      row.append(button);
      box.append(row);
    }
  }

  async function poll() {
    try {
      const data = await api('/__sandbox/pages/' + encodeURIComponent(pageId) + '/users/' + encodeURIComponent(psid) + '/thread?after=' + lastSeq);
      document.getElementById('page-name').textContent = data.page.name;
      document.getElementById('target').textContent = data.webhookUrl ? 'Webhooks go to ' + data.webhookUrl : 'No webhook URL set (PUT /__sandbox/webhook).';
      document.getElementById('avatar').textContent = data.page.name.slice(0, 1);
      const open = data.user.windowOpenUntil && data.user.windowOpenUntil > data.now;
      document.getElementById('window').textContent = data.user.name + ' \\u00b7 ' + (open ? '24h window open until ' + time(data.user.windowOpenUntil) : '24h window closed: send a message to open it');
      const atBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 40;
      // An action's poll can overlap the timer's, both asking after the same seq: whichever lands second skips what the
      // first one drew.
      for (const item of data.items) if (item.seq > lastSeq) renderItem(item);
      for (const mid of data.answered) markAnswered(mid, true);
      if (data.items.length && atBottom) thread.scrollTop = thread.scrollHeight;
      lastSeq = data.lastSeq;
      renderTopics(data.topics);
      // A notification on screen is a delivered message: report it as Messenger does.
      if (data.items.some((item) => item.from === 'page' && item.tokenKind)) receipt({ type: 'delivery', psid }, 'Delivery');
    } catch (error) { setStatus('Cannot load this conversation: ' + error.message, true); }
  }

  document.getElementById('composer').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = document.getElementById('text');
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    act({ type: 'message', psid, text }, 'Message');
  });

  document.getElementById('read').addEventListener('click', () => receipt({ type: 'read', psid }, 'Read'));

  if (!pageId || !psid) setStatus('Open this page as /user?page=<page id>&psid=<psid>.', true);
  else { poll(); setInterval(poll, 700); }
`;

export function userPageHtml(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Messenger sandbox: user view</title><style>${STYLE}</style></head>
<body><div class="app">
  <main class="phone" aria-label="Conversation">
    <header><div class="avatar" id="avatar">?</div><div><div class="name" id="page-name">Loading…</div><div class="sub" id="window"></div></div></header>
    <div id="thread" role="log" aria-live="polite"></div>
    <form id="composer"><input id="text" autocomplete="off" placeholder="Aa — message the Page (opens the 24h window)" aria-label="Message"><button type="submit">Send</button></form>
  </main>
  <aside class="side">
    <section class="panel"><h2>Your subscriptions</h2><div id="topics"></div></section>
    <section class="panel"><h2>Sandbox</h2>
      <label for="spelling">Stop/resume wire value</label><br>
      <select id="spelling"><option value="space">STOP NOTIFICATIONS (Meta docs)</option><option value="underscore">STOP_NOTIFICATIONS</option></select>
      <p><button type="button" id="read" class="secondary">Mark as read</button></p>
      <p id="target" class="state"></p>
      <p id="status">Every click here is sent to the webhook URL as a signed Meta webhook.</p>
    </section>
  </aside>
</div><script>${SCRIPT}</script></body></html>`;
}

export function indexPageHtml(state: SandboxState): string {
  const rows = [...state.pages.values()]
    .map((page) => {
      const firstUsers = [];
      for (const user of page.users.values()) {
        if (firstUsers.length === 50) break;
        firstUsers.push(user);
      }
      const users = firstUsers
        .map(
          (user) =>
            `<li><a href="/user?page=${encodeURIComponent(page.id)}&amp;psid=${encodeURIComponent(user.psid)}">${escapeHtml(user.name)} (${escapeHtml(user.psid)})</a></li>`,
        )
        .join('');
      const more = page.users.size > 50 ? `<li>… and ${page.users.size - 50} more</li>` : '';
      return `<section class="panel"><h2>${escapeHtml(page.name)} <small>${escapeHtml(page.id)}</small></h2><ul>${users || '<li>No users yet.</li>'}${more}</ul></section>`;
    })
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Messenger sandbox</title><style>${STYLE} .index{max-width:720px;margin:24px auto;display:flex;flex-direction:column;gap:12px;padding:0 16px}</style></head>
<body><div class="index"><h1>Messenger sandbox</h1><p>Pick a user to play. Pages and users are created through the control API under <code>/__sandbox</code>.</p>${rows || '<p>No Pages yet.</p>'}</div></body></html>`;
}
