import assert from "node:assert/strict";
import { join } from "node:path";
import { encode, listeningUrl, photoLike, spawnMain as spawn } from "./helpers.ts";

/** Encoded once: each of the 20-odd starts below (refused ones included) gets a copy. */
const bigPng = await encode(photoLike(1500, 1000), "png");

/** Writes a config (and an image) into a temp dir and returns the config path. */
async function writeConfig(config: Record<string, unknown>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "impressionist-main-" });
  await Deno.mkdir(join(dir, "files"));
  await Deno.writeFile(join(dir, "files", "big.png"), bigPng);
  const file = join(dir, "config.json");
  await Deno.writeTextFile(file, JSON.stringify(config));
  return file;
}

Deno.test("main: a bad config key is named, exit code 1, no stack trace", async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ http: { port: "eighty" } }, /"http\.port" must be an integer/],
    [{ http: { timeout: "soon" } }, /"http\.timeout" must be a duration/],
    [{ http: { prot: 1 } }, /Unknown config key "http\.prot"/],
    [
      { backend: "libvips" },
      /"backend" must be one of "pure", "imagemagick", "graphicsmagick", "vips"/,
    ],
    [{ filters: [{ name: "s", definition: "gs" }] }, /Preset "s" shadows the filter "s"/],
    [{ filters: [{ name: "none", definition: "gs" }] }, /Preset name "none" is the empty chain/],
    [
      { filters: [{ name: "x", definition: "s,0x0" }] },
      /"filters\[0\]\.definition": Cannot parse resize/,
    ],
    [{ storages: [{ name: "a", type: "ftp" }] }, /"storages\[0\]\.type" must be one of/],
    [{ storages: [{ name: "a", type: "local", path: "nope" }] }, /"storages\[0\]\.path"/],
    [{ image: { quality: 101 } }, /"image\.quality" must be an integer from 1 to 100/],
    [
      { http: { timeout: "600h" } },
      /"http\.timeout" must be a duration from 1ms to 1h, .* not "600h"/,
    ],
  ];
  for (const [config, message] of cases) {
    const file = await writeConfig(config);
    const { code, stderr } = await spawn(["-cfg", file]).output();
    const text = new TextDecoder().decode(stderr);
    assert.equal(code, 1, text);
    assert.match(text, message);
    assert.doesNotMatch(text, /\n\s+at /, "no stack trace");
  }
});

Deno.test("main: a shared-cache policy behind a token is logged as a warning at start", async () => {
  const file = await writeConfig({
    http: { host: "127.0.0.1", port: 0, workers: 1, cacheControl: "public, max-age=60" },
    security: { token: "s3cret" },
  });
  const child = spawn(["-cfg", file]);
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("listening on")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  child.kill("SIGTERM");
  await reader.cancel();
  await child.stderr.cancel();
  await child.status;
  assert.match(
    seen,
    /warning: "http\.cacheControl" is "public, max-age=60" while "security\.token"/,
  );
  assert.doesNotMatch(seen, /s3cret/);
});

Deno.test("main: -h prints usage; --cfg and -debug are accepted", async () => {
  const help = await spawn(["-h"]).output();
  assert.equal(help.code, 0);
  const usage = new TextDecoder().decode(help.stdout);
  assert.match(usage, /-cfg FILE/);
  assert.match(usage, /-debug +add the expanded filter chain/, "says what -debug adds");
  assert.match(usage, /logged either way/, "lines are logged without -debug too");
  const file = await writeConfig({ http: { host: "127.0.0.1", port: 0 }, backend: "nope" });
  const bad = await spawn(["--cfg", file, "-debug"]).output();
  assert.equal(bad.code, 1);
});

/** Waits until the server at `url` runs or queues `jobs` jobs. */
async function holdingJobs(url: string, jobs: number): Promise<void> {
  const health = url.replace("/impressionist", "/health");
  for (let i = 0; i < 500; i++) {
    const { busy, queued } = await (await fetch(health)).json();
    if (busy + queued === jobs) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("main: SIGTERM finishes every request in flight, then exits 0", async () => {
  const file = await writeConfig({
    http: { host: "127.0.0.1", port: 0, workers: 1 },
    storages: [{ name: "files", type: "local", path: "files" }],
  });
  const child = spawn(["-cfg", file, "-debug"]);
  const url = await listeningUrl(child);
  const requests = [1, 2, 3].map((i) =>
    fetch(`${url}/b,${i * 5},b,15/png/files/big.png`).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    })
  );
  // SIGTERM only once the server holds all three (a loaded machine may take a while to send
  // them): requests that never reached it are not "in flight".
  await holdingJobs(url, 3);
  child.kill("SIGTERM");
  assert.deepEqual(await Promise.all(requests), [200, 200, 200]);
  const status = await child.status;
  assert.equal(status.code, 0);
  await child.stderr.cancel();
});

