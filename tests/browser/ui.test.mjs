// Browser test of the web UI: starts `socialcrm demo` on a free port with a
// fresh data directory, then drives headless Chromium through the main flows.
// Run by `cargo xtask browser-test` (which builds the binary and the plugins);
// screenshots go to target/browser/.
//
// Environment: SOCIALCRM_BIN (default target/debug/socialcrm),
// SOCIALCRM_CHROMIUM (default /usr/bin/chromium).

import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = process.env.SOCIALCRM_BIN || join(root, 'target/debug/socialcrm');
const browserPath = process.env.SOCIALCRM_CHROMIUM || '/usr/bin/chromium';
const shots = join(root, 'target/browser');
const TIMEOUT = 15_000;

mkdirSync(shots, { recursive: true });
rmSync(join(shots, 'failure.png'), { force: true });
const work = mkdtempSync(join(tmpdir(), 'socialcrm-browser-'));

/** Starts the demo and resolves to its URL and admin token, from its stdout. */
function startDemo() {
  const child = spawn(bin, ['demo', '--listen', '127.0.0.1:0', '--data-dir', join(work, 'data')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  let output = '';
  const ready = new Promise((resolveReady, reject) => {
    const found = {};
    const timer = setTimeout(() => reject(new Error(`the demo did not print its URL and token in 180 s:\n${output}`)), 180_000);
    const read = (chunk) => {
      output += chunk;
      found.url ??= output.match(/socialcrm demo running at (http:\/\/\S+?)\/?\s/)?.[1];
      found.token ??= output.match(/admin token: (\S+)/)?.[1];
      if (found.url && found.token) {
        clearTimeout(timer);
        resolveReady(found);
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.on('exit', (code) => reject(new Error(`the demo exited (${code}) before it was ready:\n${output}`)));
  });
  return { child, ready, log: () => output };
}

/** Resolves to the first line of `child`'s stdout that `pattern` matches (its first group). */
function printed(child, pattern, what) {
  let output = '';
  return new Promise((resolveLine, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start in 60 s:\n${output}`)), 60_000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const found = output.match(pattern)?.[1];
      if (found) {
        clearTimeout(timer);
        resolveLine(found);
      }
    });
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.on('exit', (code) => reject(new Error(`${what} exited (${code}):\n${output}`)));
  });
}

/** A free loopback port (for a server that must know its URL before it starts). */
async function freePort() {
  const server = createServer();
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

/**
 * `socialcrm serve` signing people in with the test OpenID provider of
 * tests/oidc (alice, in crm-admins, signs in without a form).
 */
async function startSso() {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const idp = spawn('node', ['provider.mjs', `${url}/auth/callback`], {
    cwd: join(root, 'tests/oidc'), stdio: ['ignore', 'pipe', 'pipe'],
  });
  const issuer = await printed(idp, /issuer (\S+)/, 'the OpenID provider');
  const server = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', join(work, 'sso-data'),
    '--oidc-issuer', issuer, '--oidc-client-id', 'socialcrm-web', '--public-url', url,
    '--oidc-provider-name', 'Test ID', '--oidc-scopes', 'openid email groups',
    '--oidc-role', 'crm-admins=admin'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SOCIALCRM_OIDC_CLIENT_SECRET: 'web-secret', RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  const stop = () => { server.kill('SIGTERM'); idp.kill('SIGTERM'); };
  try {
    await printed(server, /(socialcrm serving on)/, 'socialcrm serve');
  } catch (e) {
    stop();
    throw e;
  }
  return { url, stop };
}

/** A package of a bundled plugin the demo does not install, made with `plugin pack`. */
function packPlugin() {
  const out = join(work, 'packages');
  mkdirSync(out, { recursive: true });
  execFileSync(bin, ['plugin', 'pack', join(root, 'target/plugins/reddit'), '--out', out, '--data-dir', join(work, 'pack-data')],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  const file = readdirSync(out).find((f) => f.endsWith('.scpkg'));
  if (!file) throw new Error(`plugin pack wrote no .scpkg to ${out}`);
  return join(out, file);
}

const results = [];
async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push([true, name]);
    console.log(`ok - ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push([false, name]);
    console.log(`not ok - ${name}\n  ${String(e.stack || e).split('\n').join('\n  ')}`);
    throw e;
  }
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

/** No missing value leaked into the page as text. */
async function noPlaceholders(page) {
  const text = await page.locator('main').innerText();
  const leaked = text.match(/\b(null|undefined|NaN)\b|\[object Object\]/);
  expect(!leaked, `“${leaked?.[0]}” is shown on the page`);
}

const demo = startDemo();
let browser;
let page;
let failed = false;
try {
  const { url, token } = await demo.ready;
  console.log(`# demo at ${url}`);
  const scpkg = packPlugin();

  browser = await chromium.launch({ executablePath: browserPath, headless: true, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(TIMEOUT);
  page = await context.newPage();
  const problems = [];
  // The browser logs a failed request itself; a step that makes one on purpose forgets it.
  const expectedRequestError = (status) => {
    const kept = problems.filter((p) => !p.includes(`the server responded with a status of ${status}`));
    problems.splice(0, problems.length, ...kept);
  };
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });

  await step('the UI is served with a strict Content-Security-Policy', async () => {
    const response = await page.goto(`${url}/`);
    const csp = response.headers()['content-security-policy'] || '';
    expect(csp.includes("default-src 'none'") && csp.includes("script-src 'self'"), `CSP: ${csp}`);
  });

  await step('a wrong token is refused with the API message', async () => {
    await page.getByLabel('API token').fill('scrm_wrong');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();
    expectedRequestError(401);
  });

  await step('log in with the admin token', async () => {
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Inbox' }).waitFor();
    await page.locator('.who .badge-role', { hasText: 'admin' }).waitFor();
  });

  await step('the inbox lists posts by priority with badges and explanations', async () => {
    await page.locator('li.post').first().waitFor();
    const count = await page.locator('li.post').count();
    expect(count > 0, 'no posts in the inbox');
    const priorities = await page.locator('li.post .priority-value').allTextContents();
    const values = priorities.map((p) => Number.parseFloat(p.replace(/[^\d.-]/g, ''))).filter((v) => !Number.isNaN(v));
    expect(values.length > 0, 'no post has a priority');
    expect(values.every((v, i) => i === 0 || v <= values[i - 1] + 1e-9), `not ordered by priority: ${values}`);
    await page.locator('li.post .badge-negative, li.post .badge-positive, li.post .badge-neutral').first().waitFor();
    await page.locator('li.post .explanation').first().waitFor();
    await noPlaceholders(page);
    await page.screenshot({ path: join(shots, 'inbox.png'), fullPage: false });
  });

  await step('filter the inbox by sentiment', async () => {
    await page.getByLabel('Sentiment').selectOption('negative');
    await page.waitForURL(/sentiment=negative/);
    // The demo has complaints: the filter must list some, and only those.
    await page.locator('li.post').first().waitFor();
    const labels = await page.locator('li.post').evaluateAll((posts) =>
      posts.map((p) => p.querySelector('.badges .badge')?.textContent ?? ''));
    expect(labels.length > 0, 'no negative post listed');
    expect(labels.every((l) => l.startsWith('negative')), `a non-negative post in the negative filter: ${labels}`);
    await page.getByLabel('Sentiment').selectOption('');
    await page.waitForURL((u) => !u.hash.includes('sentiment'));
  });

  await step('custom signals show as badges and filter the inbox (answers stubbed)', async () => {
    // The demo's analyzers declare no custom signal: the inbox answers as if
    // unfiltered, its first post with one.
    const asked = [];
    await page.route('**/api/v1/posts?*', async (route) => {
      const url = new URL(route.request().url());
      asked.push(url.searchParams.get('signal'));
      url.searchParams.delete('signal');
      const response = await route.fetch({ url: url.toString() });
      const body = await response.json();
      if (body.items && body.items[0]) body.items[0].signals = [{ name: 'urgency', value: '0.82' }];
      await route.fulfill({ response, json: body });
    });
    try {
      await page.getByLabel('Signal').fill('urgency>=0.5');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForURL(/signal=urgency/);
      await page.locator('li.post .badge-signal', { hasText: 'urgency: 0.82' }).first().waitFor();
      expect(asked.includes('urgency>=0.5'), `the inbox did not ask for the signal: ${asked}`);
      await page.getByLabel('Signal').fill('');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForURL((u) => !u.hash.includes('signal'));
    } finally {
      await page.unroute('**/api/v1/posts?*');
    }
  });

  await step('assign a post to me and close it', async () => {
    const card = page.locator('li.post').nth(1);
    const id = await card.getAttribute('data-post');
    await card.getByRole('button', { name: 'Assign to me' }).click();
    await page.locator(`li.post[data-post="${id}"] .badge-assignee`).waitFor();
    await page.locator(`li.post[data-post="${id}"]`).getByRole('button', { name: 'Close' }).click();
    await page.locator(`li.post[data-post="${id}"]`).getByRole('button', { name: 'Reopen' }).waitFor();
  });

  await step('reply to a post and see it sent', async () => {
    const card = page.locator('li.post').first();
    await card.getByRole('button', { name: 'Reply' }).click();
    await card.getByLabel(/^Reply to @/).fill('Thanks for telling us — we are on it and will DM you shortly.');
    await card.getByRole('button', { name: 'Send reply' }).click();
    await card.locator('.reply[data-status="sent"]').waitFor();
    await card.getByText('Reply sent.').waitFor();
    await noPlaceholders(page);
    await card.screenshot({ path: join(shots, 'reply.png') });
  });

  await step('the post detail shows its conversation above the reply box', async () => {
    const id = await page.locator('li.post').first().getAttribute('data-post');
    await page.goto(`${url}/#/inbox/${id}`);
    await page.getByRole('heading', { name: 'Post', level: 1 }).waitFor();
    const detail = page.locator(`li.post[data-post="${id}"]`);
    const history = detail.getByRole('list', { name: 'Conversation' });
    // The post itself, marked, and the brand's reply sent in the step before, after it.
    await history.locator('li.message[aria-current="true"]').waitFor();
    await history.locator('li.reply[data-status="sent"]').first().waitFor();
    const order = await history.locator(':scope > li').evaluateAll((items) =>
      items.map((li) => (li.classList.contains('reply') ? 'reply' : 'message')));
    expect(order.indexOf('message') >= 0 && order.indexOf('message') < order.lastIndexOf('reply'), `conversation order: ${order}`);
    expect(await detail.getByLabel(/^Reply to @/).count() === 1, 'no reply box below the conversation');
    await noPlaceholders(page);
    await detail.screenshot({ path: join(shots, 'conversation.png') });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Inbox' }).click();
    await page.locator('li.post a.contact').first().waitFor();
  });

  await step('a post without a reply window offers free text and no template form', async () => {
    const id = await page.locator('li.post').first().getAttribute('data-post');
    const asked = [];
    const watch = (r) => { if (/\/api\/v1\/channels\/[^/]+\/templates/.test(r.url())) asked.push(r.url()); };
    page.on('request', watch);
    try {
      await page.goto(`${url}/#/inbox/${id}`);
      const detail = page.locator(`li.post[data-post="${id}"]`);
      await detail.getByRole('list', { name: 'Conversation' }).locator('li.message').first().waitFor();
      const box = detail.getByLabel(/^Reply to @/);
      await box.waitFor();
      expect(await box.isEnabled(), 'the free-text box is disabled on a post without a reply window');
      expect(await detail.locator('.reply-window').count() === 0, 'a reply window is shown on a post without one');
      expect(await detail.getByRole('form', { name: 'Send a template' }).count() === 0, 'a template form on a post without a reply window');
      expect(asked.length === 0, `templates were asked for: ${asked}`);
    } finally {
      page.off('request', watch);
    }
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Inbox' }).click();
    await page.locator('li.post a.contact').first().waitFor();
  });

  await step('a messaging conversation offers a template; closed, no free text (answers stubbed)', async () => {
    // The demo has no messaging network: the conversation's window, the
    // channel's templates and the send are stubbed in the browser.
    const id = await page.locator('li.post').first().getAttribute('data-post');
    let stubWindow = { open_until: Date.now() - 3_600_000, open: false };
    await page.route(`**/api/v1/posts/${id}/conversation`, async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, json: { ...(await response.json()), window: stubWindow } });
    });
    await page.route('**/api/v1/channels/*/templates', (route) => route.fulfill({ json: { items: [
      { name: 'order_update', language: 'en_US', category: 'UTILITY', body: 'Hello {{1}}, your order {{2}} has shipped.' },
      { name: 'welcome_back', language: 'en_US', category: 'MARKETING', body: 'We miss you!' },
    ] } }));
    const sent = [];
    const answers = [
      { status: 409, json: { error: { code: 'conflict', message: `post ${id} is not in a conversation of a messaging network` } } },
      { status: 201, json: { id: 999998, status: 'failed', error: 'template paused by the network', created_by: 'demo-admin' } },
      { status: 201, json: { id: 999999, status: 'sent', error: null, created_by: 'demo-admin' } },
    ];
    await page.route(`**/api/v1/posts/${id}/template-replies`, (route) => {
      const body = route.request().postDataJSON();
      sent.push(body);
      const { status, json } = answers.shift();
      const reply = status === 201
        ? { post_id: Number(id), text: `[template ${body.name} (${body.language})]`, template: body, created_at: Date.now(), url: null, ...json }
        : json;
      return route.fulfill({ status, json: reply });
    });
    try {
      await page.goto(`${url}/#/inbox/${id}`);
      const detail = page.locator(`li.post[data-post="${id}"]`);
      await detail.locator('.reply-window[data-window="closed"]').waitFor();
      expect(await detail.getByLabel(/^Reply to @/).isDisabled(), 'free text can be typed after the window closed');
      expect(await detail.getByRole('button', { name: 'Send reply' }).isDisabled(), 'free text can be sent after the window closed');
      await detail.getByText('free text cannot be sent').waitFor();
      const form = detail.getByRole('form', { name: 'Send a template' });
      await form.getByLabel('Template', { exact: true }).waitFor();
      const preview = form.getByLabel('Template preview');
      expect((await preview.innerText()) === 'Hello {{1}}, your order {{2}} has shipped.', `preview: ${await preview.innerText()}`);
      expect(await form.getByLabel(/^Value of/).count() === 2, 'not one input per placeholder');
      await form.getByLabel('Value of {{1}}').fill('Ada');
      await form.getByLabel('Value of {{2}}').fill('#42');
      expect((await preview.innerText()) === 'Hello Ada, your order #42 has shipped.', `filled preview: ${await preview.innerText()}`);
      const send = form.getByRole('button', { name: 'Send template' });
      // Refused (409): the API's message, the way the view shows errors.
      await send.click();
      await form.getByRole('alert').filter({ hasText: 'not in a conversation of a messaging network' }).waitFor();
      expectedRequestError(409);
      // Failed at the network: the reason, and the reply to retry.
      await send.click();
      await form.getByText('Template failed: template paused by the network. Use Retry.').waitFor();
      const history = detail.getByRole('list', { name: 'Conversation' });
      await history.locator('li.reply[data-reply="999998"][data-status="failed"]').waitFor();
      await send.click();
      await form.getByText('Template sent.').waitFor();
      await history.locator('li.reply[data-reply="999999"][data-status="sent"]').waitFor();
      expect(JSON.stringify(sent.at(-1)) === JSON.stringify({ name: 'order_update', language: 'en_US', parameters: ['Ada', '#42'] }),
        `sent: ${JSON.stringify(sent.at(-1))}`);
      // Another template takes its own placeholders (none here).
      await form.getByLabel('Template', { exact: true }).selectOption({ label: 'welcome_back (en_US)' });
      expect(await form.getByLabel(/^Value of/).count() === 0, 'inputs left from the other template');
      expect((await preview.innerText()) === 'We miss you!', `preview: ${await preview.innerText()}`);
      await noPlaceholders(page);
      await detail.screenshot({ path: join(shots, 'template-reply.png') });
      // Open: free text and the template form both.
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Inbox' }).click();
      await page.locator('li.post a.contact').first().waitFor();
      stubWindow = { open_until: Date.now() + 3_600_000, open: true };
      await page.goto(`${url}/#/inbox/${id}`);
      await detail.locator('.reply-window[data-window="open"]').waitFor();
      await form.getByLabel('Template', { exact: true }).waitFor();
      expect(await detail.getByLabel(/^Reply to @/).isEnabled(), 'free text is disabled in an open window');
    } finally {
      await page.unrouteAll({ behavior: 'ignoreErrors' });
    }
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Inbox' }).click();
    await page.locator('li.post a.contact').first().waitFor();
  });

  await step('open a customer 360 from the inbox', async () => {
    const link = page.locator('li.post a.contact').first();
    await link.click();
    await page.waitForURL(/#\/contacts\/\d+/);
    await page.getByRole('heading', { name: 'Social identities' }).waitFor();
    await page.getByRole('heading', { name: 'Scores' }).waitFor();
    await page.locator('.identity').first().waitFor();
    await page.locator('.timeline-item').first().waitFor();
    const conversation = page.locator('section[aria-labelledby="c360-conversations"] li.conversation').first();
    await conversation.waitFor();
    await noPlaceholders(page);
    await page.screenshot({ path: join(shots, 'customer-360.png'), fullPage: true });
    // A conversation opens its latest post in the inbox, with the history.
    await conversation.getByRole('link', { name: 'Open in the inbox' }).click();
    await page.waitForURL(/#\/inbox\/\d+$/);
    await page.getByRole('list', { name: 'Conversation' }).locator('li.message').first().waitFor();
    await page.goBack();
    await page.getByRole('heading', { name: 'Social identities' }).waitFor();
  });

  await step('search customers', async () => {
    const name = (await page.getByRole('heading', { level: 1 }).textContent()).trim();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Customers' }).click();
    await page.getByLabel('Search customers').fill(name.split(' ')[0]);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name }).first().waitFor();
  });

  await step('confirm a proposed identity link', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Identity review' }).click();
    const card = page.locator('li.link').first();
    await card.waitFor();
    await card.locator('.evidence tbody tr').first().waitFor();
    const id = await card.getAttribute('data-link');
    await page.screenshot({ path: join(shots, 'identity-review.png'), fullPage: false });
    await card.getByRole('button', { name: 'Confirm' }).click();
    await page.locator(`li.link[data-link="${id}"] .badge-positive`, { hasText: 'confirmed' }).waitFor();
    await noPlaceholders(page);
  });

  await step('the insights dashboard draws its charts', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Insights' }).click();
    // Every day with posts has a dot on the sentiment line.
    await page.locator('svg.chart circle.dot').first().waitFor();
    await page.locator('#insights-topics ~ div svg.chart rect.bar').first().waitFor();
    for (const id of ['alerts', 'advocates', 'churn']) {
      await page.locator(`#insights-${id} ~ div`).locator('ul, ol, p').first().waitFor();
    }
    await noPlaceholders(page);
    await page.screenshot({ path: join(shots, 'insights.png'), fullPage: true });
  });

  await step('the trend of one product\'s buyers', async () => {
    await page.getByLabel('Buyers of').fill('X2');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(/product=X2/);
    await page.locator('svg.chart', { hasText: 'by buyers of X2' }).first().waitFor();
    const posts = await page.locator('#insights-trends ~ div .stat-value').first().innerText();
    expect(Number.parseInt(posts.replace(/\D/g, ''), 10) > 0, `no post by buyers of the X2: ${posts}`);
  });

  await step('bind an analyzer to a signal, and see a wrong one refused', async () => {
    const row = page.locator('#insights-bindings ~ div tr[data-signal="sentiment"][data-scope=""]');
    const input = row.getByLabel('Plugin for sentiment');
    expect((await input.inputValue()) === 'sentiment', 'the bundled analyzer is not bound to sentiment');
    await row.getByRole('button', { name: 'Bind' }).click();
    await page.locator('.alert-success', { hasText: 'sentiment is now supplied by sentiment' }).waitFor();
    await page.locator('#insights-bindings ~ div tr[data-signal="sentiment"][data-scope=""]').getByLabel('Plugin for sentiment').fill('mastodon');
    await page.locator('#insights-bindings ~ div tr[data-signal="sentiment"][data-scope=""]').getByRole('button', { name: 'Bind' }).click();
    await page.getByRole('alert').filter({ hasText: 'not an analyzer plugin' }).waitFor();
    expectedRequestError(409);
    await page.locator('#insights-bindings ~ div tr[data-signal="churn-risk"] code', { hasText: 'churn' }).waitFor();
    await page.getByRole('button', { name: 'Dismiss message' }).first().click();
  });

  await step('bind an analyzer for one language, then remove that binding', async () => {
    const form = page.getByRole('form', { name: 'Bind for a channel or language' });
    await form.getByLabel('Signal to bind').selectOption('sentiment');
    await form.getByLabel('Where').fill('language:de');
    await form.getByLabel('Analyzer').fill('sentiment');
    await form.getByRole('button', { name: 'Bind there' }).click();
    await page.locator('.alert-success', { hasText: 'sentiment is now supplied by sentiment for language:de' }).waitFor();
    const row = page.locator('#insights-bindings ~ div tr[data-signal="sentiment"][data-scope="language:de"]');
    await row.getByRole('button', { name: 'Remove' }).click();
    await page.locator('.alert-success', { hasText: 'sentiment for language:de now follows the next binding in line' }).waitFor();
    await row.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Dismiss message' }).first().click();
  });

  await step('install a plugin from a package file', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Plugins' }).click();
    await page.getByLabel('Package (.scpkg)').setInputFiles(scpkg);
    await page.getByRole('button', { name: 'Install' }).click();
    // The package is the bundled reddit plugin itself, so it replaces nothing
    // and needs no "replace the bundled plugin" consent.
    await page.locator('li.plugin[data-plugin="reddit"]').waitFor();
    // The demo channel's polls are in the egress log.
    const mastodon = page.locator('li.plugin[data-plugin="mastodon"]');
    await mastodon.getByText('Recent requests').click();
    await mastodon.locator('details.egress li', { hasText: '/api/v1/notifications' }).first().waitFor();
    await noPlaceholders(page);
    await page.screenshot({ path: join(shots, 'plugins.png'), fullPage: true });
  });

  await step('the channels admin lists the demo channel', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Channels' }).click();
    await page.locator('tr[data-channel]').first().waitFor();
    await page.getByRole('heading', { name: 'Add a channel account' }).waitFor();
    await noPlaceholders(page);
    await page.screenshot({ path: join(shots, 'channels.png'), fullPage: true });
  });

  await step('the import page maps a Shopify export, dry-runs and imports it', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Import' }).click();
    await page.getByLabel('File', { exact: true }).setInputFiles(join(root, 'tests/data/imports/shopify-customers.csv'));
    await page.getByRole('button', { name: 'Read the file' }).click();
    await page.getByRole('heading', { name: 'Which column fills each contact field' }).waitFor();
    expect(await page.getByLabel('id (required)').inputValue() === 'Customer ID', 'the preset does not map the id');
    expect(await page.getByLabel('name', { exact: true }).inputValue() === 'First Name+Last Name', 'the preset does not join the names');
    // The admin leaves the company out.
    await page.getByLabel('company', { exact: true }).selectOption('');
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.getByRole('heading', { name: 'Dry run: nothing was written' }).waitFor();
    const counts = await page.locator('p.counts').innerText();
    expect(counts.includes('3 would be created') && counts.includes('1 rejected'), `dry run: ${counts}`);
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByRole('heading', { name: 'Imported', exact: true }).waitFor();
    const rejected = await page.locator('table.rejected tbody').innerText();
    expect(rejected.includes('5') && rejected.includes('is not an email address'), `rejected rows: ${rejected}`);
    await page.getByLabel('Save as').fill('my-shop');
    await page.getByRole('button', { name: 'Save the mapping' }).click();
    await page.locator('select[name="mapping"] option[value="my-shop"]').waitFor({ state: 'attached' });
    await noPlaceholders(page);
    await page.screenshot({ path: join(shots, 'imports.png'), fullPage: true });
  });

  await step('the events admin subscribes a URL and shows its secret once', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Events' }).click();
    await page.getByRole('heading', { name: 'Subscribe a URL' }).waitFor();
    await page.getByLabel('URL', { exact: true }).fill('https://hooks.example.com/crm');
    // A type nothing produces yet: no delivery leaves the machine.
    await page.getByLabel('subject.erased').check();
    await page.getByRole('button', { name: 'Subscribe' }).click();
    await page.locator('tr[data-subscription]').first().waitFor();
    const secret = await page.locator('code.secret').innerText();
    expect(secret.startsWith('whsec_'), `no secret shown: ${secret}`);
    await noPlaceholders(page);
    await page.screenshot({ path: join(shots, 'events.png'), fullPage: true });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Channels' }).click();
    await page.getByRole('heading', { name: 'Add a channel account' }).waitFor();
  });

  await step('an API error is shown with its message', async () => {
    await page.getByLabel('Plugin', { exact: true }).fill('no-such-plugin');
    await page.getByLabel('Account name').fill('broken');
    await page.getByRole('button', { name: 'Add channel' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'The channel was not added' });
    await alert.waitFor();
    expect((await alert.innerText()).includes('no-such-plugin'), `the error does not name the plugin: ${await alert.innerText()}`);
    expectedRequestError(4);
  });

  await step('create an API token, see it once, and revoke it', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tokens' }).click();
    await page.getByLabel('Token name').fill('browser-bot');
    await page.getByLabel('Role').selectOption('agent');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = await page.getByLabel('The new token').inputValue();
    expect(secret.startsWith('scrm_'), `the new token is shown as ${secret}`);
    const me = async () => (await fetch(`${url}/api/v1/me`, { headers: { Authorization: `Bearer ${secret}` } }));
    const answer = await me();
    expect(answer.status === 200 && (await answer.json()).role === 'agent', `the new token answers ${answer.status}`);
    await page.getByRole('button', { name: 'Done' }).click();
    const row = page.locator('tr[data-token="browser-bot"]');
    await row.waitFor();
    expect(await page.getByLabel('The new token').count() === 0, 'the secret is still on the page');
    await page.screenshot({ path: join(shots, 'tokens.png'), fullPage: true });
    page.once('dialog', (d) => d.accept());
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.waitFor({ state: 'detached' });
    expect((await me()).status === 401, 'the revoked token still works');
  });

  await step('the audit log filters by actor and action', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('Action').fill('token.revoke');
    await page.getByLabel('Actor').fill('demo-admin');
    await page.getByRole('button', { name: 'Filter' }).click();
    const rows = page.locator('tr[data-audit]');
    await rows.filter({ hasText: 'browser-bot' }).first().waitFor();
    // The unfiltered list may still be on screen, or being drawn again, until
    // the filtered answer is: read it until it settles (5 s at most).
    const filtered = (actions) => actions.length > 0 && actions.every((a) => a === 'token.revoke');
    let actions = [];
    for (let tries = 0; tries < 50 && !filtered(actions); tries += 1) {
      if (tries > 0) await page.waitForTimeout(100);
      actions = await rows.locator('code').filter({ hasText: /^token\./ }).allInnerTexts();
    }
    expect(filtered(actions), `the filter shows ${actions}`);
    await noPlaceholders(page);
    await page.screenshot({ path: join(shots, 'audit.png'), fullPage: true });
  });

  await step('export a customer\'s data, then erase them', async () => {
    const auth = { headers: { Authorization: `Bearer ${token}` } };
    const contacts = await (await fetch(`${url}/api/v1/contacts?limit=50`, auth)).json();
    const c = contacts.items[contacts.items.length - 1];
    await page.goto(`${url}/#/contacts/${c.id}`);
    const section = page.locator('section[aria-labelledby="c360-privacy"]');
    await section.getByRole('button', { name: 'Show what is held' }).click();
    await section.getByText(/Held about this person: .*contacts 1/).waitFor();
    const [file] = await Promise.all([
      page.waitForEvent('download'),
      section.getByRole('button', { name: 'Export their data' }).click(),
    ]);
    const archive = join(work, 'subject.tar');
    await file.saveAs(archive);
    const listing = execFileSync('tar', ['-tf', archive]).toString();
    expect(['manifest.json', 'README.md', 'contacts.json', 'contacts.csv'].every((f) => listing.includes(f)), `the archive holds ${listing}`);
    page.once('dialog', (d) => d.accept());
    await section.getByRole('button', { name: 'Erase this person' }).click();
    await section.getByText(/receipt er_[0-9a-f]+/).waitFor();
    let status = 200;
    for (let i = 0; i < 50 && status !== 404; i += 1) {
      status = (await fetch(`${url}/api/v1/contacts/${c.id}`, auth)).status;
      if (status !== 404) await new Promise((ok) => setTimeout(ok, 200));
    }
    expect(status === 404, `the erased contact still answers ${status}`);
    await noPlaceholders(page);
    await page.screenshot({ path: join(shots, 'privacy.png'), fullPage: true });
  });

  await step('the inbox works at a phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Inbox' }).click();
    await page.locator('li.post').first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow <= 1, `the page is ${overflow}px wider than the screen`);
    await page.screenshot({ path: join(shots, 'inbox-narrow.png') });
  });

  await step('log out returns to the login screen', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('API token').waitFor();
  });

  await step('a viewer is offered no agent or admin action', async () => {
    const created = await fetch(`${url}/api/v1/tokens`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'browser-viewer', role: 'viewer' }),
    });
    const body = await created.text();
    expect(created.status === 201, `creating a viewer token: ${created.status} ${body}`);
    await page.getByLabel('API token').fill(JSON.parse(body).token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('li.post').first().waitFor();
    expect(await page.getByRole('button', { name: 'Assign to me' }).count() === 0, 'a viewer sees Assign to me');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Plugins' }).click();
    await page.getByText('Only admins install and manage plugins.').waitFor();
    expect(await page.getByRole('button', { name: /Install|Disable|Remove/ }).count() === 0, 'a viewer sees plugin actions');
  });

  await step('a revoked token leads back to the login screen with a message', async () => {
    const revoked = await fetch(`${url}/api/v1/tokens/browser-viewer`, {
      method: 'DELETE', headers: { Authorization: `Bearer ${token}` },
    });
    expect(revoked.status === 204, `revoking the viewer token: ${revoked.status}`);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Insights' }).click();
    await page.getByRole('alert').filter({ hasText: 'Please log in again' }).waitFor();
    await page.getByLabel('API token').waitFor();
    expectedRequestError(401);
    // Logging in again returns to the page the 401 interrupted.
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Insights', level: 1 }).waitFor();
    // The page's other requests made with the revoked token fail too, and
    // their console lines may arrive after the first one was forgotten.
    expectedRequestError(401);
  });

  await step('sign in with single sign-on, change something, sign out', async () => {
    const sso = await startSso();
    try {
      const context = await browser.newContext();
      context.setDefaultTimeout(TIMEOUT);
      const ssoPage = await context.newPage();
      ssoPage.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      await ssoPage.goto(`${sso.url}/`);
      await ssoPage.getByLabel('API token').waitFor();
      await ssoPage.getByRole('link', { name: 'Sign in with Test ID' }).click();
      await ssoPage.locator('.who .who-name', { hasText: 'oidc:alice@example.test' }).waitFor();
      await ssoPage.locator('.who .badge-role', { hasText: 'admin' }).waitFor();
      // A state-changing call through the UI's client carries the CSRF token.
      const status = await ssoPage.evaluate(async () => {
        const { post } = await import('/ui/api.js');
        await post('/tokens', { name: 'made-in-session', role: 'viewer' });
        const plain = await fetch('/api/v1/tokens', {
          method: 'POST', headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ name: 'no-csrf', role: 'viewer' }),
        });
        return plain.status;
      });
      expect(status === 403, `a POST with the cookie and no CSRF header answered ${status}`);
      await ssoPage.getByRole('button', { name: 'Log out' }).click();
      await ssoPage.getByRole('link', { name: 'Sign in with Test ID' }).waitFor();
      const after = await ssoPage.evaluate(async () => (await fetch('/api/v1/me')).status);
      expect(after === 401, `after sign-out /me answered ${after}`);
      await context.close();
    } finally {
      sso.stop();
    }
  });

  await step('no script error and no CSP violation in the console', async () => {
    expect(problems.length === 0, problems.join('\n'));
  });
} catch (e) {
  failed = true;
  if (!results.length || results.at(-1)[0]) console.log(`not ok - setup\n  ${e.stack || e}`);
  if (page) await page.screenshot({ path: join(shots, 'failure.png'), fullPage: true }).catch(() => {});
  console.log(`# demo output:\n${demo.log()}`);
} finally {
  await browser?.close();
  demo.child.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
const passed = results.filter(([ok]) => ok).length;
console.log(`# ${passed} passed, ${results.length - passed} failed; screenshots in ${shots}`);
process.exit(failed ? 1 : 0);
