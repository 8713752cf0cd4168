/// <reference lib="dom" />
// In a real browser (Debian's chromium driven by playwright-core): the playground works from its
// controls and from typed text, shows the server's own errors, `auto` gives Chromium WebP, and
// http.cors decides whether a page on another origin may read our pixels.
import assert from "node:assert/strict";
import { join } from "node:path";
// A test-only dependency, so it stays out of the app's import map.
// deno-lint-ignore no-import-prefix
import { type Browser, chromium, type Page } from "npm:playwright-core@1.65.1";
import {
  clientBundle,
  decode,
  encode,
  makeBitmap,
  startTestServer,
  type TestServer,
} from "./helpers.ts";

const executablePath = "/usr/bin/chromium";
const root = join(import.meta.dirname!, "..");
const screenshotDir = join(root, ".cache", "screenshots");

/** True (skip, saying why) when chromium is missing, except under CI=true. */
async function browserMissing(): Promise<boolean> {
  try {
    await Deno.stat(executablePath);
    return false;
  } catch {
    if (Deno.env.get("CI") === "true") return false;
    console.log(`skipped: ${executablePath} is not installed (apt-get install chromium)`);
    return true;
  }
}

const ignore = await browserMissing();

/** The file's one headless chromium, launched by the first test (a launch costs 0.55 CPU-s). */
let launched: Promise<Browser> | undefined;

/**
 * Runs `fn` with the headless chromium. Its pages are each in a new context (`browser.newPage`
 * makes one), an empty profile of its own: no cookie, storage or cache passes from one test to
 * the next. They are all closed when `fn` ends.
 */
async function withBrowser(fn: (browser: Browser) => Promise<void>) {
  launched ??= chromium.launch({
    executablePath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  const browser = await launched;
  try {
    await fn(browser);
  } finally {
    for (const context of browser.contexts()) await context.close();
  }
}

const red: [number, number, number, number] = [200, 30, 30, 255];
const photo = await Deno.readFile(join(root, "examples", "photo.jpg"));
const photoSize = await decode(photo);

async function withServer(config: Record<string, unknown>, fn: (s: TestServer) => Promise<void>) {
  const server = await startTestServer({
    "photo.jpg": photo,
    "logo.png": await Deno.readFile(join(root, "examples", "logo.png")),
    "red.png": await encode(makeBitmap(40, 30, () => red), "png"),
  }, { filters: [{ name: "thumb", definition: "s,200x200-" }], ...config });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

const origin = (server: TestServer) => server.url.replace("/impressionist", "");

/**
 * Every element drawn outside its box: a step's, a fieldset's or the result's (by more than half
 * a pixel), or a legend reaching into its fieldset's border area below the top line.
 */
function overflowingText(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    for (const box of document.querySelectorAll("fieldset, figure, #output")) {
      if ((box as HTMLElement).closest("[hidden]")) continue;
      const outer = box.getBoundingClientRect();
      for (const inner of box.querySelectorAll("*")) {
        const rect = inner.getBoundingClientRect();
        if (rect.width === 0 && rect.height === 0) continue;
        if (rect.left < outer.left - 0.5 || rect.right > outer.right + 0.5) {
          out.push(`${inner.tagName} "${inner.textContent!.slice(0, 40)}" leaves its box`);
        }
      }
      const legend = box.querySelector(":scope > legend");
      if (
        legend &&
        legend.getBoundingClientRect().height > 2 * parseFloat(getComputedStyle(legend).lineHeight)
      ) {
        out.push(`legend "${legend.textContent}" wraps across its box's border`);
      }
    }
    return out;
  });
}

/** Visible images that failed: what a browser draws as a broken-image icon. */
function brokenImages(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll("img")]
      .filter((img) => img.getClientRects().length > 0)
      .filter((img) => !img.complete || img.naturalWidth === 0)
      .map((img) => img.alt)
  );
}

/** Opens the playground on photo.jpg and waits for its first result. */
async function openPlayground(page: Page, server: TestServer) {
  await page.goto(`${origin(server)}/`);
  await page.locator("#result[data-width]").waitFor({ timeout: 30_000 });
  await page.getByLabel("Path in the storage").fill("photo.jpg");
}

