#!/usr/bin/env node
// Checks the Swagger UI that a running clinic-api serves, in headless Debian
// Chromium driven by playwright-core (no browser download: /usr/bin/chromium).
//
//   node ci/swagger-ui/check.mjs http://127.0.0.1:8080 [path/to/openapi.json] [screenshot.png]
//
// Defaults: the document is openapi/openapi.json of this repository and the
// screenshot goes to test-output/swagger-ui.png. Also reads SWAGGER_UI_BASE_URL,
// OPENAPI_DOCUMENT, SWAGGER_UI_SCREENSHOT, CHROMIUM_PATH.
//
// Checks (exit 1 when any does not hold; a missing tag does not stop the rest):
//   1. /swagger-ui/ loads and Swagger UI renders the document's title;
//   2. every tag of the document renders as a section;
//   3. GET /v1/treatments expands, "Try it out" then "Execute" gives a live 200
//      whose body is a treatment list ({"items": [...]});
//   4. the page logged no uncaught error.
// A screenshot is saved in every case (also on failure) when the page was reached.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..", "..");
const baseUrl = (process.argv[2] ?? process.env.SWAGGER_UI_BASE_URL ?? "").replace(/\/+$/, "");
const documentPath = process.argv[3] ?? process.env.OPENAPI_DOCUMENT ?? join(root, "openapi", "openapi.json");
const screenshotPath =
  process.argv[4] ?? process.env.SWAGGER_UI_SCREENSHOT ?? join(root, "test-output", "swagger-ui.png");
const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const TIMEOUT_MS = 30_000;

if (!baseUrl) {
  console.error("usage: node check.mjs BASE_URL [openapi.json] [screenshot.png]");
  process.exit(2);
}

const log = (msg) => console.log(`swagger-ui: ${msg}`);

const doc = JSON.parse(readFileSync(documentPath, "utf8"));
const tags = (doc.tags ?? []).map((t) => t.name);
// Tags used by operations but not declared at the top level render too.
for (const item of Object.values(doc.paths ?? {})) {
  for (const op of Object.values(item)) {
    for (const t of op?.tags ?? []) if (!tags.includes(t)) tags.push(t);
  }
}
const treatments = doc.paths?.["/v1/treatments"]?.get;
if (!treatments) throw new Error("the document has no GET /v1/treatments");
const treatmentsTag = treatments.tags?.[0] ?? "default";

const userDataDir = mkdtempSync(join(tmpdir(), "swagger-ui-chromium-"));
let browser; // the persistent browser context
let page;
const failures = [];
const pageErrors = [];
const opId = `operations-${treatmentsTag}-${treatments.operationId}`;

