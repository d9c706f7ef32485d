// Import: a CSV export from the existing CRM read by the server (encoding,
// delimiter, header, columns, the mapping that fits best), each field mapped
// to a column by the admin, a dry run, then the import. docs/imports.md.

import { api, get, items } from '../api.js';
import { field, h, mount, number, select } from '../dom.js';
import { act, notify } from '../messages.js';

const KINDS = [['contacts', 'Contacts'], ['transactions', 'Transactions']];
const DATES = [['', 'Unambiguous dates only'], ['mdy', 'Month first (03/04 is March 4)'], ['dmy', 'Day first (03/04 is 3 April)']];

export async function renderImports(root, ctx) {
  root.append(h('div', { class: 'view-head' }, h('h1', null, 'Import')));
  if (!ctx.can('admin')) {
    root.append(h('p', { class: 'empty' }, 'Only admins import customer data.'));
    return;
  }
  const [presets, saved] = await Promise.all([get('/imports/presets'), get('/imports/mappings')]);
  const kind = select('kind', KINDS, 'contacts');
  const file = h('input', { type: 'file', name: 'file', accept: '.csv,.txt,text/csv', required: true });
  const mapping = h('select', { name: 'mapping' });
  const fillMappings = () => {
    const forKind = (list) => list.filter((m) => m.kind === kind.value).map((m) => m.name);
    mount(mapping,
      h('option', { value: '' }, 'Whatever fits the columns best'),
      forKind(items(presets)).map((n) => h('option', { value: n }, `${n} (preset)`)),
      forKind(items(saved)).map((n) => h('option', { value: n }, n)));
  };
  fillMappings();
  kind.addEventListener('change', fillMappings);
  const read = h('button', { type: 'submit', class: 'primary' }, 'Read the file');
  const result = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card', 'aria-labelledby': 'import-title' },
    h('h2', { id: 'import-title' }, 'A CSV export'),
    field('What the file holds', kind),
    field('File', file, 'UTF-8 (with or without BOM) or Windows-1252; comma, semicolon, tab or | between fields.'),
    field('Mapping', mapping, 'A preset for the exports of HubSpot, Salesforce or Shopify, or a mapping saved here.'),
    h('div', { class: 'actions' }, read));
  root.append(form, result);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    result.replaceChildren();
    const params = new URLSearchParams({ kind: kind.value });
    if (mapping.value) params.set('mapping', mapping.value);
    const detected = await act(read, () => api('POST', `/imports/detect?${params}`, { body: chosen }));
    // A mapping saved below is offered here at once.
    const saved = (name) => {
      if (![...mapping.options].some((o) => o.value === name)) mapping.append(h('option', { value: name }, name));
    };
    if (detected) mount(result, mapper(detected, kind.value, chosen, saved));
  });
}