/** Waits until the result shows `width`×`height` and answers the result figure's facts. */
async function resultOfSize(page: Page, width: number, height: number) {
  const figure = page.locator(`#result[data-width="${width}"][data-height="${height}"]`);
  await figure.waitFor({ timeout: 30_000 });
  return await figure.locator("dl").innerText();
}

const browserTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore, sanitizeOps: false, sanitizeResources: false, fn });

browserTest(
  "browser: the playground loads with no console error, labelled, its text inside its boxes",
  () =>
    withServer({
      http: { playground: true },
      watermarks: [{ name: "logo", storage: "files", path: "logo.png" }],
    }, (server) =>
      withBrowser(async (browser) => {
        {
          const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
          const problems: string[] = [];
          page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
          page.on("pageerror", (e) => problems.push(e.message));
          page.on("requestfailed", (r) => problems.push(`${r.url()}: ${r.failure()?.errorText}`));
          await openPlayground(page, server);
          const facts = await resultOfSize(page, 300, 200);
          assert.match(facts, /300 × 200 px/);
          assert.match(facts, /Bytes\s+[\d,]+/);
          assert.match(facts, /Time\s+\d+ ms/);
          assert.match(facts, /Cache\s+(hit|miss)/);
          const { width, height } = photoSize;
          await page.locator(`#source[data-width="${width}"][data-height="${height}"]`).waitFor();
          assert.equal(
            await page.getByLabel("Image URL").inputValue(),
            `${server.url}/s,300x0/auto/files/photo.jpg`,
          );
          assert.deepEqual(problems, []);
          // Every control has a name a screen reader reads: a label, or text on a button.
          const unnamed = await page.evaluate(() =>
            [...document.querySelectorAll("input, select, button")]
              .filter((c) => !(c as HTMLElement).closest("[hidden]"))
              .filter((c) =>
                !(c as HTMLInputElement).labels?.length && !c.getAttribute("aria-label") &&
                !(c.tagName === "BUTTON" && c.textContent!.trim())
              )
              .map((c) => c.outerHTML)
          );
          assert.deepEqual(unnamed, []);
          // Each format's own default quality; wm offers the configured names; no backticks.
          const placeholders: Record<string, string> = { jpeg: "75", webp: "75", avif: "50" };
          for (const [format, quality] of Object.entries(placeholders)) {
            await page.getByLabel("Format", { exact: true }).selectOption(format);
            assert.equal(await page.getByLabel(/^Quality/).getAttribute("placeholder"), quality);
          }
          await page.getByLabel("Format", { exact: true }).selectOption("auto");
          await page.getByLabel(/^Chain/).fill("s,360x240-smart,sat,30,sh,0.6,wm,logo");
          await resultOfSize(page, 360, 240);
          const mark = page.getByLabel("Watermark", { exact: true });
          assert.equal(await mark.evaluate((e) => e.tagName), "SELECT");
          assert.deepEqual(await mark.locator("option").allTextContents(), ["logo"]);
          const shown = await page.evaluate(() =>
            document.body.innerText + [...document.querySelectorAll("option")]
              .map((o) => o.textContent).join("")
          );
          assert.ok(!shown.includes("`"), "no raw Markdown on the page");
          await Deno.mkdir(screenshotDir, { recursive: true });
          await page.screenshot({ path: join(screenshotDir, "playground.png"), fullPage: true });
          // Text stays inside its box at every width, a phone's included.
          for (const width of [1600, 1200, 900, 700, 480, 360, 320]) {
            await page.setViewportSize({ width, height: 900 });
            assert.deepEqual(await overflowingText(page), [], `at ${width} px`);
          }
          await page.setViewportSize({ width: 360, height: 740 });
          const overflow = await page.evaluate(() =>
            document.documentElement.scrollWidth - document.documentElement.clientWidth
          );
          assert.equal(overflow, 0, "no sideways scrolling at phone width");
          await page.screenshot({
            path: join(screenshotDir, "playground-phone.png"),
            fullPage: true,
          });
        }
      })),
);