try {
  // A persistent context on a fresh, empty profile directory (removed at exit).
  // Flags: no sandbox as root, no GPU, and no background traffic to Google's
  // hosts, which this machine's closed network refuses.
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-dev-shm-usage",
    ],
    viewport: { width: 1280, height: 1600 },
    timeout: TIMEOUT_MS,
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(TIMEOUT_MS);
  page.on("pageerror", (err) => pageErrors.push(String(err)));

  // 1. The page and the document load.
  const response = await page.goto(`${baseUrl}/swagger-ui/`, { waitUntil: "load" });
  if (!response || response.status() !== 200) {
    throw new Error(`GET /swagger-ui/ answered ${response ? response.status() : "nothing"}`);
  }
  const title = page.locator(".information-container .title");
  await title.waitFor({ state: "visible" });
  const titleText = (await title.innerText()).trim();
  if (!titleText.startsWith(doc.info.title)) {
    throw new Error(`Swagger UI shows the title "${titleText}", expected "${doc.info.title}"`);
  }
  log(`loaded "${titleText}"`);
  const loadError = page.locator(".errors-wrapper, .loading-container .errors");
  if (await loadError.count()) {
    throw new Error(`Swagger UI reports errors: ${(await loadError.first().innerText()).trim()}`);
  }

  // 2. Every tag renders as a section.
  await page.locator(".opblock-tag-section").first().waitFor({ state: "visible" });
  const rendered = await page
    .locator(".opblock-tag-section h3.opblock-tag")
    .evaluateAll((els) => els.map((el) => el.getAttribute("data-tag")));
  const missing = tags.filter((t) => !rendered.includes(t));
  if (missing.length) {
    // Not fatal yet: the live request below is still worth checking.
    failures.push(`tags without a section: ${missing.join(", ")} (rendered: ${rendered.join(", ")})`);
    console.error(`swagger-ui: FAILED: ${failures.at(-1)}`);
  } else {
    log(`all ${tags.length} tags render as sections: ${tags.join(", ")}`);
  }

  // 3. GET /v1/treatments: expand, Try it out, Execute, live 200.
  const op = page.locator(`[id="${opId}"]`);
  if ((await op.count()) !== 1) {
    // Tag sections may be collapsed (docExpansion "none"): open the tag first.
    await page.locator(`.opblock-tag-section h3.opblock-tag[data-tag="${treatmentsTag}"]`).click();
  }
  await op.waitFor({ state: "visible" });
  const summary = op.locator(".opblock-summary");
  const method = (await summary.locator(".opblock-summary-method").innerText()).trim();
  const path = (await summary.locator(".opblock-summary-path").innerText()).replace(/\u200b/g, "").trim();
  if (method !== "GET" || path !== "/v1/treatments") {
    throw new Error(`#${opId} is "${method} ${path}", expected "GET /v1/treatments"`);
  }
  if (!(await op.evaluate((el) => el.classList.contains("is-open")))) {
    await summary.locator("button.opblock-summary-control").click();
  }
  await op.locator(".opblock-body").waitFor({ state: "visible" });
  log("expanded GET /v1/treatments");

  await op.locator("button.try-out__btn").click();
  const execute = op.locator("button.execute");
  await execute.waitFor({ state: "visible" });
  log('clicked "Try it out"');

  const apiResponse = page.waitForResponse(
    (r) => new URL(r.url()).pathname === "/v1/treatments" && r.request().method() === "GET",
  );
  await execute.click();
  const network = await apiResponse;
  log(`clicked "Execute": the browser got ${network.status()} from ${network.url()}`);

  const live = op.locator(".live-responses-table .response .response-col_status");
  await live.first().waitFor({ state: "visible" });
  const liveStatus = (await live.first().innerText()).trim();
  if (liveStatus !== "200") {
    const body = await op.locator(".live-responses-table .response-col_description").first().innerText();
    throw new Error(`the live response shows status "${liveStatus}", expected 200: ${body.slice(0, 500)}`);
  }
  const bodyText = await op
    .locator(".live-responses-table .response-col_description .microlight, .live-responses-table .response-col_description pre")
    .first()
    .innerText();
  let body;
  try {
    body = JSON.parse(bodyText);
  } catch {
    throw new Error(`the live response body is not JSON: ${bodyText.slice(0, 200)}`);
  }
  // The catalogue may be empty by now (schemathesis archives treatments), but
  // it must be the TreatmentList shape.
  if (!Array.isArray(body.items)) {
    throw new Error(`the live response body is not a treatment list: ${bodyText.slice(0, 200)}`);
  }
  log(`live response: 200 with ${body.items.length} treatment(s)`);

  // 4. No uncaught error in the page.
  if (pageErrors.length) throw new Error(`uncaught errors in the page: ${pageErrors.join(" | ")}`);
} catch (err) {
  failures.push(err instanceof Error ? err.message : String(err));
  console.error(`swagger-ui: FAILED: ${failures.at(-1)}`);
} finally {
  if (page) {
    try {
      // The screenshot shows GET /v1/treatments with its live response when
      // the operation rendered, else the top of the page.
      await page
        .locator(`[id="${opId}"]`)
        .evaluate((el) => el.scrollIntoView({ block: "start" }), undefined, { timeout: 2_000 })
        .catch(() => {});
      mkdirSync(dirname(screenshotPath), { recursive: true });
      await page.screenshot({ path: screenshotPath });
      log(`screenshot: ${screenshotPath}`);
    } catch (err) {
      failures.push(`could not save the screenshot: ${err}`);
      console.error(`swagger-ui: FAILED: ${failures.at(-1)}`);
    }
  }
  if (browser) await browser.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
if (failures.length === 0) log("OK");
process.exit(failures.length ? 1 : 0);
