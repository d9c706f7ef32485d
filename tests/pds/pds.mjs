// Starts the AT Protocol reference services in-process (PLC directory, PDS,
// AppView) with @atproto/dev-env, seeds a brand and a customer, prints
// {"service", "handle", "did", "password", "customer", ...} as one JSON line
// on stdout, then runs until killed. Used by `cargo xtask pds-test`.
//
// Needs PostgreSQL (DB_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres)
// and Redis (REDIS_HOST, default 127.0.0.1:6379) for the AppView.
import { TestNetwork } from '@atproto/dev-env'
import { AtpAgent } from '@atproto/api'
import pg from 'pg'

const log = (...a) => console.error('[pds]', ...a)

// Schemas must be [A-Za-z_]: a fresh one per run, so runs never share data.
const schema = `crm_${Date.now().toString(36).replace(/[0-9]/g, (d) => 'abcdefghij'[d])}`
process.env.REDIS_HOST ??= '127.0.0.1:6379'
const dbPostgresUrl = process.env.DB_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const network = await TestNetwork.create({
  dbPostgresUrl,
  dbPostgresSchema: schema,
})
const sc = network.getSeedClient()
const brand = await sc.createAccount('brand', {
  handle: 'brand.test',
  email: 'brand@test.invalid',
  password: 'brand-password',
})
const customer = await sc.createAccount('customer', {
  handle: 'customer.test',
  email: 'customer@test.invalid',
  password: 'customer-password',
})
// The seed client's createProfile wants an avatar file the npm package lacks.
const customerAgent = new AtpAgent({ service: network.pds.url })
await customerAgent.login({ identifier: customer.handle, password: customer.password })
await customerAgent.com.atproto.repo.putRecord({
  repo: customer.did,
  collection: 'app.bsky.actor.profile',
  rkey: 'self',
  record: { $type: 'app.bsky.actor.profile', displayName: 'Casey Customer', description: 'a customer' },
})

// The brand's own post, which the customer answers and quotes.
const own = await sc.post(brand.did, 'Our new release is out')

// A mention: notifications come from the facet, not from the text.
const mentionText = 'hello @brand.test, my order is late'
const start = Buffer.byteLength('hello ')
const mention = await sc.post(customer.did, mentionText, [
  {
    index: { byteStart: start, byteEnd: start + Buffer.byteLength('@brand.test') },
    features: [{ $type: 'app.bsky.richtext.facet#mention', did: brand.did }],
  },
])
const reply = await sc.reply(customer.did, own.ref, own.ref, 'does it fix the login bug?')
const quote = await sc.post(customer.did, 'look at this', undefined, undefined, own.ref)
// Tags nobody: found only by a keyword search for "acme".
const untagged = await sc.post(customer.did, 'anyone tried acme cloud?')
await network.processAll()

// An app password, as the docs ask of a real account.
const agent = new AtpAgent({ service: network.pds.url })
await agent.login({ identifier: brand.handle, password: brand.password })
const app = await agent.com.atproto.server.createAppPassword({ name: 'socialcrm' })

console.log(
  JSON.stringify({
    service: network.pds.url,
    appview: network.bsky.url,
    handle: brand.handle,
    did: brand.did,
    password: app.data.password,
    account_password: brand.password,
    customer: { handle: customer.handle, did: customer.did, password: customer.password },
    posts: {
      own: own.ref.uriStr,
      mention: mention.ref.uriStr,
      reply: reply.ref.uriStr,
      quote: quote.ref.uriStr,
      untagged: untagged.ref.uriStr,
    },
  }),
)
log('ready')

const stop = async () => {
  log('stopping')
  await network.close().catch((e) => log('close', e))
  // dev-env leaves its schemas behind; drop this run's.
  const db = new pg.Client({ connectionString: dbPostgresUrl })
  try {
    await db.connect()
    for (const prefix of ['appview', 'bsync', 'ozone']) {
      await db.query(`DROP SCHEMA IF EXISTS ${prefix}_${schema} CASCADE`)
    }
  } catch (e) {
    log('dropping schemas', e.message)
  } finally {
    await db.end().catch(() => {})
  }
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
setInterval(() => {}, 1 << 30)
