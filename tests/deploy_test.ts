// The whole arrangement of deploy/: two instances (separate processes) sharing a result store
// on an S3 server, behind an nginx running deploy/nginx.conf with only its ports and paths
// replaced. Skips with a printed reason when nginx is not installed, except under CI=true.
// Then the unit: systemd-analyze verify, and deploy/README.md's install step followed in a copy
// of the checkout, its result run with the unit's command and environment as another user on a
// read-only checkout (as root on Linux; skipped elsewhere, except under CI=true).
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { encode, listeningUrl, photoLike, spawnMain } from "./helpers.ts";
import { s3Credentials, startS3, type TestS3 } from "./s3rver.ts";

const nginxBinary = "/usr/sbin/nginx";
const committedConfig = new URL("../deploy/nginx.conf", import.meta.url);
/** Debian's stock nginx configuration, as the nginx package installs it. */
const stockNginx = "/etc/nginx";

async function nginxMissing(): Promise<boolean> {
  const found = await Deno.stat(nginxBinary).then(() => true, () => false);
  if (found || Deno.env.get("CI") === "true") return false;
  console.log(`skipped: ${nginxBinary} is not installed (apt-get install nginx)`);
  return true;
}

/** An instance of main.ts, with its own config file. */
interface Instance {
  child: Deno.ChildProcess;
  port: number;
  stderr: Promise<string>;
}

/** Writes an instance's config file; `port` 0 picks a free one. */
async function writeInstanceConfig(file: string, s3: TestS3, port: number, cacheControl?: string) {
  const config = {
    http: { host: "127.0.0.1", port, workers: 1, queue: 64, timeout: "60s", cacheControl },
    storages: [
      { name: "files", type: "local", path: "files" },
      { name: "store", type: "s3", ...s3Credentials, endpoint: s3.endpoint, bucket: "results" },
    ],
    caches: { shared: "store" },
  };
  await Deno.writeTextFile(file, JSON.stringify(config));
}

async function startInstance(dir: string, name: string, s3: TestS3): Promise<Instance> {
  const file = join(dir, `${name}.json`);
  await writeInstanceConfig(file, s3, 0);
  const child = spawnMain(["-cfg", file]);
  const stderr = new Response(child.stderr).text();
  const url = await listeningUrl(child).catch(async (error) => {
    throw new Error(`${error.message}\n${await stderr}`);
  });
  return { child, port: Number(new URL(url).port), stderr };
}

