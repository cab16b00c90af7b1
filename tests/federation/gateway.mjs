// A real Apollo Gateway in front of CustomerGraph and the support subgraph.
//
// At start it fetches each subgraph's SDL with `{ _service { sdl } }` (CustomerGraph's with
// an API key: its HTTP layer authenticates every request), composes them with
// @apollo/composition (printing every composition error and exiting 1 when composition
// fails), then serves the supergraph with ApolloGateway. Each subgraph request carries the
// incoming request's Authorization, X-Api-Key and X-Organization-Id headers to CustomerGraph,
// and is logged on stdout as one line, which tests/test_federation.py counts:
//
//   SUBGRAPH FETCH {"subgraph":"customergraph","operationName":"…","entities":100}
//
// (`entities` is the number of representations of an `_entities` fetch, null for a root
// fetch).
//
//   CUSTOMERGRAPH_API_KEY=cg_… node gateway.mjs \
//     --customergraph-url http://127.0.0.1:8000/graphql \
//     --support-url http://127.0.0.1:4002/ [--host 127.0.0.1] [--port 4000]
//
// Options may also come from the environment: CUSTOMERGRAPH_URL, SUPPORT_URL, HOST, PORT.
// --sdl-timeout (seconds, default 30) bounds the wait for the subgraphs' SDL. Port 0 takes a
// free port. Prints `GATEWAY READY <url>` (with the real port) once it listens.

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { parse } from 'graphql';

const FORWARDED_HEADERS = ['authorization', 'x-api-key', 'x-organization-id'];
const SERVICE_SDL = '{ _service { sdl } }';

const { values: options } = parseArgs({
  options: {
    host: { type: 'string', default: process.env.HOST ?? '127.0.0.1' },
    port: { type: 'string', default: process.env.PORT ?? '4000' },
    'customergraph-url': {
      type: 'string',
      default: process.env.CUSTOMERGRAPH_URL ?? 'http://127.0.0.1:8000/graphql',
    },
    'support-url': { type: 'string', default: process.env.SUPPORT_URL ?? 'http://127.0.0.1:4002/' },
    'sdl-timeout': { type: 'string', default: '30' },
    'supergraph-out': { type: 'string' },
  },
});

function fail(message) {
  console.error(`gateway: ${message}`);
  process.exit(1);
}

const apiKey = process.env.CUSTOMERGRAPH_API_KEY;
if (!apiKey) {
  fail('set CUSTOMERGRAPH_API_KEY: CustomerGraph authenticates `_service { sdl }` too');
}

/** A subgraph's SDL, retried while the subgraph is not up yet, for at most --sdl-timeout s. */
async function fetchSdl(name, url, headers) {
  const deadline = Date.now() + Number(options['sdl-timeout']) * 1000;
  let problem = 'not tried';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query: SERVICE_SDL }),
        signal: AbortSignal.timeout(10_000),
      });
      const body = await response.json();
      const sdl = body?.data?._service?.sdl;
      if (response.ok && typeof sdl === 'string') return sdl;
      // An answer that is not the SDL (401, GraphQL errors) will not change by retrying.
      fail(`${name} at ${url} answered ${response.status}: ${JSON.stringify(body)}`);
    } catch (error) {
      problem = error?.cause?.code ?? error?.message ?? String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return fail(`${name} at ${url} did not answer ${SERVICE_SDL} in time: ${problem}`);
}

const subgraphs = [
  {
    name: 'customergraph',
    url: options['customergraph-url'],
    headers: { authorization: `Bearer ${apiKey}` },
  },
  { name: 'support', url: options['support-url'], headers: {} },
];
const services = [];
for (const { name, url, headers } of subgraphs) {
  services.push({ name, url, typeDefs: parse(await fetchSdl(name, url, headers)) });
}

const composition = composeServices(services);
if (composition.errors) {
  console.error(`gateway: composition failed with ${composition.errors.length} error(s):`);
  for (const error of composition.errors) {
    const code = error.extensions?.code ?? 'ERROR';
    console.error(`  [${code}] ${error.message}`);
  }
  process.exit(1);
}
for (const hint of composition.hints ?? []) {
  console.error(`gateway: composition hint [${hint.definition?.code ?? 'HINT'}] ${hint.message}`);
}
if (options['supergraph-out']) {
  writeFileSync(options['supergraph-out'], composition.supergraphSdl);
}

class LoggingDataSource extends RemoteGraphQLDataSource {
  willSendRequest({ request, context }) {
    if (this.subgraphName === 'customergraph') {
      for (const header of FORWARDED_HEADERS) {
        const value = context?.forwardedHeaders?.[header];
        if (value) request.http.headers.set(header, value);
      }
    }
    const representations = request.variables?.representations;
    const line = {
      subgraph: this.subgraphName,
      operationName: request.operationName ?? null,
      entities: Array.isArray(representations) ? representations.length : null,
    };
    console.log(`SUBGRAPH FETCH ${JSON.stringify(line)}`);
  }
}

const gateway = new ApolloGateway({
  supergraphSdl: composition.supergraphSdl,
  buildService: ({ name, url }) => {
    const source = new LoggingDataSource({ url });
    source.subgraphName = name;
    return source;
  },
});
const server = new ApolloServer({ gateway, includeStacktraceInErrorResponses: false });
const { url } = await startStandaloneServer(server, {
  listen: { host: options.host, port: Number(options.port) },
  context: async ({ req }) => ({
    forwardedHeaders: Object.fromEntries(
      FORWARDED_HEADERS.filter((header) => req.headers[header]).map((header) => [
        header,
        req.headers[header],
      ]),
    ),
  }),
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.stop().finally(() => process.exit(0));
  });
}

console.log(`GATEWAY READY ${url}`);