Deno.test("main: SIGTERM past http.shutdownTimeout answers the requests still running 503, then exits 0", async () => {
  const file = await writeConfig({
    http: { host: "127.0.0.1", port: 0, workers: 1, shutdownTimeout: "300ms" },
    storages: [{ name: "files", type: "local", path: "files" }],
  });
  const child = spawn(["-cfg", file]);
  const url = await listeningUrl(child);
  // One long job running, one queued behind it, and a small one queued too.
  const paths = [
    "/b,20,b,25/png/files/big.png",
    "/b,21,b,25/png/files/big.png",
    "/s,8x0/png/files/big.png",
  ];
  const requests = paths.map((path) =>
    fetch(`${url}${path}`).then(
      async (r) => `${r.status} ${r.headers.get("retry-after")} ${await r.text()}`,
      (error) => `no answer: ${error.message}`,
    )
  );
  await holdingJobs(url, 3);
  child.kill("SIGTERM");
  // Before, the exit cut every connection: the clients got no answer at all.
  for (const answer of await Promise.all(requests)) {
    assert.match(answer, /^503 1 /, answer);
  }
  const status = await child.status;
  assert.equal(status.code, 0);
  await child.stderr.cancel();
});

Deno.test("main: a log reader that stops reading stalls no request", async () => {
  const file = await writeConfig({
    http: { host: "127.0.0.1", port: 0, workers: 1 },
    storages: [{ name: "files", type: "local", path: "files" }],
  });
  const child = spawn(["-cfg", file]);
  // Read until the server listens, then never again, as a stuck log collector would.
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!/listening on (http:\/\/\S+)/.test(seen)) seen += (await reader.read()).value ?? "";
  const url = /listening on (http:\/\/\S+)/.exec(seen)![1];
  try {
    // ~250 bytes of access log each: 600 of them are more than a pipe holds (64 KiB). Before,
    // the server stopped answering after ~210.
    const missing = "x".repeat(120);
    for (let i = 0; i < 600; i++) {
      const response = await fetch(`${url}/s,10x0/png/files/${missing}-${i}.jpg`, {
        signal: AbortSignal.timeout(5000),
      });
      await response.arrayBuffer();
      assert.equal(response.status, 404);
    }
    const health = await fetch(url.replace("/impressionist", "/health"), {
      signal: AbortSignal.timeout(5000),
    });
    assert.equal(health.status, 200);
    await health.arrayBuffer();
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel();
    await child.stderr.cancel();
  }
});

Deno.test("main: SIGHUP reloads presets; a broken config keeps the old one", async () => {
  const base = {
    http: { host: "127.0.0.1", port: 0, workers: 1 },
    storages: [{ name: "files", type: "local", path: "files" }],
  };
  const file = await writeConfig(base);
  const child = spawn(["-cfg", file]);
  const url = await listeningUrl(child);
  const status = async (path: string) => {
    const response = await fetch(`${url}${path}`);
    await response.arrayBuffer();
    return response.status;
  };
  const reloaded = async () => {
    child.kill("SIGHUP");
    await new Promise((resolve) => setTimeout(resolve, 300));
  };
  try {
    assert.equal(await status("/tiny/png/files/big.png"), 400);
    const inFlight = status("/b,10,b,15/png/files/big.png");
    await Deno.writeTextFile(
      file,
      JSON.stringify({ ...base, filters: [{ name: "tiny", definition: "s,10x0" }] }),
    );
    await reloaded();
    assert.equal(await status("/tiny/png/files/big.png"), 200);
    assert.equal(await inFlight, 200);

    await Deno.writeTextFile(file, "{ not json");
    await reloaded();
    assert.equal(await status("/tiny/png/files/big.png"), 200, "the old config still serves");
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await child.stderr.cancel();
  }
});

Deno.test("main: dev.ts restarts the server on a change and ends, server and all, on SIGTERM", async () => {
  const file = await writeConfig({ http: { host: "127.0.0.1", port: 0 } });
  const dev = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../dev.ts", import.meta.url).pathname, "-cfg", file, "-debug"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = dev.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const waitFor = async (pattern: RegExp, after: number) => {
    while (!pattern.test(seen.slice(after))) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`dev.ts ended early: ${seen}`);
      seen += value;
    }
    return pattern.exec(seen.slice(after))!;
  };
  await waitFor(/listening on/, 0);
  const mark = seen.length;
  await Deno.writeTextFile(file, await Deno.readTextFile(file)); // a save without a change
  await waitFor(/restarting/, mark);
  const url = (await waitFor(/listening on (http:\/\/\S+)/, mark))[1];
  assert.equal((await fetch(url.replace("/impressionist", "/health"))).status, 200);
  dev.kill("SIGTERM");
  const timeout = new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 15_000));
  const ended = await Promise.race([dev.status, timeout]);
  if (ended === "hung") dev.kill("SIGKILL");
  assert.notEqual(ended, "hung", "dev.ts still runs 15 s after SIGTERM");
  assert.equal((ended as Deno.CommandStatus).code, 0);
  await assert.rejects(fetch(url.replace("/impressionist", "/health")), "the server is gone too");
  await reader.cancel();
});

