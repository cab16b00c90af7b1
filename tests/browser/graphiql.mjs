#!/usr/bin/env node
// GraphiQL in a real browser: Debian's /usr/bin/chromium, driven by playwright-core (which
// never downloads a browser). It opens <server>/graphql, types the API key into GraphiQL's
// Headers editor, types a query, clicks the run button, waits for the result, saves a
// screenshot and checks that every request the page made went to the server itself.
//
//   CUSTOMERGRAPH_API_KEY=<key> node graphiql.mjs --server http://127.0.0.1:8000 \
//     --screenshot out.png [--expect-tenant NAME] [--expect-total-count N] [--timeout-ms MS]
//
// The key is read from the environment (or --key) so that it stays out of `ps`.
// Prints one JSON report on stdout (last line) and diagnostics on stderr.
// Exit codes: 0 success; 1 the page did not show what was expected (or the browser failed);
// 2 a request went to another host; 64 bad usage.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

import { chromium } from "playwright-core";

const CHROMIUM = process.env.CUSTOMERGRAPH_CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const QUERY =
  "{ viewer { tenant { name } } customers(first: 3) { totalCount nodes { displayName } } }";

function usage(message) {
  process.stderr.write(`graphiql.mjs: ${message}\n`);
  process.exit(64);
}

const { values: opts } = parseArgs({
  options: {
    server: { type: "string" },
    key: { type: "string" },
    screenshot: { type: "string" },
    "expect-tenant": { type: "string" },
    "expect-total-count": { type: "string" },
    query: { type: "string", default: QUERY },
    "timeout-ms": { type: "string", default: "60000" },
  },
  strict: true,
});
const key = opts.key || process.env.CUSTOMERGRAPH_API_KEY;
if (!opts.server) usage("--server URL is required");
if (!opts.screenshot) usage("--screenshot PATH is required");
if (!key) usage("the API key is required (CUSTOMERGRAPH_API_KEY or --key)");
const server = new URL(opts.server);
const timeoutMs = Number(opts["timeout-ms"]);
const screenshot = resolve(opts.screenshot);
const expectedTotal =
  opts["expect-total-count"] === undefined ? undefined : Number(opts["expect-total-count"]);

// Hard bound on the whole run: exiting runs Playwright's exit hook, which SIGKILLs the
// browser's process group, so no Chromium outlives this script.
const watchdog = setTimeout(() => {
  process.stderr.write(`graphiql.mjs: gave up after ${timeoutMs} ms\n`);
  process.exit(1);
}, timeoutMs + 15000);
watchdog.unref();
for (const [signal, number] of [["SIGHUP", 1], ["SIGINT", 2], ["SIGTERM", 15]]) {
  process.on(signal, () => process.exit(128 + number));
}

const requests = [];
const foreign = [];
const notes = []; // diagnostics: failed requests, console errors, what went wrong

/** Whether a URL the page asked for is served by the server under test (or is inline). */
function isOwn(raw) {
  let url;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  if (url.protocol === "data:") return true;
  if (url.protocol === "blob:") return new URL(url.pathname).host === server.host;
  const scheme = { "http:": "http", "https:": "http", "ws:": "ws", "wss:": "ws" }[url.protocol];
  return scheme !== undefined && url.host === server.host;
}

function record(kind, url) {
  requests.push(`${kind} ${url}`);
  if (!isOwn(url)) foreign.push(url);
}