/** The detected file, a column for each field, and the buttons that run it. */
function mapper(found, kind, file, onSaved) {
  const fields = (found.mapping && found.mapping.fields) || {};
  const columns = found.columns;
  const selects = found.targets.map((t) => {
    const suggested = (fields[t.name] || []).join('+');
    const options = [['', '— not imported']].concat(columns.filter((c) => c !== '').map((c) => [c, c]));
    if (suggested.includes('+')) options.push([suggested, suggested.replaceAll('+', ' + ')]);
    const control = select(`map-${t.name}`, options, suggested);
    control.dataset.target = t.name;
    return [t, control];
  });
  const dates = select('dates', DATES, (found.mapping && found.mapping.dates) || '');
  const currency = h('input', { name: 'default_currency', maxlength: 3, size: 4, value: (found.mapping && found.mapping.currency) || '', placeholder: 'EUR' });
  const defaultKind = h('input', { name: 'default_kind', value: (found.mapping && found.mapping.kind) || '', placeholder: 'purchase' });
  const report = h('div', { 'aria-live': 'polite' });

  const pairs = () => selects.filter(([, s]) => s.value).map(([t, s]) => [t.name, s.value]);
  const run = async (button, dry) => {
    const params = new URLSearchParams();
    for (const [target, source] of pairs()) params.append('map', `${source}=${target}`);
    if (dates.value) params.set('dates', dates.value);
    if (currency.value.trim()) params.set('default_currency', currency.value.trim());
    if (defaultKind.value.trim()) params.set('default_kind', defaultKind.value.trim());
    if (dry) params.set('dry_run', 'true');
    const done = await act(button, () => api('POST', `/imports/${kind}?${params}`, { body: file }));
    if (done) mount(report, outcome(done));
  };
  const dry = h('button', { type: 'button' }, 'Dry run');
  const go = h('button', { type: 'button', class: 'primary' }, 'Import');
  dry.addEventListener('click', () => run(dry, true));
  go.addEventListener('click', () => run(go, false));

  const name = h('input', { name: 'mapping_name', pattern: '[A-Za-z0-9._\\-]{1,64}', placeholder: 'acme-crm' });
  const save = h('button', { type: 'button' }, 'Save the mapping');
  save.addEventListener('click', async () => {
    const mapping = { fields: Object.fromEntries(pairs().map(([t, s]) => [t, s.split('+')])) };
    if (dates.value) mapping.dates = dates.value;
    if (currency.value.trim()) mapping.currency = currency.value.trim();
    if (defaultKind.value.trim()) mapping.kind = defaultKind.value.trim();
    const stored = await act(save, () => api('PUT', `/imports/mappings/${encodeURIComponent(name.value.trim())}`, { body: { kind, mapping } }),
      `Saved the mapping ${name.value.trim()}.`);
    if (stored) onSaved(stored.name);
  });

  const f = found.format;
  const fit = found.best_fit ? `${found.best_fit.name} (reads ${number(found.best_fit.columns_read, 0)} of ${number(columns.length, 0)} columns)` : 'none';
  return h('div', null,
    h('section', { class: 'card', 'aria-labelledby': 'file-title' },
      h('h2', { id: 'file-title' }, file.name),
      h('p', null, `Read as ${f.encoding}, “${f.delimiter}” between fields, header on line ${f.header_line}. Best fit: ${fit}.`),
      h('div', { class: 'table-wrap' }, h('table', { class: 'sample' },
        h('caption', null, 'The first rows'),
        h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, found.sample.map((row) => h('tr', null, row.map((v) => h('td', null, v)))))))),
    h('form', { class: 'card mapping', 'aria-labelledby': 'mapping-title', onSubmit: (e) => e.preventDefault() },
      h('h2', { id: 'mapping-title' }, `Which column fills each ${kind === 'contacts' ? 'contact' : 'transaction'} field`),
      selects.map(([t, s]) => field(t.required ? `${t.name} (required)` : t.name, s)),
      kind === 'transactions' ? field('Dates like 03/04/2024', dates) : null,
      kind === 'transactions' ? field('Currency when a row has none', currency) : null,
      kind === 'transactions' ? field('Kind when a row has none', defaultKind) : null,
      h('div', { class: 'actions' }, dry, go),
      h('div', { class: 'inline-form' }, field('Save as', name), save)),
    report);
}

/** An import's report: counts and the rows refused, by line. */
function outcome(r) {
  if (!r.dry_run) notify(`Imported: ${r.created} created, ${r.updated} updated.`, 'success');
  const verb = r.dry_run ? 'would be ' : '';
  return h('section', { class: 'card', 'aria-labelledby': 'report-title', 'data-dry-run': String(r.dry_run) },
    h('h2', { id: 'report-title' }, r.dry_run ? 'Dry run: nothing was written' : 'Imported'),
    h('p', { class: 'counts' },
      `${number(r.read, 0)} rows read, ${number(r.created, 0)} ${verb}created, ${number(r.updated, 0)} ${verb}updated, `
      + `${number(r.unchanged, 0)} unchanged, ${number(r.rejected.length, 0)} rejected.`),
    r.ignored_columns.length ? h('p', { class: 'muted' }, `Ignored columns: ${r.ignored_columns.join(', ')}.`) : null,
    r.rejected.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'rejected' },
      h('caption', null, 'Rows not imported'),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Line'), h('th', { scope: 'col' }, 'Reason'))),
      h('tbody', null, r.rejected.map((x) => h('tr', null, h('td', null, String(x.line)), h('td', null, x.reason))))))
      : null);
}