Deno.test("main: the README's signing example works with impressionist.signed.json", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const command = "task sign -cfg impressionist.signed.json /s,300x0/jpeg,80/examples/photo.jpg";
  assert.ok(readme.includes(`npx -y deno@2.9.6 ${command}`), "the README shows the command");
  const root = new URL("..", import.meta.url).pathname;
  const env = { IMPRESSIONIST_KEY: "736563726574", IMPRESSIONIST_SALT: "68656c6c6f" };
  // `deno task sign` with the README's arguments, from the top of a checkout.
  const sign = await new Deno.Command(Deno.execPath(), {
    args: command.split(" "),
    cwd: root,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(sign.code, 0, new TextDecoder().decode(sign.stderr));
  const path = new TextDecoder().decode(sign.stdout).trim();
  assert.match(
    path,
    /^\/impressionist\/[A-Za-z0-9_-]{43}\/s,300x0\/jpeg,80\/examples\/photo\.jpg$/,
  );
  // The same config served (on a free port), with the same keys: the signed path is an image.
  const config = JSON.parse(await Deno.readTextFile(join(root, "impressionist.signed.json")));
  config.http.port = 0;
  config.storages[0].path = join(root, "examples");
  const file = await writeConfig(config);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(root, "main.ts"), "-cfg", file],
    env,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const url = await listeningUrl(child);
    const image = await fetch(new URL(path, url));
    assert.equal(image.status, 200);
    assert.equal(image.headers.get("content-type"), "image/jpeg");
    await image.body?.cancel();
    const unsigned = await fetch(`${url}/s,300x0/jpeg,80/examples/photo.jpg`);
    assert.equal(unsigned.status, 403);
    await unsigned.body?.cancel();
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
});

Deno.test("main: every example URL of the README and docs/ answers an image (info: its JSON) with the example config", async () => {
  const root = new URL("..", import.meta.url).pathname;
  const pages = [
    "README.md",
    ...[...Deno.readDirSync(join(root, "docs"))].map((e) => `docs/${e.name}`),
  ]
    .filter((page) => page.endsWith(".md"));
  // Every URL of the `examples` storage that impressionist.json serves, anywhere in a page.
  const found = new Set<string>();
  for (const page of pages) {
    const text = await Deno.readTextFile(join(root, page));
    for (const [path] of text.matchAll(/\/impressionist\/[^\s`'"<>()|]+\/examples\/[\w.-]+/g)) {
      found.add(path);
    }
  }
  const paths = [...found];
  // The README's recipes table alone holds 8.
  assert.ok(paths.length >= 8, `the pages hold ${paths.length} example URLs`);
  const config = JSON.parse(await Deno.readTextFile(join(root, "impressionist.json")));
  config.http.port = 0;
  config.storages[0].path = join(root, "examples");
  const child = spawn(["-cfg", await writeConfig(config)]);
  try {
    const url = await listeningUrl(child);
    for (const path of paths) {
      const response = await fetch(new URL(path, url));
      const body = new Uint8Array(await response.arrayBuffer());
      assert.equal(response.status, 200, `${path}: ${new TextDecoder().decode(body)}`);
      // `info` answers the image's facts as JSON; every other recipe, an image.
      const expected = path.includes("/info/") ? /^application\/json/ : /^image\//;
      assert.match(response.headers.get("content-type")!, expected, path);
    }
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await child.stderr.cancel();
  }
});

Deno.test("main: sign prints a path the server accepts for names with spaces, unicode and %", async () => {
  const keys = [{ key: "736563726574", salt: "68656c6c6f" }];
  const file = await writeConfig({
    http: { host: "127.0.0.1", port: 0, workers: 1 },
    security: { keys },
    storages: [{ name: "files", type: "local", path: "files" }],
  });
  const dir = join(file, "..", "files");
  const names = ["my cat ü.png", "100% sure.png", "a?b#c.png"];
  for (const name of names) await Deno.copyFile(join(dir, "big.png"), join(dir, name));
  const signed = async (path: string) => {
    const { code, stdout, stderr } = await spawn(["sign", "-cfg", file, path]).output();
    return {
      code,
      out: new TextDecoder().decode(stdout).trim(),
      err: new TextDecoder().decode(stderr),
    };
  };
  const child = spawn(["-cfg", file]);
  try {
    const url = new URL(await listeningUrl(child));
    // Written as a person types them, or already percent-encoded: both sign what is requested.
    for (
      const path of [
        "/s,20x0/png/files/my cat ü.png",
        "/s,20x0/png/files/my%20cat%20%C3%BC.png",
        "/s,20x0/png/files/100% sure.png",
        "/s,20x0/png/files/a%3Fb%23c.png",
      ]
    ) {
      const { code, out, err } = await signed(path);
      assert.equal(code, 0, err);
      const image = await fetch(`${url.origin}${out}`);
      assert.equal(image.status, 200, `${path} → ${out}`);
      assert.equal(image.headers.get("content-type"), "image/png");
      await image.body?.cancel();
    }
    // A raw "?" or "#" would end the path in a URL: refused, saying how to write it.
    const raw = await signed("/s,20x0/png/files/a?b#c.png");
    assert.equal(raw.code, 2);
    assert.match(raw.err, /%3F/);
    // A ".." would be resolved away by the URL, signing another path: refused too.
    assert.equal((await signed("/s,20x0/png/files/x/../big.png")).code, 2);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel();
  }
});
