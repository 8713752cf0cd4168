import assert from "node:assert/strict";
import { parseSigningKey, signPath } from "../lib/jobs/signature.ts";
import { alternateSpellings, encode, photoLike, startTestServer } from "./helpers.ts";

const keys = [
  { key: "736563726574", salt: "68656c6c6f" },
  { key: "6f74686572", salt: "73616c74" },
];

async function status(url: string, init?: RequestInit) {
  const response = await fetch(url, init);
  await response.body?.cancel();
  return response.status;
}

Deno.test("security: signed URLs from either key pass, anything else is 403", async () => {
  const server = await startTestServer({ "a.png": await encode(photoLike(40, 30), "png") }, {
    security: { keys },
  });
  try {
    const path = "/s,20x0/png/files/a.png";
    for (const { key, salt } of keys) {
      const signature = await signPath(parseSigningKey(key, salt), path);
      assert.equal(await status(`${server.url}/${signature}${path}`), 200);
    }
    const good = await signPath(parseSigningKey(keys[0].key, keys[0].salt), path);
    const flipped = path.replace("20x0", "21x0");
    assert.equal(await status(`${server.url}/${good}${flipped}`), 403);
    assert.equal(await status(`${server.url}/_${path}`), 403, "unsigned refused by default");
    assert.equal(await status(`${server.url}${path}`), 403);
    const response = await fetch(`${server.url}/${good.slice(1)}x${path}`);
    assert.equal(response.status, 403);
    assert.equal(await response.text(), "Invalid signature\n");
  } finally {
    await server.close();
  }
});

Deno.test("security: a signature in any spelling but the canonical one is 403", async () => {
  const server = await startTestServer({ "a.png": await encode(photoLike(40, 30), "png") }, {
    security: { keys },
  });
  try {
    const key = parseSigningKey(keys[0].key, keys[0].salt);
    // A path whose signature has a "-" and no "_", so its "+" spelling is one path segment.
    let path = "", signature = "";
    for (let width = 1; !/^[^_]*-[^_]*$/.test(signature); width++) {
      path = `/s,${width}x0/png/files/a.png`;
      signature = await signPath(key, path);
    }
    assert.equal(await status(`${server.url}/${signature}${path}`), 200);
    const spellings = [...alternateSpellings(signature), `${signature}%3D`];
    for (const spelling of spellings) {
      assert.equal(await status(`${server.url}/${spelling}${path}`), 403, spelling);
    }
  } finally {
    await server.close();
  }
});

Deno.test("security: allowUnsigned lets _ stand in for the signature", async () => {
  const server = await startTestServer({ "a.png": await encode(photoLike(40, 30), "png") }, {
    security: { keys, allowUnsigned: true },
  });
  try {
    assert.equal(await status(`${server.url}/_/s,20x0/png/files/a.png`), 200);
  } finally {
    await server.close();
  }
});

Deno.test("security: a token is required everywhere but /health", async () => {
  const server = await startTestServer({ "a.png": await encode(photoLike(40, 30), "png") }, {
    security: { token: "s3cret" },
  });
  try {
    const url = `${server.url}/gs/png/files/a.png`;
    const base = server.url.replace("/impressionist", "");
    assert.equal(await status(url), 401);
    assert.equal(await status(url, { headers: { authorization: "Bearer wrong" } }), 401);
    const allowed = await fetch(url, { headers: { authorization: "Bearer s3cret" } });
    await allowed.body?.cancel();
    assert.equal(allowed.status, 200);
    // Only holders of the token may see it: no shared cache may keep it for everyone.
    assert.equal(allowed.headers.get("cache-control"), "private, max-age=86400");
    assert.equal(await status(`${base}/metrics`), 401);
    assert.equal(
      await status(`${base}/metrics`, { headers: { authorization: "Bearer s3cret" } }),
      200,
    );
    const health = await fetch(`${base}/health`);
    assert.equal(health.status, 200);
    assert.doesNotMatch(await health.text(), /s3cret/);
  } finally {
    await server.close();
  }
});

Deno.test("main: sign prints a path the server accepts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = `${dir}/c.json`;
    await Deno.writeTextFile(
      config,
      JSON.stringify({
        security: { keys: [{ key: "${SIGN_KEY}", salt: "${SIGN_SALT:-68656c6c6f}" }] },
      }),
    );
    const main = new URL("../main.ts", import.meta.url).pathname;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", main, "sign", "-cfg", config, "/s,20x0/png/files/a.png"],
      env: { SIGN_KEY: "736563726574" },
    }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    const expected = await signPath(
      parseSigningKey("736563726574", "68656c6c6f"),
      "/s,20x0/png/files/a.png",
    );
    assert.equal(
      new TextDecoder().decode(output.stdout).trim(),
      `/impressionist/${expected}/s,20x0/png/files/a.png`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