browserTest(
  "browser: a resize chosen with the controls (by keyboard) gives that natural size",
  () =>
    withServer({ http: { playground: true } }, (server) =>
      withBrowser(async (browser) => {
        const page = await browser.newPage();
        await openPlayground(page, server);
        await page.getByLabel("Width (px)").fill("120");
        await page.getByLabel("Height (px)").fill("90");
        await page.getByLabel("Mode").selectOption("-");
        await resultOfSize(page, 120, 90);
        assert.equal(await page.getByLabel(/^Chain/).inputValue(), "s,120x90-");
        // Adding a step with the keyboard only.
        await page.getByLabel("Add a step").focus();
        await page.getByLabel("Add a step").selectOption("filter:r");
        await page.keyboard.press("Tab");
        await page.keyboard.press("Enter");
        await resultOfSize(page, 90, 120);
        assert.equal(await page.getByLabel(/^Chain/).inputValue(), "s,120x90-,r,90");
        // The address keeps the state: a reload (or a shared link) shows the same result.
        assert.match(
          page.url(),
          /#storage=files&path=photo\.jpg&chain=s%2C120x90-%2Cr%2C90&format=auto$/,
        );
        await page.goto(
          `${origin(server)}/#storage=files&path=photo.jpg&chain=s,50x0&format=webp,lossless`,
        );
        await page.reload();
        assert.match(await resultOfSize(page, 50, 33), /image\/webp/);
        assert.equal(await page.getByLabel("Width (px)").inputValue(), "50");
        assert.ok(await page.getByLabel("Lossless").isChecked());
      })),
);

browserTest(
  "browser: a typed chain drives the controls, and a bad one shows the server's message",
  () =>
    withServer({ http: { playground: true } }, (server) =>
      withBrowser(async (browser) => {
        const page = await browser.newPage();
        await openPlayground(page, server);
        await page.getByLabel(/^Chain/).fill("thumb,c,10x20-50x40,br,-20,gs");
        await resultOfSize(page, 50, 40);
        const level = page.getByLabel("Level", { exact: true });
        assert.equal(await level.getAttribute("type"), "number", "a negative level fits its field");
        assert.equal(await level.inputValue(), "-20");
        assert.equal(await page.getByLabel("Left (px)").inputValue(), "10");
        assert.equal(await page.getByLabel("Top (px)").inputValue(), "20");
        assert.equal(await page.locator("#steps > li").count(), 4);
        assert.match(await page.locator("#steps").innerText(), /preset: s,200x200-/);
        for (const chain of ["s,0x0", "s,10x10,nope", "b,1000"]) {
          const expected = await fetch(`${server.url}/${chain}/png/files/photo.jpg`);
          assert.equal(expected.status, 400);
          await page.getByLabel(/^Chain/).fill(chain);
          const message = `400: ${(await expected.text()).trim()}`;
          await page.waitForFunction(
            (text) => document.getElementById("error")!.textContent === text,
            message,
            { timeout: 30_000 },
          );
          assert.ok(await page.locator("#error").isVisible());
          assert.equal(await page.locator("#result img").getAttribute("src"), null);
          assert.ok(!(await page.locator("#result img").isVisible()), "the error replaces it");
          assert.deepEqual(await brokenImages(page), [], "no broken image after an error");
        }
        // No filter at all: the source converted only, written `none`; the result is back.
        await page.getByLabel(/^Chain/).fill("");
        await resultOfSize(page, photoSize.width, photoSize.height);
        assert.match(await page.getByLabel("Image URL").inputValue(), /\/none\/auto\/files\//);
        assert.ok(await page.locator("#result img").isVisible());
        assert.ok(!(await page.locator("#error").isVisible()));
      })),
);

/** The type and natural size a plain `<img>` on `page` gets for `url`. */
async function plainImage(page: Page, url: string) {
  const [response, size] = await Promise.all([
    page.waitForResponse(url),
    page.evaluate(async (src) => {
      const img = new Image();
      img.src = src;
      await img.decode();
      return [img.naturalWidth, img.naturalHeight];
    }, url),
  ]);
  return { type: response.headers()["content-type"], size };
}

browserTest(
  "browser: a plain <img> with auto gets WebP in Chromium, AVIF with image.autoAvif",
  () =>
    withBrowser(async (browser) => {
      const page = await browser.newPage();
      await withServer({}, async (server) => {
        await page.goto(`${origin(server)}/health`);
        const image = await plainImage(page, `${server.url}/s,64x0/auto/files/photo.jpg`);
        assert.deepEqual(image, { type: "image/webp", size: [64, 43] });
      });
      await withServer({ image: { autoAvif: true } }, async (server) => {
        await page.goto(`${origin(server)}/health`);
        const image = await plainImage(page, `${server.url}/s,64x0/auto/files/photo.jpg`);
        assert.deepEqual(image, { type: "image/avif", size: [64, 43] });
      });
    }),
);

/** A page on its own origin (another port) that tries to read our pixels and headers. */
async function otherOrigin(fn: (origin: string) => Promise<void>) {
  const page = `<!doctype html><title>another site</title><canvas></canvas>`;
  const client = await clientBundle();
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: listening.resolve },
    (request) =>
      new URL(request.url).pathname === "/client.mjs"
        ? new Response(client, { headers: { "content-type": "text/javascript" } })
        : new Response(page, { headers: { "content-type": "text/html" } }),
  );
  try {
    await fn(`http://127.0.0.1:${(await listening.promise).port}`);
  } finally {
    await server.shutdown();
  }
}

