// The inbox: open posts by priority, filtered from the hash's query, each with
// its badges, priority explanation, author and contact, and the agent's
// actions (assign to me, close, reply with the reply's status and retry).
// A post's reply panel shows its conversation (the thread or direct-message
// history with the brand's replies) and, on messaging channels, whether free
// text may still be sent, with a form that answers with a template the
// network approved (the only answer once the window has closed).
// `#/inbox/ID` opens one post with its panel.

import { get, items, post } from '../api.js';
import { badge, field, h, loading, mount, number, select, sentimentBadge, time } from '../dom.js';
import { act, errorBox } from '../messages.js';

const INTENTS = ['complaint', 'question', 'praise', 'purchase-intent', 'churn-risk', 'support-request'];
const FILTERS = ['status', 'channel', 'sentiment', 'intent', 'signal', 'sort'];

export async function renderInbox(root, ctx) {
  if (ctx.args[0]) return renderPost(root, ctx, ctx.args[0]);
  const filter = Object.fromEntries(FILTERS.map((k) => [k, ctx.params.get(k) ?? '']));
  const list = h('ol', { class: 'posts', 'aria-label': 'Posts' });
  const more = h('div', { class: 'more' });
  root.append(
    h('div', { class: 'view-head' }, h('h1', null, 'Inbox')),
    await filters(filter, ctx),
    list,
    more,
  );
  await page(list, more, filter, null, ctx);
}

/** One post, its reply panel open (a conversation opened from the customer 360). */
async function renderPost(root, ctx, id) {
  const back = h('p', null, h('a', { href: '#/inbox' }, '← Inbox'));
  root.append(back, loading('Loading the post'));
  let p;
  try {
    p = await get(`/posts/${encodeURIComponent(id)}`);
  } catch (e) {
    mount(root, back, errorBox(e, 'Cannot load this post'));
    if (e.status === 401) throw e;
    return;
  }
  mount(root,
    back,
    h('div', { class: 'view-head' }, h('h1', null, 'Post'), h('span', { class: 'muted' }, `${p.channel} · ${p.kind}`)),
    h('ol', { class: 'posts', 'aria-label': 'Posts' }, postCard(p, ctx, { open: true })));
}

