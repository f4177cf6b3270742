// Test-only: the employees demo's task (list the tools, read the employees, record a mood; twice) run by a real
// MCP TypeScript SDK client, 1.x (@modelcontextprotocol/sdk) or 2.x (@modelcontextprotocol/client), with its
// own OAuth support doing every step-up. The Python side (examples/employees/clients.py) starts the servers,
// runs this script and reads what the server saw; this script only reports how the task ended.
//
//   node driver.mjs '{"sdk": 1, "url": ..., "flow": "client_credentials", "client_id": ..., "client_secret": ...,
//                     "issuer": ...}'
//   node driver.mjs '{"sdk": 2, "url": ..., "flow": "authorization_code", "redirect_uri": ...}'
//
// The authorization-code flow needs a browser: the authorization servers of these tests consent on their
// own, so following the redirects (with the cookies they set) until they point at the redirect URI is enough.
// Prints one JSON line: {"completed": bool, "error": string|null, "results": [...]}.
const config = JSON.parse(process.argv[2]);

// The demo agent's task, twice round: look at the tools, read the employees, record a mood.
const TASK = [
  ['tools/list'],
  ['get_employees', {}],
  ['update_employee_mood', { employeeID: 1, mood: 'HAPPY' }],
  ['tools/list'],
  ['get_employees', {}],
  ['update_employee_mood', { employeeID: 2, mood: 'CALM' }],
];
// More token requests than this in one task is a loop: the task needs one step-up beyond the first token.
const MAX_TOKEN_REQUESTS = Number(config.max_token_requests ?? 6);

class LoopError extends Error {}

let tokenRequests = 0;
// Every request of the client goes through here: token requests are counted, so a client that keeps
// re-authorizing is stopped instead of running until the test times out.
async function countingFetch(input, init) {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  if (url.pathname.endsWith('/token')) {
    tokenRequests += 1;
    if (tokenRequests > MAX_TOKEN_REQUESTS) {
      throw new LoopError(`stopped after ${MAX_TOKEN_REQUESTS} token requests: a re-authorization loop`);
    }
  }
  return fetch(input, init);
}

// A scripted browser for servers that consent automatically: GET the authorization URL and follow the
// redirects, carrying cookies, until one points at our redirect URI; its code is the answer.
async function browse(authorizationUrl) {
  const cookies = new Map();
  let url = String(authorizationUrl);
  for (let hop = 0; hop < 10; hop += 1) {
    if (url.startsWith(config.redirect_uri)) {
      const query = new URL(url).searchParams;
      if (query.get('error')) throw new Error(`authorization refused: ${query.get('error')}`);
      return { code: query.get('code'), iss: query.get('iss') ?? undefined };
    }
    const headers = {};
    if (cookies.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const response = await fetch(url, { redirect: 'manual', headers });
    for (const line of response.headers.getSetCookie?.() ?? []) {
      const [pair] = line.split(';');
      const at = pair.indexOf('=');
      cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
    }
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) {
      throw new Error(`the authorization server did not redirect (HTTP ${response.status})`);
    }
    url = new URL(location, url).toString();
  }
  throw new Error('too many redirects');
}

// The OAuthClientProvider of an interactive client, registering itself dynamically (RFC 7591), as both
// SDK majors expect an application to write it.
class HeadlessProvider {
  constructor() {
    this.pending = undefined;
    this._client = undefined;
    this._tokens = undefined;
    this._verifier = undefined;
  }
  get redirectUrl() {
    return config.redirect_uri;
  }
  get clientMetadata() {
    return {
      client_name: `fastmcp-scopes interop (TypeScript SDK ${config.sdk}.x)`,
      redirect_uris: [config.redirect_uri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this._client;
  }
  saveClientInformation(info) {
    this._client = info;
  }
  tokens() {
    return this._tokens;
  }
  saveTokens(tokens) {
    this._tokens = tokens;
  }
  async redirectToAuthorization(url) {
    this.pending = await browse(url);
  }
  saveCodeVerifier(verifier) {
    this._verifier = verifier;
  }
  codeVerifier() {
    return this._verifier;
  }
}

async function load() {
  if (config.sdk === 1) {
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    const { ClientCredentialsProvider } = await import('@modelcontextprotocol/sdk/client/auth-extensions.js');
    const { UnauthorizedError } = await import('@modelcontextprotocol/sdk/client/auth.js');
    return { Client, StreamableHTTPClientTransport, ClientCredentialsProvider, UnauthorizedError };
  }
  return import('@modelcontextprotocol/client');
}

async function main() {
  const sdk = await load();
  const provider =
    config.flow === 'client_credentials'
      ? new sdk.ClientCredentialsProvider({
          clientId: config.client_id,
          clientSecret: config.client_secret,
          scope: config.scope ?? undefined,
          expectedIssuer: config.issuer,
        })
      : new HeadlessProvider();
  const connectTransport = () =>
    new sdk.StreamableHTTPClientTransport(new URL(config.url), { authProvider: provider, fetch: countingFetch });
  let transport = connectTransport();
  const client = new sdk.Client({ name: `interop-ts${config.sdk}`, version: '0.0.0' });

  // An interactive flow ends each authorization with UnauthorizedError: the application hands the code
  // from the redirect to finishAuth and tries again (the SDKs' documented pattern).
  // A failed connect leaves its transport started, so connecting again takes a new one (same provider).
  async function authorized(operation, { reconnect = false } = {}) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await operation();
      } catch (error) {
        const pending = provider.pending;
        if (!(error instanceof sdk.UnauthorizedError) || pending === undefined || attempt > MAX_TOKEN_REQUESTS) {
          throw error;
        }
        provider.pending = undefined;
        await (config.sdk === 1 ? transport.finishAuth(pending.code) : transport.finishAuth(pending.code, pending.iss));
        if (reconnect) transport = connectTransport();
      }
    }
  }

  const results = [];
  await authorized(() => client.connect(transport), { reconnect: true });
  for (const [name, args] of TASK) {
    if (name === 'tools/list') {
      const listed = await authorized(() => client.listTools());
      results.push([name, listed.tools.map((tool) => tool.name)]);
    } else {
      const result = await authorized(() => client.callTool({ name, arguments: args }));
      if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
      results.push([name, result.structuredContent ?? result.content]);
    }
  }
  await client.close();
  return results;
}

try {
  const results = await main();
  console.log(JSON.stringify({ completed: true, error: null, results }));
} catch (error) {
  const loop = error instanceof LoopError || String(error?.message ?? error).includes('re-authorization loop');
  console.log(JSON.stringify({ completed: false, error: String(error?.message ?? error), loop, results: [] }));
}
process.exit(0);
