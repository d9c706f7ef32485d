// The OpenID provider the single sign-on tests sign in against: oidc-provider
// (a certified implementation) on a loopback port, with
// - accounts whose `groups` claim the tests map to roles (or to none),
// - an interaction that signs in the account named by `login_hint` (alice
//   without one, as for a browser) and consents at once, so a test drives
//   the whole code flow over HTTP,
// - a web client (code flow, PKCE) and a machine client (client credentials,
//   JWT access tokens for the `socialcrm` audience),
// - POST /test/mint, which signs any claims with the provider's own key: the
//   tests make expired, wrong-audience and tampered tokens with it.
// Usage: node provider.mjs REDIRECT_URI. Prints `issuer <url>` when ready.
import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const redirect = process.argv[2];
if (!redirect) {
  console.error('usage: node provider.mjs REDIRECT_URI');
  process.exit(2);
}

const ACCOUNTS = {
  alice: { email: 'alice@example.test', groups: ['crm-admins', 'staff'] },
  bob: { email: 'bob@example.test', groups: 'crm-agents' },
  mallory: { email: 'mallory@example.test', groups: ['marketing'] },
};

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' };

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'socialcrm-web',
      client_secret: 'web-secret',
      redirect_uris: [redirect],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
    {
      client_id: 'machine',
      client_secret: 'machine-secret',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
    },
  ],
  jwks: { keys: [jwk] },
  claims: { openid: ['sub'], email: ['email'], groups: ['groups'] },
  scopes: ['openid', 'email', 'groups', 'api'],
  // The ID token carries the scopes' claims (no userinfo call needed).
  conformIdTokenClaims: false,
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, client) => (client.clientId === 'machine' ? 'urn:socialcrm:api' : undefined),
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience: 'socialcrm',
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  extraTokenClaims: (ctx, token) =>
    token.kind === 'ClientCredentials' ? { groups: ['crm-agents'] } : undefined,
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return { accountId: id, claims: () => ({ sub: id, ...account }) };
  },
});

const body = async (req) => {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
};

const sign = (claims) => {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: 'RS256', typ: 'JWT', kid: jwk.kid })}.${b64(claims)}`;
  return `${input}.${crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
};

const callback = provider.callback();
server.on('request', async (req, res) => {
  try {
    if (req.method === 'POST' && req.url === '/test/mint') {
      const token = sign(JSON.parse(await body(req)));
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(token);
    }
    if (req.method === 'GET' && req.url.startsWith('/interaction/')) {
      const details = await provider.interactionDetails(req, res);
      const { prompt, params, session } = details;
      if (prompt.name === 'login') {
        const result = { login: { accountId: String(params.login_hint || 'alice') } };
        return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
      }
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
      if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes || {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      const grantId = await grant.save();
      return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    }
    return callback(req, res);
  } catch (e) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(e && e.stack ? e.stack : e));
  }
});

console.log(`issuer ${issuer}`);