async function filters(current, ctx) {
  // The channel filter offers the accounts there are; without them it still works as text.
  let channels = [];
  try {
    channels = items(await get('/channels')).map((c) => c.name);
  } catch (e) {
    if (e.status === 401) throw e;
  }
  const controls = {
    status: select('status', [['open', 'Open'], ['closed', 'Closed']], current.status || 'open'),
    channel: channels.length
      ? select('channel', [['', 'All channels'], ...channels], current.channel)
      : h('input', { name: 'channel', value: current.channel, placeholder: 'any' }),
    sentiment: select('sentiment', [['', 'Any'], 'negative', 'neutral', 'positive'], current.sentiment),
    intent: select('intent', [['', 'Any'], ...INTENTS], current.intent),
    // A custom signal an analyzer declares: `urgency`, `urgency>=0.5`, `tone:polite`.
    signal: h('input', { name: 'signal', value: current.signal, placeholder: 'urgency>=0.5', pattern: '[a-z0-9\\-]{1,64}((>=)-?[0-9]+(\\.[0-9]+)?|:[a-z0-9\\-]{1,64})?' }),
    sort: select('sort', [['priority', 'Priority'], ['newest', 'Newest']], current.sort || 'priority'),
  };
  const form = h('form', { class: 'filters', 'aria-label': 'Filter the inbox' },
    field('Status', controls.status),
    field('Channel', controls.channel),
    field('Sentiment', controls.sentiment),
    field('Intent', controls.intent),
    field('Signal', controls.signal),
    field('Sort by', controls.sort),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Apply')));
  const apply = (event) => {
    event.preventDefault();
    const q = new URLSearchParams();
    for (const [k, control] of Object.entries(controls)) {
      if (control.value && !(k === 'status' && control.value === 'open') && !(k === 'sort' && control.value === 'priority')) {
        q.set(k, control.value);
      }
    }
    const text = q.toString();
    ctx.navigate(text ? `#/inbox?${text}` : '#/inbox');
  };
  form.addEventListener('submit', apply);
  // Selects apply at once; the text input on submit.
  for (const control of Object.values(controls)) {
    if (control.tagName === 'SELECT') control.addEventListener('change', apply);
  }
  return form;
}

async function page(list, more, filter, cursor, ctx) {
  const wait = loading('Loading posts');
  more.replaceChildren(wait);
  let answer;
  try {
    answer = await get('/posts', { ...filter, cursor, limit: 25 });
  } catch (e) {
    mount(more, errorBox(e, 'Cannot load the inbox'));
    if (e.status === 401) throw e;
    return;
  }
  const posts = items(answer);
  if (!cursor && posts.length === 0) {
    list.replaceWith(h('p', { class: 'empty' }, 'No posts match these filters.'));
  }
  for (const p of posts) list.append(postCard(p, ctx));
  more.replaceChildren();
  if (answer && answer.next_cursor) {
    const button = h('button', { type: 'button' }, 'Load more');
    button.addEventListener('click', () => page(list, more, filter, answer.next_cursor, ctx));
    more.append(button);
  }
}

function author(p) {
  const a = p.author || {};
  const name = a.display_name || a.handle;
  return h('div', { class: 'author' },
    h('strong', null, name),
    a.display_name ? h('span', { class: 'muted' }, ` @${a.handle}`) : null,
    h('span', { class: 'muted' }, ` · ${a.network}`),
    a.followers ? h('span', { class: 'muted' }, ` · ${number(a.followers, 0)} followers`) : null);
}

function contactLink(p) {
  if (!p.contact) return h('span', { class: 'contact muted' }, 'No linked customer');
  return h('a', { class: 'contact', href: `#/contacts/${p.contact.id}` },
    `Customer 360: ${p.contact.name || `contact ${p.contact.id}`}`);
}

function postCard(p, ctx, { open = false } = {}) {
  const card = h('li', { class: 'card post', 'data-post': p.id });
  const render = (current, opened = false) => {
    mount(card, cardBody(current, ctx, render, opened));
  };
  render(p, open);
  return card;
}

function cardBody(p, ctx, rerender, open = false) {
  const head = h('div', { class: 'post-head' },
    h('div', null, author(p), contactLink(p)),
    h('div', { class: 'priority', title: 'Inbox priority' },
      h('span', { class: 'priority-value' }, p.priority === null || p.priority === undefined ? '—' : number(p.priority, 1)),
      h('span', { class: 'priority-label' }, 'priority')));
  const meta = h('div', { class: 'badges' },
    sentimentBadge(p.sentiment_label, p.sentiment),
    p.intent ? badge(p.intent_confidence ? `${p.intent} ${Math.round(p.intent_confidence * 100)}%` : p.intent, 'intent') : null,
    p.topics.map((t) => badge(`#${t}`, 'topic')),
    (p.signals || []).map((s) => badge(`${s.name}: ${s.value}`, 'signal')),
    p.inbox_status === 'closed' ? badge('closed', 'muted') : null,
    p.assignee ? badge(`assigned to ${p.assignee}`, 'assignee') : null);
  const body = h('blockquote', { class: 'post-text' }, p.text);
  const foot = h('div', { class: 'post-foot muted' },
    h('span', null, p.channel, ' · ', p.kind, ' · '),
    p.url ? h('a', { href: p.url, rel: 'noopener noreferrer', target: '_blank' }, time(p.created_at)) : time(p.created_at));
  const why = p.priority_explanation
    ? h('p', { class: 'explanation' }, h('span', { class: 'muted' }, 'Why: '), p.priority_explanation)
    : null;
  const replies = h('div', { class: 'replies', hidden: true });
  const actions = h('div', { class: 'actions' });
  if (ctx.can('agent')) {
    const mine = p.assignee === ctx.me.name;
    const assign = h('button', { type: 'button' }, mine ? 'Unassign' : 'Assign to me');
    assign.addEventListener('click', async () => {
      const updated = await act(assign, () => post(`/posts/${p.id}/assign`, { assignee: mine ? null : ctx.me.name }),
        mine ? 'Unassigned.' : 'Assigned to you.');
      if (updated) rerender(updated);
    });
    const closed = p.inbox_status === 'closed';
    const close = h('button', { type: 'button' }, closed ? 'Reopen' : 'Close');
    close.addEventListener('click', async () => {
      const updated = await act(close, () => post(`/posts/${p.id}/${closed ? 'reopen' : 'close'}`),
        closed ? 'Reopened.' : 'Closed.');
      if (updated) rerender(updated);
    });
    actions.append(assign, close);
  }
  const toggle = h('button', { type: 'button', 'aria-expanded': 'false', 'aria-controls': `post-${p.id}-replies` },
    ctx.can('agent') ? 'Reply' : 'Replies');
  replies.id = `post-${p.id}-replies`;
  toggle.addEventListener('click', () => {
    const opening = replies.hidden;
    replies.hidden = !opening;
    toggle.setAttribute('aria-expanded', String(opening));
    if (opening && !replies.dataset.loaded) {
      replies.dataset.loaded = '1';
      replyPanel(replies, p, ctx);
    }
  });
  actions.append(toggle);
  if (open) toggle.click();
  return [head, meta, body, why, foot, actions, replies];
}

const REPLY_KIND = { sent: 'positive', failed: 'negative', queued: 'muted' };

/** The name of the template a reply was sent as (a name, or a template object), if any. */
function templateName(r) {
  const t = r.template;
  return typeof t === 'string' ? t : (t && typeof t.name === 'string' ? t.name : null);
}

/** A reply as the conversation lists it, in the shape of a stored reply. */
function asReply(m) {
  return {
    id: m.reply_id, status: m.status, text: m.text, error: m.error, template: m.template,
    created_by: m.created_by, created_at: m.created_at, url: null,
  };
}

function replyItem(r, ctx) {
  const li = h('li', { class: 'reply', 'data-reply': r.id, 'data-status': r.status });
  const render = (current) => {
    li.dataset.status = current.status;
    const retry = current.status !== 'sent' && ctx.can('agent')
      ? h('button', { type: 'button', class: 'small' }, 'Retry')
      : null;
    if (retry) {
      retry.addEventListener('click', async () => {
        const updated = await act(retry, () => post(`/replies/${current.id}/retry`),
          (u) => (u.status === 'sent' ? 'Reply sent.' : `Reply ${u.status}.`));
        if (updated) render(updated);
      });
    }
    mount(li,
      h('div', { class: 'reply-head' },
        badge(current.status, REPLY_KIND[current.status] || 'muted'),
        templateName(current) ? [' ', badge(`template ${templateName(current)}`, 'muted')] : null,
        h('span', { class: 'muted' }, ` by ${current.created_by} · `), time(current.created_at),
        current.url ? [' · ', h('a', { href: current.url, rel: 'noopener noreferrer', target: '_blank' }, 'on the network')] : null),
      h('p', null, current.text),
      current.error ? h('p', { class: 'reply-error' }, `Not sent: ${current.error}`) : null,
      retry);
  };
  render(r);
  return li;
}

/** A post of the conversation: author, time, kind and text (none for a tombstone). */
function messageItem(m, current) {
  const a = m.author || {};
  const name = a.display_name || a.handle;
  return h('li', {
    class: 'timeline-item message', 'data-message': m.post_id, 'data-direction': m.direction,
    'aria-current': current ? 'true' : null,
  },
  h('div', { class: 'post-foot muted' },
    h('strong', null, name), a.display_name ? ` @${a.handle}` : '', ' · ', time(m.created_at), ` · ${m.kind}`,
    m.direction === 'outbound' ? ' · ours' : '', current ? ' · this post' : ''),
  m.tombstone
    ? h('p', { class: 'muted' }, h('em', null, 'This message was deleted.'))
    : h('p', null, m.text));
}

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayAndClock = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** Whether free text may still be sent (messaging channels report a window). */
function replyWindow(w) {
  if (!w) return null;
  const until = new Date(w.open_until);
  const today = until.toDateString() === new Date().toDateString();
  return w.open
    ? h('p', { class: 'reply-window', 'data-window': 'open' },
      badge('window open', 'positive'), ` Free text until ${(today ? clock : dayAndClock).format(until)}.`)
    : h('p', { class: 'reply-window', 'data-window': 'closed' },
      badge('window closed', 'warning'), ' Window closed: only a template can be sent.');
}

/**
 * The conversation above the reply box: its posts and the brand's replies,
 * oldest first, into `list`; the conversation (its channel and reply window),
 * or null. Falls back to the post's own replies when the conversation cannot
 * be read.
 */
async function conversation(panel, list, p, ctx) {
  try {
    const c = await get(`/posts/${p.id}/conversation`);
    if (c.truncated) list.before(h('p', { class: 'muted small' }, 'Older messages are not shown: the newest 200 are.'));
    for (const m of c.messages) {
      list.append(m.entry === 'reply' ? replyItem(asReply(m), ctx) : messageItem(m, m.post_id === p.id));
    }
    return c;
  } catch (e) {
    panel.append(errorBox(e, 'Cannot load the conversation'));
    // A 401 has logged out already.
    if (e.status === 401) return null;
  }
  try {
    for (const r of items(await get(`/posts/${p.id}/replies`))) list.append(replyItem(r, ctx));
  } catch (e) {
    panel.append(errorBox(e, 'Cannot load the replies'));
  }
  return null;
}

async function replyPanel(panel, p, ctx) {
  const list = h('ol', { class: 'reply-list conversation', 'aria-label': 'Conversation' });
  const status = h('div', { class: 'reply-status', 'aria-live': 'polite' });
  panel.append(h('h3', { class: 'small muted' }, `Conversation on ${p.channel}`), list);
  const c = await conversation(panel, list, p, ctx);
  // Only a messaging conversation has a reply window.
  const win = c && c.window ? c.window : null;
  if (win) panel.append(replyWindow(win));
  if (!ctx.can('agent')) {
    if (!list.children.length) list.replaceWith(h('p', { class: 'muted' }, 'No messages yet.'));
    return;
  }
  // After the window, the network takes no free text: the box stays, disabled, saying why.
  const closed = Boolean(win && !win.open);
  const text = h('textarea', { name: 'text', rows: '3', required: true, maxlength: '10000', disabled: closed });
  const send = h('button', { type: 'submit', class: 'primary', disabled: closed }, 'Send reply');
  const form = h('form', { class: 'reply-form' },
    field(`Reply to @${(p.author && p.author.handle) || 'author'} on ${p.channel}`, text,
      closed ? 'The reply window is closed: free text cannot be sent. Send a template below.' : null),
    status,
    h('div', { class: 'actions' }, send));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    status.replaceChildren();
    send.disabled = true;
    try {
      // No idempotency key: the server derives one from post and text, so a
      // repeated submit returns the same reply instead of sending it twice.
      const reply = await post(`/posts/${p.id}/replies`, { text: text.value });
      list.append(replyItem(reply, ctx));
      if (reply.status === 'sent') {
        text.value = '';
        status.append(h('p', { class: 'ok' }, 'Reply sent.'));
      } else {
        status.append(h('p', { class: 'reply-error' }, `Reply ${reply.status}${reply.error ? `: ${reply.error}` : ''}. Use Retry.`));
      }
    } catch (e) {
      status.append(errorBox(e, 'The reply was not sent'));
    } finally {
      send.disabled = false;
    }
  });
  panel.append(form);
  if (win) panel.append(await templateForm(p, c.channel || p.channel, list, ctx));
}