const userDataDir = mkdtempSync(join(tmpdir(), "customergraph-chromium-"));
// Also on a signal or the watchdog (process.exit skips `finally`); Playwright's own exit
// hook has SIGKILLed the browser by then.
process.on("exit", () => rmSync(userDataDir, { recursive: true, force: true, maxRetries: 3 }));
let context;
let resultText = "";
let ok = false;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    // Every host but the server's resolves to nothing, so a page that regressed to a CDN
    // cannot reach the network; its request is still recorded (and fails the run).
    args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${server.hostname}`],
    viewport: { width: 1280, height: 800 },
    timeout: 30000,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  context.setDefaultTimeout(Math.min(timeoutMs, 30000));
  context.on("request", (request) => record(request.method(), request.url()));
  context.on("requestfailed", (request) =>
    notes.push(`request failed: ${request.url()} ${request.failure()?.errorText}`),
  );
  context.on("page", (page) => page.on("websocket", (ws) => record("WEBSOCKET", ws.url())));
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("websocket", (ws) => record("WEBSOCKET", ws.url()));
  page.on("pageerror", (error) => notes.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") notes.push(`console error: ${message.text()}`);
  });

  await page.goto(new URL("/graphql", server).href, { waitUntil: "load" });
  await page.locator(".graphiql-execute-button").waitFor({ state: "visible" });

  // Headers editor: open its tab (GraphiQL may show Variables first), replace the template.
  await page.locator(".graphiql-editor-tools button", { hasText: "Headers" }).click();
  const headersEditor = page.locator(
    'section.graphiql-editor-tool[aria-label="Headers"] .graphiql-editor:not(.hidden) .CodeMirror',
  );
  await replaceByTyping(page, headersEditor, JSON.stringify({ Authorization: `Bearer ${key}` }));
  const typedHeaders = await editorValue(headersEditor);
  if (JSON.stringify(JSON.parse(typedHeaders)) !== JSON.stringify({ Authorization: `Bearer ${key}` })) {
    throw new Error(`the Headers editor holds ${JSON.stringify(typedHeaders)}`);
  }

  await page.keyboard.press("Home"); // scroll back to the start of the line for the picture

  const queryEditor = page.locator("section.graphiql-query-editor .CodeMirror");
  await replaceByTyping(page, queryEditor, opts.query);
  await page.getByRole("button", { name: /^Prettify query/ }).click();
  const typedQuery = await editorValue(queryEditor);
  if (typedQuery.replace(/\s+/g, " ").trim() !== opts.query.replace(/\s+/g, " ").trim()) {
    throw new Error(`the query editor holds ${JSON.stringify(typedQuery)}`);
  }

  await page.locator(".graphiql-execute-button").click();
  const resultEditor = page.locator("section.result-window .CodeMirror");
  const expected = [];
  if (opts["expect-tenant"]) expected.push(`"name": ${JSON.stringify(opts["expect-tenant"])}`);
  if (expectedTotal !== undefined) expected.push(`"totalCount": ${expectedTotal}`);
  if (expected.length === 0) expected.push('"data"');
  try {
    await page.waitForFunction(
      ({ element, wanted }) => {
        const text = element.CodeMirror.getValue();
        return wanted.every((part) => text.includes(part));
      },
      { element: await resultEditor.elementHandle(), wanted: expected },
      { polling: 100 },
    );
    ok = true;
  } catch (error) {
    notes.push(`result never showed ${expected.join(" and ")}: ${error.message}`);
  }
  resultText = await editorValue(resultEditor);
  // Blur the editors so no blinking cursor or hint popup lands in the picture.
  await page.evaluate(() => document.activeElement?.blur());
  await page.screenshot({ path: screenshot });
} catch (error) {
  notes.push(`${error.name}: ${error.message}`);
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}

let result = null;
try {
  result = JSON.parse(resultText);
} catch {
  // not JSON: reported as text
}
const report = {
  ok: ok && foreign.length === 0,
  server: server.origin,
  screenshot,
  resultText,
  result,
  requests,
  foreignRequests: foreign,
  notes,
};
for (const problem of notes) process.stderr.write(`graphiql.mjs: ${problem}\n`);
for (const url of foreign) process.stderr.write(`graphiql.mjs: FOREIGN REQUEST ${url}\n`);
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(foreign.length > 0 ? 2 : ok ? 0 : 1);

/** Click into a CodeMirror editor, select everything and type `text` key by key. */
async function replaceByTyping(page, editor, text) {
  await editor.click();
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.press("Delete");
  // CodeMirror's closebrackets addon inserts `}` after `{` and steps over it when the same
  // character is typed next: typing the whole text yields exactly the text.
  await page.keyboard.type(text, { delay: 5 });
  // A hint popup opened by the last keystrokes must not take the next click or key.
  await page.keyboard.press("Escape");
}

async function editorValue(editor) {
  return editor.evaluate((element) => element.CodeMirror.getValue());
}
