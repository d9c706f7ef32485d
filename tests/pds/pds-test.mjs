// `cargo xtask pds-test`: runs the Bluesky plugin in the real socialcrm
// binary against the AT Protocol reference PDS (pds.mjs) and checks that
// - `channel add` signs in with an app password,
// - `channel sync` stores the customer's mention, reply and quote and the
//   brand's own post (notifications, listRecords) and a post found by
//   keyword (searchPosts) with the right kinds, directions and authors,
// - `reply send` writes an app.bsky.feed.post with reply.root/parent refs
//   (uri + cid) that the PDS stores and the AppView threads.
// SOCIALCRM_BIN names the binary (default ../../target/debug/socialcrm).
import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { AtpAgent } from '@atproto/api'
import Database from 'better-sqlite3'

const here = dirname(fileURLToPath(import.meta.url))
const bin = process.env.SOCIALCRM_BIN ?? join(here, '../../target/debug/socialcrm')
const started = Date.now()
const step = (m) => console.error(`[pds-test ${((Date.now() - started) / 1000).toFixed(1)}s] ${m}`)

const pds = spawn(process.execPath, ['--require', join(here, 'node20-shim.cjs'), join(here, 'pds.mjs')], {
  stdio: ['ignore', 'pipe', 'inherit'],
})
const stopPds = () =>
  new Promise((resolve) => {
    if (pds.exitCode !== null) return resolve()
    pds.once('exit', resolve)
    pds.kill('SIGTERM')
  })
const data = mkdtempSync(join(tmpdir(), 'socialcrm-pds-'))

try {
  const env = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the PDS did not start within 120 s')), 120_000)
    pds.once('exit', (code) => reject(new Error(`pds.mjs exited with ${code}`)))
    createInterface({ input: pds.stdout }).once('line', (line) => {
      clearTimeout(timer)
      resolve(JSON.parse(line))
    })
  })
  step(`PDS at ${env.service}, brand ${env.handle} (${env.did})`)

  const crm = (...args) => {
    const out = execFileSync(bin, ['--data-dir', data, ...args], { encoding: 'utf8' })
    step(`socialcrm ${args.map((a) => a.replace(/^app-password=.*/, 'app-password=…')).join(' ')}: ${out.trim()}`)
    return out
  }
  crm('channel', 'add', '--plugin', 'bluesky', '--name', 'real', '--allow-private',
    '--config', `service=${env.service}`, '--config', `identifier=${env.handle}`, '--config', 'keywords=acme',
    '--secret', `app-password=${env.password}`)
  crm('channel', 'sync', 'real')

  const db = new Database(join(data, 'socialcrm.db'), { readonly: true })
  const rows = db
    .prepare(`select p.id, p.kind, p.direction, p.external_id, p.thread_id, p.in_reply_to, p.text,
                     i.external_user_id as author, i.handle, i.display_name
              from posts p join identities i on i.id = p.identity_id`)
    .all()
  const byUri = Object.fromEntries(rows.map((r) => [r.external_id, r]))
  const expect = (uri, kind, direction, author, text) => {
    const row = byUri[uri]
    assert.ok(row, `no stored post ${uri}; stored: ${JSON.stringify(rows)}`)
    assert.deepEqual(
      { kind: row.kind, direction: row.direction, author: row.author, text: row.text },
      { kind, direction, author, text },
    )
    return row
  }
  const c = env.customer
  expect(env.posts.mention, 'mention', 'inbound', c.did, 'hello @brand.test, my order is late')
  const reply = expect(env.posts.reply, 'reply', 'inbound', c.did, 'does it fix the login bug?')
  assert.equal(reply.thread_id, env.posts.own)
  assert.equal(reply.in_reply_to, env.posts.own)
  assert.equal(reply.handle, c.handle)
  assert.equal(reply.display_name, 'Casey Customer')
  expect(env.posts.quote, 'quote', 'inbound', c.did, 'look at this')
  expect(env.posts.own, 'post', 'outbound', env.did, 'Our new release is out')
  // searchPosts (the dev AppView matches substrings; the real one is Lucene).
  expect(env.posts.untagged, 'post', 'inbound', c.did, 'anyone tried acme cloud?')
  assert.equal(rows.length, 5, JSON.stringify(rows))
  db.close()
  step('sync stored the mention, reply, quote, own post and keyword hit')

  // Answer the customer's reply: root is the brand's post, parent the reply.
  crm('reply', 'send', String(reply.id), 'thanks')
  const agent = new AtpAgent({ service: env.service })
  const list = await agent.com.atproto.repo.listRecords({ repo: env.did, collection: 'app.bsky.feed.post' })
  const sent = list.data.records.find((r) => r.value.text === 'thanks')
  assert.ok(sent, `no reply record in ${JSON.stringify(list.data.records)}`)
  const cidOf = async (uri) => {
    const [, , repo, collection, rkey] = uri.split('/')
    return (await agent.com.atproto.repo.getRecord({ repo, collection, rkey })).data.cid
  }
  assert.deepEqual(sent.value.reply, {
    root: { uri: env.posts.own, cid: await cidOf(env.posts.own) },
    parent: { uri: env.posts.reply, cid: await cidOf(env.posts.reply) },
  })
  step(`reply record ${sent.uri}: ${JSON.stringify(sent.value)}`)

  // The AppView (through the PDS) threads it under the customer's reply.
  await agent.login({ identifier: c.handle, password: c.password })
  let parent
  for (let i = 0; i < 50; i++) {
    // NotFound until the AppView has indexed the new record.
    const thread = await agent.app.bsky.feed.getPostThread({ uri: sent.uri, depth: 0 }).catch((e) => {
      if (e.error === 'NotFound') return null
      throw e
    })
    parent = thread?.data.thread.parent?.post?.uri
    if (parent) break
    await new Promise((r) => setTimeout(r, 200))
  }
  assert.equal(parent, env.posts.reply)

  // A second sync picks up the brand's answer as its own outbound reply.
  crm('channel', 'sync', 'real')
  const again = new Database(join(data, 'socialcrm.db'), { readonly: true })
  const own = again.prepare('select kind, direction, in_reply_to from posts where external_id = ?').get(sent.uri)
  again.close()
  assert.deepEqual(own, { kind: 'reply', direction: 'outbound', in_reply_to: env.posts.reply })
  step('pds-test passed')
} finally {
  await stopPds()
  rmSync(data, { recursive: true, force: true })
}
