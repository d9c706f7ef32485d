// The identity review queue: proposed links between a social identity and a
// CRM contact, with the evidence behind each, to confirm or reject.

import { get, items, post } from '../api.js';
import { badge, h, loading, mount, number, percent, select, time } from '../dom.js';
import { act, errorBox } from '../messages.js';

const STATUSES = [['proposed', 'To review'], ['confirmed', 'Confirmed'], ['rejected', 'Rejected']];

export async function renderIdentity(root, ctx) {
  const status = ctx.params.get('status') || 'proposed';
  const picker = select('status', STATUSES, status);
  picker.id = 'identity-status';
  picker.addEventListener('change', () => ctx.navigate(`#/identity?status=${picker.value}`));
  const list = h('ol', { class: 'links', 'aria-label': 'Identity links' });
  const more = h('div', { class: 'more' });
  root.append(
    h('div', { class: 'view-head' },
      h('h1', null, 'Identity review'),
      h('div', { class: 'inline-field' }, h('label', { for: picker.id }, 'Show'), picker)),
    h('p', { class: 'muted' },
      'Links found with weak or ambiguous evidence wait here. Confirming one ties the identity’s posts to the customer.'),
    list, more);
  await page(list, more, status, null, ctx);
}

async function page(list, more, status, cursor, ctx) {
  more.replaceChildren(loading('Loading links'));
  let answer;
  try {
    answer = await get('/identity-links', { status, cursor, limit: 25 });
  } catch (e) {
    mount(more, errorBox(e, 'Cannot load the review queue'));
    if (e.status === 401) throw e;
    return;
  }
  const links = items(answer);
  more.replaceChildren();
  if (!cursor && !links.length) {
    list.replaceWith(h('p', { class: 'empty' }, status === 'proposed' ? 'Nothing to review.' : `No ${status} links.`));
    return;
  }
  for (const link of links) list.append(linkCard(link, ctx));
  if (answer && answer.next_cursor) {
    const button = h('button', { type: 'button' }, 'Load more');
    button.addEventListener('click', () => page(list, more, status, answer.next_cursor, ctx));
    more.append(button);
  }
}

const KIND = { confirmed: 'positive', proposed: 'warning', rejected: 'negative' };

function evidenceList(evidence) {
  if (!evidence || !evidence.length) return h('p', { class: 'muted' }, 'No evidence recorded.');
  return h('table', { class: 'evidence' },
    h('caption', { class: 'sr-only' }, 'Evidence'),
    h('thead', null, h('tr', null, ['Evidence', 'Value', 'Found in', 'Weight'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', null, evidence.map((e) => h('tr', null,
      h('td', null, e.kind, e.ambiguous ? [' ', badge(`ambiguous: ${e.matches ?? 'several'} contacts`, 'warning')] : null),
      h('td', null, h('code', null, e.value)),
      h('td', null, e.source),
      h('td', { class: 'num' }, number(e.weight))))));
}

function linkCard(link, ctx) {
  const li = h('li', { class: 'card link', 'data-link': link.id });
  const render = (l) => {
    const decide = (action, label) => {
      const button = h('button', { type: 'button', class: action === 'confirm' ? 'primary' : action === 'reject' ? 'danger' : '' }, label);
      button.addEventListener('click', async () => {
        const updated = await act(button, () => post(`/identity-links/${l.id}/${action}`), `Link ${l.id}: ${label.toLowerCase()}ed.`);
        if (updated) render(updated);
      });
      return button;
    };
    // A link for the customer to confirm themselves: shown once, to send to
    // an address on the contact's record (not to the social account).
    const sent = h('div', { class: 'verification' });
    const verify = () => {
      const button = h('button', { type: 'button' }, 'Verification link');
      button.addEventListener('click', async () => {
        const made = await act(button, () => post(`/identity-links/${l.id}/verification`), 'Verification link made.');
        if (!made) return;
        const url = `${window.location.origin}${made.path}`;
        mount(sent,
          h('label', null, 'Send this to an address on the contact\'s record (it works once, until ', time(made.expires_at), '):',
            h('input', { type: 'text', readonly: '', value: url, 'aria-label': 'Verification link' })));
      });
      return button;
    };
    const buttons = [];
    if (ctx.can('agent')) {
      if (l.status === 'proposed') buttons.push(decide('confirm', 'Confirm'), decide('reject', 'Reject'), verify());
      if (l.status === 'confirmed') buttons.push(decide('unlink', 'Unlink'));
    }
    mount(li,
      h('div', { class: 'link-head' },
        h('div', null,
          h('strong', null, l.display_name || l.handle), h('span', { class: 'muted' }, ` @${l.handle} · ${l.network}`)),
        h('span', { class: 'arrow', 'aria-hidden': 'true' }, '→'),
        h('div', null,
          h('a', { href: `#/contacts/${l.contact_id}` }, l.contact_name || `contact ${l.contact_id}`),
          h('span', { class: 'muted' }, ` · CRM id ${l.contact_external_id}`))),
      h('div', { class: 'badges' },
        badge(l.status, KIND[l.status] || 'muted'),
        badge(`confidence ${percent(l.confidence)}`, 'muted'),
        badge(l.method, 'muted'),
        l.decided_by ? h('span', { class: 'muted' }, `decided by ${l.decided_by} · `, time(l.decided_at)) : null),
      evidenceList(l.evidence),
      buttons.length ? h('div', { class: 'actions' }, buttons) : null,
      sent);
  };
  render(link);
  return li;
}
