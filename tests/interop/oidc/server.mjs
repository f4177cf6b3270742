// Test-only: oidc-provider on 127.0.0.1 issuing RFC 9068 JWT access tokens for one resource,
// so the Python tests can check fastmcp-scopes against an independent, certified implementation.
//
// Environment: RESOURCE (the resource indicator / audience), CLIENT_ID, CLIENT_SECRET, SCOPES (every
// scope the provider knows, space separated) and CLIENT_SCOPES (those the client may obtain; default
// SCOPES), optionally ACCESS_TOKEN_FORMAT ('jwt', the default, or 'opaque') and INTROSPECTION_CLIENT_ID /
// INTROSPECTION_CLIENT_SECRET (a second client, the resource server, which alone may introspect; RFC 7662).
// A known scope outside CLIENT_SCOPES is refused with invalid_scope; an unknown one is left
// out of the token (RFC 6749 §3.3 lets the server grant less than asked). Listens on a free port and
// prints {"issuer": ...} as one JSON line on stdout.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

const { RESOURCE, CLIENT_ID, CLIENT_SECRET } = process.env;
const SCOPES = process.env.SCOPES ?? '';
const CLIENT_SCOPES = process.env.CLIENT_SCOPES ?? SCOPES;
const ACCESS_TOKEN_FORMAT = process.env.ACCESS_TOKEN_FORMAT ?? 'jwt';
const { INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET } = process.env;
const resourceServer = INTROSPECTION_CLIENT_ID
  ? [
      {
        client_id: INTROSPECTION_CLIENT_ID,
        client_secret: INTROSPECTION_CLIENT_SECRET,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ]
  : [];
if (!RESOURCE || !CLIENT_ID || !CLIENT_SECRET) {
  console.error('RESOURCE, CLIENT_ID and CLIENT_SECRET are required');
  process.exit(2);
}

// A fresh RSA signing key per run, in JWK form as oidc-provider expects.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `interop-${process.pid}`, alg: 'RS256', use: 'sig' };

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
        scope: CLIENT_SCOPES,
        token_endpoint_auth_method: 'client_secret_basic',
      },
      ...resourceServer,
    ],
    scopes: SCOPES.split(' ').filter(Boolean),
    jwks: { keys: [signingKey] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: Boolean(INTROSPECTION_CLIENT_ID),
        // Only the resource server may learn what a token is worth.
        allowedPolicy: (ctx, client) => client.clientId === INTROSPECTION_CLIENT_ID,
      },
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
            accessTokenFormat: ACCESS_TOKEN_FORMAT,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
  });
  server.on('request', provider.callback());
  console.log(JSON.stringify({ issuer }));
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