/** Stops a child process if it still runs, and waits for it. */
async function stop(child: Deno.ChildProcess, signal: Deno.Signal = "SIGTERM") {
  try {
    child.kill(signal);
  } catch {
    // It has exited already.
  }
  await child.status;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Replaces `from` in `text`, which must occur exactly `count` times. */
function replaceExactly(text: string, from: string, to: string, count = 1): string {
  const found = text.split(from).length - 1;
  assert.equal(found, count, `deploy/nginx.conf should hold "${from}" ${count} time(s)`);
  return text.replaceAll(from, to);
}

/**
 * A copy of Debian's stock /etc/nginx (nginx.conf, mime.types, the default site) under `dir`,
 * with deploy/nginx.conf dropped into its conf.d/ as the README says. Only what a test cannot
 * use is replaced: ports, absolute paths, the server name (the test's requests say
 * `Host: 127.0.0.1`) and, as root, the workers' user (nobody cannot enter the temporary dir).
 */
async function writeNginxConfig(dir: string, ports: number[], listen: number): Promise<string> {
  const stock = (name: string) => Deno.readTextFile(join(stockNginx, name));
  let site = await Deno.readTextFile(committedConfig);
  site = replaceExactly(site, "server 127.0.0.1:8081 ", `server 127.0.0.1:${ports[0]} `);
  site = replaceExactly(site, "server 127.0.0.1:8082 ", `server 127.0.0.1:${ports[1]} `);
  site = replaceExactly(site, "listen 80;", `listen 127.0.0.1:${listen};`);
  site = replaceExactly(site, "server_name images.example.com;", "server_name 127.0.0.1;");
  site = replaceExactly(site, "/var/cache/nginx-impressionist ", `${dir}/cache `);
  let fallback = await stock("sites-available/default");
  fallback = replaceExactly(
    fallback,
    "listen 80 default_server;",
    `listen 127.0.0.1:${listen} default_server;`,
  );
  fallback = replaceExactly(fallback, "listen [::]:80 default_server;", "");
  fallback = replaceExactly(fallback, "root /var/www/html;", `root ${dir}/www;`);
  let main = await stock("nginx.conf");
  main = replaceExactly(main, "user www-data;", Deno.uid() === 0 ? "user root;" : "");
  main = replaceExactly(main, "pid /run/nginx.pid;", `pid ${dir}/nginx.pid;`);
  main = main.replaceAll("/var/log/nginx/", `${dir}/`).replaceAll("/etc/nginx/", `${dir}/`);
  const temps = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((temp) => `\t${temp}_temp_path ${dir}/${temp}_temp;`);
  main = replaceExactly(main, "http {", ["http {", ...temps].join("\n"));
  for (const folder of ["conf.d", "sites-enabled", "www"]) await Deno.mkdir(join(dir, folder));
  await Deno.writeTextFile(join(dir, "mime.types"), await stock("mime.types"));
  await Deno.writeTextFile(join(dir, "conf.d", "impressionist.conf"), site);
  await Deno.writeTextFile(join(dir, "sites-enabled", "default"), fallback);
  await Deno.writeTextFile(join(dir, "www", "index.html"), "the default site\n");
  const file = join(dir, "nginx.conf");
  await Deno.writeTextFile(file, main);
  return file;
}

async function startNginx(dir: string, ports: number[]) {
  const listen = freePort();
  const config = await writeNginxConfig(dir, ports, listen);
  const args = ["-p", dir, "-c", config, "-e", `${dir}/error.log`];
  const test = await new Deno.Command(nginxBinary, { args: [...args, "-t"], stderr: "piped" })
    .output();
  const said = new TextDecoder().decode(test.stderr);
  assert.ok(test.success, `nginx -t: ${said}`);
  assert.doesNotMatch(said, /\[(warn|emerg|alert|crit|error)\]/, `nginx -t is clean: ${said}`);
  const child = new Deno.Command(nginxBinary, {
    args: [...args, "-g", "daemon off;"],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const url = `http://127.0.0.1:${listen}`;
  for (let i = 0;; i++) {
    const up = await fetch(`${url}/health`).then(async (r) => {
      await r.body?.cancel();
      return r.ok;
    }, () => false);
    if (up) break;
    if (i === 100) {
      await stop(child);
      const log = await Deno.readTextFile(`${dir}/error.log`).catch(() => "");
      throw new Error(`nginx did not start: ${await stderr}${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, url };
}

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  const body = new Uint8Array(await response.arrayBuffer());
  const header = (name: string) => response.headers.get(name);
  return { status: response.status, body, header };
}

Deno.test({
  name:
    "deploy: two instances share results through S3, nginx caches them, a SIGTERM loses nothing",
  ignore: await nginxMissing(),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "impressionist-deploy-" });
    const s3 = await startS3(["results"]);
    const children: Deno.ChildProcess[] = [];
    try {
      await Deno.mkdir(join(dir, "files"));
      const photo = await encode(photoLike(640, 480), "jpeg");
      await Deno.writeFile(join(dir, "files", "photo.jpg"), photo);
      const a = await startInstance(dir, "a", s3);
      children.push(a.child);
      const b = await startInstance(dir, "b", s3);
      children.push(b.child);
      await Deno.mkdir(join(dir, "nginx"));
      const nginx = await startNginx(join(dir, "nginx"), [a.port, b.port]);
      children.push(nginx.child);

      // A result made on A is served by B from the shared store.
      const path = "/impressionist/s,400x0/jpeg/files/photo.jpg";
      const made = await get(`http://127.0.0.1:${a.port}${path}`);
      assert.equal(made.status, 200);
      assert.equal(made.header("x-cache"), "miss");
      const key = `results/${made.header("etag")!.slice(1, -1)}`;
      for (let i = 0; !(await s3.client.fetch(s3.objectUrl("results", key))).ok; i++) {
        assert.ok(i < 100, "instance A never wrote the result to the shared store");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const shared = await get(`http://127.0.0.1:${b.port}${path}`);
      assert.equal(shared.status, 200);
      assert.equal(shared.header("x-cache"), "shared");
      assert.equal(shared.header("etag"), made.header("etag"));
      assert.deepEqual(shared.body, made.body);

      // The site answers its own server_name; another host name gets Debian's default site.
      const other = await get(`${nginx.url.replace("127.0.0.1", "localhost")}/`);
      assert.equal(new TextDecoder().decode(other.body), "the default site\n");
      assert.equal(other.header("x-cache-status"), null);

      // nginx answers a repeat from its own cache.
      const first = await get(`${nginx.url}/impressionist/s,300x0/jpeg/files/photo.jpg`);
      assert.equal(first.status, 200);
      assert.equal(first.header("x-cache-status"), "MISS");
      const repeat = await get(`${nginx.url}/impressionist/s,300x0/jpeg/files/photo.jpg`);
      assert.equal(repeat.header("x-cache-status"), "HIT");
      assert.equal(repeat.header("etag"), first.header("etag"));
      assert.deepEqual(repeat.body, first.body);
      const conditional = await fetch(`${nginx.url}/impressionist/s,300x0/jpeg/files/photo.jpg`, {
        headers: { "if-none-match": first.header("etag")! },
      });
      await conditional.body?.cancel();
      assert.equal(conditional.status, 304);

      // `auto`: one entry per answer the server can give, whatever the Accept spelling.
      const auto = `${nginx.url}/impressionist/s,200x0/auto/files/photo.jpg`;
      const accepts: [string, string, string][] = [
        ["image/webp,*/*", "image/webp", "MISS"],
        ["image/avif,image/webp;q=0.9,image/*", "image/webp", "HIT"],
        ["image/jpeg,*/*;q=0.8", "image/jpeg", "MISS"],
        ["image/webp;q=0,image/*", "image/jpeg", "HIT"],
        ["", "image/jpeg", "HIT"],
      ];
      for (const [accept, type, status] of accepts) {
        const answer = await get(auto, accept ? { accept } : {});
        assert.equal(answer.header("content-type"), type, `Accept: ${accept}`);
        assert.equal(answer.header("x-cache-status"), status, `Accept: ${accept}`);
        assert.equal(answer.header("vary"), "Accept");
      }

      // Requests with Authorization always reach an instance, and are not stored.
      const authorized = `${nginx.url}/impressionist/s,150x0/jpeg/files/photo.jpg`;
      const withToken = await get(authorized, { authorization: "Bearer t" });
      assert.equal(withToken.status, 200);
      assert.equal(withToken.header("x-cache-status"), "BYPASS");
      assert.equal((await get(authorized)).header("x-cache-status"), "MISS");
      // `no-store` answers are not stored.
      for (let i = 0; i < 2; i++) {
        assert.equal((await get(`${nginx.url}/health`)).header("x-cache-status"), "MISS");
      }

      // 200 distinct results through nginx, 8 at a time; instance A stops after the 40th.
      const total = 200;
      const statuses: number[] = [];
      let next = 0;
      let sigterm: Promise<Deno.CommandStatus> | undefined;
      const client = async () => {
        while (next < total) {
          const width = 100 + next++;
          const answer = await get(`${nginx.url}/impressionist/s,${width}x0/jpeg/files/photo.jpg`);
          assert.equal(
            answer.status,
            200,
            `s,${width}x0: ${new TextDecoder().decode(answer.body)}`,
          );
          assert.equal(answer.header("content-type"), "image/jpeg");
          assert.equal(answer.body.byteLength, Number(answer.header("content-length")));
          statuses.push(answer.status);
          if (statuses.length === 40) {
            a.child.kill("SIGTERM");
            sigterm = a.child.status;
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, client));
      assert.equal(statuses.length, total);
      assert.ok(sigterm, "instance A was stopped during the run");
      assert.equal((await sigterm).code, 0, await a.stderr);
      const afterwards = await get(`${nginx.url}/impressionist/s,99x0/jpeg/files/photo.jpg`);
      assert.equal(afterwards.status, 200, "instance B serves alone");

      // `private` answers are not stored: B is reloaded (SIGHUP) to send them.
      await writeInstanceConfig(join(dir, "b.json"), s3, b.port, "private, max-age=600");
      b.child.kill("SIGHUP");
      const personal = `${nginx.url}/impressionist/s,98x0/jpeg/files/photo.jpg`;
      for (let i = 0;; i++) {
        const answer = await get(
          `http://127.0.0.1:${b.port}/impressionist/s,97x0/jpeg/files/photo.jpg`,
        );
        if (answer.header("cache-control") === "private, max-age=600") break;
        assert.ok(i < 100, "instance B never reloaded its config");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      for (const expected of ["MISS", "MISS"]) {
        const answer = await get(personal);
        assert.equal(answer.status, 200);
        assert.equal(answer.header("cache-control"), "private, max-age=600");
        assert.equal(answer.header("x-cache-status"), expected);
      }
    } finally {
      for (const child of children.reverse()) await stop(child);
      await s3.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const unitFile = new URL("../deploy/impressionist@.service", import.meta.url);

async function systemdAnalyzeMissing(): Promise<boolean> {
  const found = await Deno.stat("/usr/bin/systemd-analyze").then(() => true, () => false);
  if (found || Deno.env.get("CI") === "true") return false;
  console.log("skipped: systemd-analyze is not installed (apt-get install systemd)");
  return true;
}

Deno.test({
  name: "deploy: systemd-analyze verify accepts the template unit and an instance of it",
  ignore: await systemdAnalyzeMissing(),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "impressionist-unit-" });
    try {
      // An instance is verified through a copy named as systemd would load it.
      await Deno.copyFile(unitFile, join(dir, "impressionist@.service"));
      for (const unit of [unitFile.pathname, join(dir, "impressionist@8081.service")]) {
        const verify = await new Deno.Command("systemd-analyze", {
          args: ["verify", unit],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const said = new TextDecoder().decode(verify.stdout) +
          new TextDecoder().decode(verify.stderr);
        assert.ok(verify.success, `${unit}: ${said}`);
        // Unknown keys and bad values are warnings, with success: none is allowed.
        assert.equal(said.trim(), "", `${unit}: ${said}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("deploy: the unit runs what the install steps install, and needs no optional folder", async () => {
  const unit = await Deno.readTextFile(unitFile);
  const exec = /^ExecStart=(.+)$/m.exec(unit)?.[1] ?? "";
  assert.equal(exec, "/bin/sh /opt/impressionist/impressionist -cfg /etc/impressionist/%i.json");
  // The launcher it runs is the checkout's, and it runs main.ts with the deno on PATH.
  const launcher = await Deno.readTextFile(new URL("../impressionist", import.meta.url));
  assert.match(launcher, /exec deno run --allow-all --quiet "\$here\/main.ts" "\$@"/);
  // Every step of the install comment is in deploy/README.md, which walks through them.
  const readme = await Deno.readTextFile(new URL("../deploy/README.md", import.meta.url));
  for (const step of unit.matchAll(/^# {3}(.+)$/gm)) {
    const command = step[1].replace(/\s*\\$/, "").trim();
    assert.ok(readme.includes(command), `deploy/README.md shows "${command}"`);
  }
  // A path the unit requires must exist at start: only optional ones ("-") are allowed.
  for (const line of unit.matchAll(/^(ReadOnlyPaths|ReadWritePaths|InaccessiblePaths)=(.+)$/gm)) {
    for (const path of line[2].split(/\s+/)) assert.ok(path.startsWith("-"), line[0]);
  }
});

/** Skips (with the reason printed) where a private mount namespace can't be had, except in CI. */
function sandboxMissing(): boolean {
  if (Deno.build.os === "linux" && Deno.uid() === 0) return false;
  if (Deno.env.get("CI") === "true") return false;
  console.log("skipped: the read-only run of deploy/ needs root on Linux (unshare, setpriv)");
  return true;
}

/** Runs a command to its end; fails with its output unless it succeeded. */
async function run(command: string, args: string[], options: Deno.CommandOptions = {}) {
  const done = await new Deno.Command(command, {
    args,
    stdout: "piped",
    stderr: "piped",
    ...options,
  })
    .output();
  const said = new TextDecoder().decode(done.stdout) + new TextDecoder().decode(done.stderr);
  assert.ok(done.success, `${command} ${args.join(" ")}: ${said}`);
}

/**
 * A copy of the checkout (tracked and untracked files, not ignored ones: no node_modules, no
 * .deno) at `to`, as `git clone` or a copy of a checkout would lay it out on a server.
 */
async function copyCheckout(to: string) {
  const root = new URL("..", import.meta.url).pathname;
  const listed = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: root,
    stdout: "piped",
  }).output();
  for (const file of new TextDecoder().decode(listed.stdout).split("\0").filter(Boolean)) {
    const exists = await Deno.stat(join(root, file)).then(() => true, () => false);
    if (!exists) continue; // deleted in the work tree, not yet committed
    await Deno.mkdir(join(to, dirname(file)), { recursive: true });
    await Deno.copyFile(join(root, file), join(to, file));
  }
}

Deno.test({
  name: "deploy: deploy/README.md's install, run as the unit runs it (read-only, no home, " +
    "another user), serves every format on every backend without fetching anything",
  ignore: sandboxMissing(),
  async fn() {
    const readme = await Deno.readTextFile(new URL("../deploy/README.md", import.meta.url));
    const unit = await Deno.readTextFile(unitFile);
    const dir = await Deno.makeTempDir({ prefix: "impressionist-install-" });
    const checkout = join(dir, "opt");
    const servers: Deno.ChildProcess[] = [];
    try {
      await Deno.chmod(dir, 0o755);
      await copyCheckout(checkout);
      // The pinned Deno, where the install puts it (a hard link where it can be: 95 MB).
      await Deno.mkdir(join(dir, "bin"));
      await Deno.link(Deno.execPath(), join(dir, "bin", "deno"))
        .catch(() => Deno.copyFile(Deno.execPath(), join(dir, "bin", "deno")));
      // deploy/README.md's step that fetches the dependencies, with the paths moved. Its npm
      // cache starts as a copy of this machine's (hard links where they can be: nothing is
      // downloaded again), so what lands in node_modules is what the step installs, no more.
      const step = /^cd \/opt\/impressionist && (.+) \\\n\s+(deno install .+)$/m.exec(readme);
      assert.ok(step, "deploy/README.md shows the `deno install` step");
      const install = `${step[1]} ${step[2]}`.replaceAll("/opt/impressionist", checkout);
      const denoDir = /^Environment=DENO_DIR=(.+)$/m.exec(unit)?.[1];
      assert.equal(denoDir, "/opt/impressionist/.deno", "the unit reads the DENO_DIR installed");
      const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
      const cache = join(JSON.parse(new TextDecoder().decode(info.stdout)).denoDir, "npm");
      await Deno.mkdir(join(checkout, ".deno"));
      const npm = join(checkout, ".deno", "npm");
      await run("sh", ["-c", 'cp -al "$0" "$1" 2>/dev/null || cp -a "$0" "$1"', cache, npm]);
      await run("sh", ["-c", install], {
        cwd: checkout,
        env: { PATH: `${dir}/bin:/usr/bin:/bin`, DENO_NO_UPDATE_CHECK: "1" },
        clearEnv: true,
      });
      // The unit's command and environment, with the paths moved.
      const moved = (text: string) =>
        text.replaceAll("/opt/impressionist", checkout).replaceAll("/etc/impressionist", dir);
      const env = [...unit.matchAll(/^Environment=(.+)$/gm)].map((m) => moved(m[1]));
      const exec = moved(/^ExecStart=(.+)$/m.exec(unit)![1]);
      const backends = ["pure", "vips", "imagemagick", "graphicsmagick"];
      const urls = await Promise.all(backends.map(async (backend, i) => {
        const config = {
          http: { host: "127.0.0.1", port: 0, workers: 1 },
          backend,
          storages: [{ name: "files", type: "local", path: join(checkout, "examples") }],
        };
        await Deno.writeTextFile(join(dir, `${backend}.json`), JSON.stringify(config));
        // ProtectSystem=strict for the checkout (its code, .deno and node_modules), and
        // DynamicUser: a user that owns nothing, whose home is /.
        const sandboxed = [
          `mount --bind ${checkout} ${checkout}`,
          `mount -o remount,bind,ro ${checkout}`,
          `exec setpriv --reuid=${61000 + i} --regid=${61000 + i} --clear-groups ` +
          `--no-new-privs env -i HOME=/ PATH=${dir}/bin:/usr/bin:/bin ${env.join(" ")} ` +
          exec.replaceAll("%i", backend),
        ].join(" && ");
        const child = new Deno.Command("unshare", {
          args: ["-m", "--propagation", "private", "sh", "-c", sandboxed],
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        servers.push(child);
        const stderr = new Response(child.stderr).text();
        return await listeningUrl(child).catch(async (error) => {
          throw new Error(`${backend}: ${error.message}\n${await stderr}`);
        });
      }));
      for (const [i, url] of urls.entries()) {
        for (const format of ["jpeg", "png", "webp", "avif", "jxl", "gif", "info"]) {
          const answer = await get(`${url}/s,64x0/${format}/files/photo.jpg`);
          const said = `${backends[i]} ${format}: ${new TextDecoder().decode(answer.body)}`;
          assert.equal(answer.status, 200, said);
          const type = format === "info" ? "application/json" : `image/${format}`;
          assert.equal(answer.header("content-type"), type, said);
        }
      }
    } finally {
      for (const child of servers) await stop(child);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