/** The highest placeholder `{{n}}` of a template's body: how many parameters it takes. */
function placeholders(body) {
  let count = 0;
  for (const m of String(body || '').matchAll(/\{\{\s*(\d+)\s*\}\}/g)) count = Math.max(count, Number(m[1]));
  return count;
}

/** A template's body with the values typed so far in place of their placeholders. */
function filled(body, values) {
  return String(body || '').replace(/\{\{\s*(\d+)\s*\}\}/g, (whole, n) => values[Number(n) - 1] || whole);
}

/**
 * "Send a template": the channel's approved templates (a messaging
 * network's), the chosen one's body as a preview, one input per placeholder;
 * the reply it sends joins the conversation like a free-text one.
 */
async function templateForm(p, channel, list, ctx) {
  const section = h('div', { class: 'template-reply' },
    h('h3', { class: 'small muted' }, 'Send a template'),
    loading('Loading the templates'));
  const heading = section.firstElementChild;
  let templates;
  try {
    templates = items(await get(`/channels/${encodeURIComponent(channel)}/templates`));
  } catch (e) {
    // A 401 has logged out already.
    return mount(section, heading, errorBox(e, 'Cannot load the templates'));
  }
  if (!templates.length) {
    return mount(section, heading, h('p', { class: 'muted' }, `No template is approved for ${channel}: ask the network to approve one.`));
  }
  const choice = select('template', templates.map((t, i) => [String(i), `${t.name} (${t.language})`]), '0');
  const category = h('span', null);
  const preview = h('blockquote', { class: 'post-text', 'aria-label': 'Template preview' });
  const params = h('div', { class: 'template-parameters' });
  const status = h('div', { class: 'reply-status', 'aria-live': 'polite' });
  const send = h('button', { type: 'submit', class: 'primary' }, 'Send template');
  const chosen = () => templates[Number(choice.value)] || templates[0];
  const inputs = () => [...params.querySelectorAll('input')];
  const showPreview = () => {
    preview.textContent = filled(chosen().body, inputs().map((i) => i.value));
  };
  const showTemplate = () => {
    const t = chosen();
    mount(category, t.category ? badge(String(t.category).toLowerCase(), 'muted') : null);
    mount(params, Array.from({ length: placeholders(t.body) }, (_, i) => field(`Value of {{${i + 1}}}`,
      h('input', { name: `parameter-${i + 1}`, required: true, maxlength: '1024', onInput: showPreview }))));
    showPreview();
  };
  choice.addEventListener('change', () => {
    status.replaceChildren();
    showTemplate();
  });
  showTemplate();
  const form = h('form', { class: 'reply-form', 'aria-label': 'Send a template' },
    field('Template', choice),
    h('div', { class: 'badges' }, category),
    preview,
    params,
    status,
    h('div', { class: 'actions' }, send));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    status.replaceChildren();
    send.disabled = true;
    const t = chosen();
    try {
      // No idempotency key: the server derives one from post, template and
      // values, so a repeated submit returns the same reply.
      const reply = await post(`/posts/${p.id}/template-replies`,
        { name: t.name, language: t.language, parameters: inputs().map((i) => i.value) });
      list.append(replyItem(reply, ctx));
      if (reply.status === 'sent') {
        for (const input of inputs()) input.value = '';
        showPreview();
        status.append(h('p', { class: 'ok' }, 'Template sent.'));
      } else {
        status.append(h('p', { class: 'reply-error' }, `Template ${reply.status}${reply.error ? `: ${reply.error}` : ''}. Use Retry.`));
      }
    } catch (e) {
      status.append(errorBox(e, 'The template was not sent'));
    } finally {
      send.disabled = false;
    }
  });
  return mount(section, heading, form);
}