/** What a script on `page` gets when it draws `src` into a canvas and reads it back. */
function readPixels(page: Page, src: string, crossOrigin: string | null) {
  return page.evaluate(async ([src, crossOrigin]) => {
    const img = new Image();
    if (crossOrigin !== null) img.crossOrigin = crossOrigin;
    img.src = src!;
    try {
      await img.decode();
    } catch {
      return "load error";
    }
    const canvas = document.querySelector("canvas")!;
    const context = canvas.getContext("2d")!;
    context.drawImage(img, 0, 0);
    try {
      return [...context.getImageData(5, 5, 1, 1).data];
    } catch (error) {
      return (error as Error).name;
    }
  }, [src, crossOrigin]);
}

function readHeader(page: Page, url: string) {
  return page.evaluate(async (url) => {
    try {
      return (await fetch(url)).headers.get("x-cache");
    } catch (error) {
      return (error as Error).name;
    }
  }, url);
}

browserTest(
  "browser: another origin reads the pixels with http.cors, and is refused without",
  () =>
    otherOrigin((site) =>
      withBrowser(async (browser) => {
        const page = await browser.newPage();
        await page.goto(site);
        await withServer({ http: { cors: [site] } }, async (server) => {
          const src = `${server.url}/s,20x0/png/files/red.png`;
          assert.deepEqual(await readPixels(page, src, "anonymous"), red);
          assert.match(String(await readHeader(page, src)), /^(hit|miss)$/);
        });
        await withServer({}, async (server) => {
          const src = `${server.url}/s,20x0/png/files/red.png`;
          assert.equal(await readPixels(page, src, "anonymous"), "load error");
          assert.equal(await readPixels(page, src, null), "SecurityError", "a tainted canvas");
          assert.equal(await readHeader(page, src), "TypeError");
        });
        await withServer({ http: { cors: ["https://someone.else"] } }, async (server) => {
          const src = `${server.url}/s,20x0/png/files/red.png`;
          assert.equal(await readPixels(page, src, "anonymous"), "load error");
        });
      })
    ),
);

browserTest(
  "browser: with keys and a token, the page asks for the token and shows signed results",
  () =>
    withServer({
      http: { playground: true },
      security: { keys: [{ key: "736563726574", salt: "68656c6c6f" }], token: "t0ken" },
    }, (server) =>
      withBrowser(async (browser) => {
        const page = await browser.newPage();
        await page.goto(`${origin(server)}/`);
        await page.getByLabel("Bearer token").fill("wrong");
        await page.getByRole("button", { name: "Use token" }).click();
        await page.getByText("That token was refused").waitFor({ timeout: 30_000 });
        await page.getByLabel("Bearer token").fill("t0ken");
        await page.keyboard.press("Enter");
        await page.locator("#result[data-width]").waitFor({ timeout: 30_000 });
        await page.getByLabel("Path in the storage").fill("photo.jpg");
        await resultOfSize(page, 300, 200);
        const url = await page.getByLabel("Image URL").inputValue();
        assert.match(url, /\/impressionist\/[A-Za-z0-9_-]{43}\/s,300x0\/auto\/files\/photo\.jpg$/);
        const image = await fetch(url, { headers: { authorization: "Bearer t0ken" } });
        assert.equal(image.status, 200);
        await image.body?.cancel();
      })),
);

