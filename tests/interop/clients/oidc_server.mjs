// Test-only: oidc-provider on 127.0.0.1 as the authorization server of the client interop tests, for the
// client-credentials grant (one static client) and the authorization-code grant with PKCE and dynamic client
// registration (RFC 7591), consenting on its own so that a scripted browser only follows redirects.
//
// Environment: RESOURCE (the MCP server's URL: the only resource indicator, so the tokens' aud), SCOPES (every
// scope it grants, space separated), CLIENT_ID and CLIENT_SECRET (the client-credentials client), and
// NO_REFRESH_TOKENS_FOR (optional): refresh tokens are issued to every client whose client_name does not contain
// it, a per-client policy like the one that makes the TypeScript SDK 1.x step up (see README, Client
// compatibility); POST /test/no-refresh-tokens-for with a new name as the body changes it between runs, so the
// tests share one provider. Access tokens are RFC 9068 JWTs. Prints {"issuer": ...} as one JSON line on stdout.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

const { RESOURCE, CLIENT_ID, CLIENT_SECRET } = process.env;
const SCOPES = process.env.SCOPES ?? '';
let noRefreshTokensFor = process.env.NO_REFRESH_TOKENS_FOR ?? '';
const ACCOUNT = 'interop-user';
if (!RESOURCE || !CLIENT_ID || !CLIENT_SECRET) {
  console.error('RESOURCE, CLIENT_ID and CLIENT_SECRET are required');
  process.exit(2);
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `clients-${process.pid}`, alg: 'RS256', use: 'sig' };

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: SCOPES,
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    scopes: SCOPES.split(' ').filter(Boolean),
    jwks: { keys: [signingKey] },
    findAccount: (ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
    issueRefreshToken: (ctx, client) =>
      client.grantTypeAllowed('refresh_token') &&
      !(noRefreshTokensFor && (client.clientName ?? '').includes(noRefreshTokensFor)),
    // RFC 7591 §3.2.1 lets the server replace requested metadata: a dynamically registered client may ask for
    // any scope the resource grants, not only those it named at registration (the MCP SDKs register with their
    // first challenge's scope), so that a later step-up is not refused at /authorize. Static clients keep theirs.
    extraClientMetadata: {
      properties: ['interop_note'],
      validator: (ctx, key, value, metadata) => {
        if (ctx?.oidc?.route === 'registration') delete metadata.scope;
      },
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      registration: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resourceIndicator) => {
          if (resourceIndicator !== RESOURCE) {
            throw new errors.InvalidTarget();
          }
          return {
            scope: SCOPES,
            audience: RESOURCE,
            accessTokenTTL: 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
  });
  const callback = provider.callback();

  // Automatic login and consent: whatever the client asked for, within what the resource grants.
  async function interaction(req, res) {
    const details = await provider.interactionDetails(req, res);
    if (details.prompt.name === 'login') {
      await provider.interactionFinished(req, res, { login: { accountId: ACCOUNT } }, { mergeWithLastSubmission: false });
      return;
    }
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: ACCOUNT, clientId: details.params.client_id });
    const missing = details.prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  server.on('request', (req, res) => {
    if (req.method === 'POST' && req.url === '/test/no-refresh-tokens-for') {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        noRefreshTokensFor = body;
        res.end();
      });
      return;
    }
    if (req.url.startsWith('/interaction/')) {
      interaction(req, res).catch((error) => {
        res.statusCode = 500;
        res.end(String(error));
      });
      return;
    }
    callback(req, res);
  });
  console.log(JSON.stringify({ issuer }));
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
