#!/usr/bin/env node
// The GraphQL-over-HTTP server audits of graphql-http (the spec's reference audit suite),
// run one by one against a live CustomerGraph, every request carrying our API key.
//
//   CUSTOMERGRAPH_API_KEY=<key> node audit.mjs --url http://127.0.0.1:8000/graphql [--json out.json]
//
// Prints one line per audit (status, id, name, reason) and, for each audit that did not pass,
// the exact requests it sent and the responses it got. --json writes the same as JSON.
// Exit codes: 0 every MUST audit passed; 1 some MUST audit failed; 64 bad usage;
// 70 the audit suite itself crashed.

import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { serverAudits } from "graphql-http";

const { values: opts } = parseArgs({
  options: {
    url: { type: "string" },
    key: { type: "string" },
    json: { type: "string" },
    "request-timeout-ms": { type: "string", default: "10000" },
  },
  strict: true,
});
const key = opts.key || process.env.CUSTOMERGRAPH_API_KEY;
if (!opts.url || !key) {
  process.stderr.write("usage: CUSTOMERGRAPH_API_KEY=<key> node audit.mjs --url URL [--json F]\n");
  process.exit(64);
}
const requestTimeoutMs = Number(opts["request-timeout-ms"]);
const BODY_LIMIT = 2000;

/** The requests and responses of the audit now running (audits run one at a time). */
let exchanges = [];

async function fetchWithKey(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${key}`);
  const request = {
    method: init.method || "GET",
    url: String(input),
    headers: Object.fromEntries([...headers].filter(([name]) => name !== "authorization")),
    body: typeof init.body === "string" ? init.body : init.body == null ? null : "<binary>",
  };
  const exchange = { request, response: null };
  exchanges.push(exchange);
  const response = await fetch(input, {
    ...init,
    headers,
    signal: AbortSignal.timeout(requestTimeoutMs),
  });
  const text = await response.clone().text();
  exchange.response = {
    status: response.status,
    contentType: response.headers.get("content-type"),
    body: text.length > BODY_LIMIT ? `${text.slice(0, BODY_LIMIT)}…` : text,
  };
  return response;
}

const results = [];
try {
  for (const audit of serverAudits({ url: opts.url, fetchFn: fetchWithKey })) {
    exchanges = [];
    const result = await audit.fn();
    results.push({
      id: result.id,
      name: result.name,
      status: result.status,
      reason: result.status === "ok" ? null : result.reason,
      exchanges: result.status === "ok" ? [] : exchanges,
    });
  }
} catch (error) {
  process.stderr.write(`audit.mjs: the audit suite crashed: ${error.stack || error}\n`);
  process.exit(70);
}

const mustFailures = results.filter((r) => r.status === "error" && r.name.startsWith("MUST"));
const counts = {};
for (const r of results) counts[r.status] = (counts[r.status] || 0) + 1;

for (const r of results) {
  const reason = r.reason ? ` — ${r.reason}` : "";
  process.stdout.write(`${r.status.toUpperCase().padEnd(6)} ${r.id} ${r.name}${reason}\n`);
}
for (const r of results.filter((r) => r.status !== "ok")) {
  process.stdout.write(`\n--- ${r.status.toUpperCase()} ${r.id} ${r.name}\n    reason: ${r.reason}\n`);
  for (const { request, response } of r.exchanges) {
    process.stdout.write(`    > ${request.method} ${request.url}\n`);
    process.stdout.write(`    > headers ${JSON.stringify(request.headers)}\n`);
    if (request.body !== null) process.stdout.write(`    > body ${request.body}\n`);
    if (response) {
      process.stdout.write(`    < ${response.status} content-type: ${response.contentType}\n`);
      process.stdout.write(`    < body ${response.body}\n`);
    } else {
      process.stdout.write("    < (no response)\n");
    }
  }
}
const summary = Object.entries(counts)
  .map(([status, n]) => `${n} ${status}`)
  .join(", ");
process.stdout.write(`\n${results.length} audits: ${summary}; ${mustFailures.length} MUST failed\n`);
if (opts.json) {
  writeFileSync(opts.json, JSON.stringify({ url: opts.url, counts, results }, null, 2));
}
process.exit(mustFailures.length > 0 ? 1 : 0);