browserTest(
  "browser: the client runs in the page: a URL it signs there is accepted",
  () =>
    otherOrigin((site) =>
      withBrowser(async (browser) => {
        const page = await browser.newPage();
        await page.goto(site);
        const key = { key: "736563726574", salt: "68656c6c6f" };
        await withServer({ http: { cors: [site] }, security: { keys: [key] } }, async (server) => {
          const src = await page.evaluate(async ([base, key, salt]) => {
            const { imageUrl, resize } = await import(`${location.origin}/client.mjs`);
            return await imageUrl({
              base,
              chain: [resize(20, 0)],
              format: "png",
              storage: "files",
              path: "red.png",
              key,
              salt,
            });
          }, [origin(server), key.key, key.salt]);
          assert.match(src, /\/impressionist\/[A-Za-z0-9_-]{43}\/s,20x0\/png\/files\/red\.png$/);
          assert.deepEqual(await readPixels(page, src, "anonymous"), red);
        });
      })
    ),
);

browserTest(
  "browser: a filter the page has never seen gets its controls from the JSON alone",
  () =>
    withServer({ http: { playground: true } }, (server) =>
      withBrowser(async (browser) => {
        const page = await browser.newPage();
        // Stands for a filter added to the server later: only filters.json knows it.
        await page.route("**/playground/filters.json", async (route) => {
          const info = await (await route.fetch()).json();
          info.filters.push({
            name: "zz",
            arity: 1,
            summary: "A filter from the future",
            template: "{amount}:{tone}",
            fields: [
              { name: "amount", label: "Amount", kind: "number", min: 0, max: 10, default: "1" },
              {
                name: "tone",
                label: "Tone",
                kind: "choice",
                choices: [{ value: "w", label: "warm" }, { value: "c", label: "cool" }],
                default: "w",
              },
            ],
          });
          await route.fulfill({ json: info });
        });
        await openPlayground(page, server);
        await page.getByLabel(/^Chain/).fill("zz,2.5:c");
        assert.equal(await page.getByLabel("Amount").inputValue(), "2.5");
        assert.equal(await page.getByLabel("Tone").inputValue(), "c");
        await page.getByLabel("Tone").selectOption({ label: "warm" });
        await page.getByLabel("Amount").fill("3");
        assert.equal(await page.getByLabel(/^Chain/).inputValue(), "zz,3:w");
        await page.getByLabel("Add a step").selectOption("filter:zz");
        await page.getByRole("button", { name: "Add" }).click();
        assert.equal(await page.getByLabel(/^Chain/).inputValue(), "zz,3:w,zz,1:w");
      })),
);

browserTest(
  "browser: the playground shows the chain's info as JSON, its ThumbHash next to the result, jxl and info as formats",
  () =>
    withServer({ http: { playground: true } }, (server) =>
      withBrowser(async (browser) => {
        const page = await browser.newPage();
        await openPlayground(page, server);
        await page.getByLabel(/^Chain/).fill("s,300x0");
        await resultOfSize(page, 300, 200);
        const json = page.locator("#info-json");
        await page.waitForFunction(() =>
          document.querySelector("#info-json")?.textContent?.includes('"width": 300')
        );
        const answer = JSON.parse(await json.innerText());
        assert.deepEqual([answer.width, answer.height], [300, 200]);
        assert.equal(answer.source.format, "jpeg");
        const placeholder = page.locator("#placeholder img");
        await page.waitForFunction(() => {
          const img = document.querySelector<HTMLImageElement>("#placeholder img");
          return img?.complete && img.naturalWidth > 0;
        });
        assert.match((await placeholder.getAttribute("src"))!, /^data:image\/png;base64,/);
        const formats = await page.locator("#format option").allInnerTexts();
        assert.ok(formats.includes("jxl") && formats.includes("info"), formats.join(" "));
        // The info format itself: the JSON panel answers, the result shows no image.
        await page.getByLabel("Format").selectOption("info");
        await page.getByLabel(/^Chain/).fill("");
        await page.waitForFunction((width) =>
          (document.querySelector("#url") as HTMLInputElement).value.includes("/none/info/") &&
          JSON.parse(document.querySelector("#info-json")?.textContent || "{}").width === width &&
          !document.querySelector("#result img")?.hasAttribute("src"), photoSize.width);
        assert.match(await page.getByLabel("Image URL").inputValue(), /\/none\/info\//);
      })),
);

browserTest("browser: (the chromium the tests above shared closes)", async () => {
  await (await launched?.catch(() => undefined))?.close();
});
