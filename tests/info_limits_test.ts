// The largest allowed JPEG XL and info requests, and what is left of the CPU after a 503: each
// backend in a process of its own, so its memory and CPU are read from /proc.
import assert from "node:assert/strict";
import { backendNames, cpuDuring, startBackendChild } from "./child_server.ts";
import { decode, encode, photoLike, pureDecodeCpu } from "./helpers.ts";

const MiB = 2 ** 20;
/** 2048x2048: exactly JPEG XL's pixel limit (2^22). */
const atJxlLimit = await encode(photoLike(2048, 2048), "jpeg", 90);
/** A thin source, so that stretching it to the longest side makes no large intermediate. */
const line = await encode(photoLike(100, 1), "png");

async function fetchStatus(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url);
  const body = new Uint8Array(await response.arrayBuffer());
  return { status: response.status, text: new TextDecoder().decode(body.subarray(0, 200)) };
}

for (const backend of await backendNames()) {
  Deno.test(`limits: the largest JPEG XL and info requests on ${backend}, and the CPU after a 503`, async () => {
    const server = await startBackendChild({ "big.jpg": atJxlLimit, "line.png": line }, backend, {
      http: { timeout: "60s" },
    }, { maxRss: 2048 * MiB });
    if (!server) return;
    try {
      const jxl = await fetchStatus(`${server.url}/s,2048x2048/jxl/files/big.jpg`);
      assert.equal(jxl.status, 200, jxl.text);
      const over = await fetchStatus(`${server.url}/s,2049x2048/jxl/files/big.jpg`);
      assert.equal(over.status, 400, over.text);
      assert.match(over.text, /"jxl" allows at most 4194304 pixels/);
      // The longest side a URL can ask for (100000) is within JPEG XL's (131328, planned and
      // tested at ±1 in avif_jxl_test.ts), and djxl reads it back at that size.
      const thin = await fetch(`${server.url}/s,100000x1/jxl/files/line.png`);
      const thinBytes = new Uint8Array(await thin.arrayBuffer());
      const text = new TextDecoder().decode(thinBytes.subarray(0, 200));
      if (thin.status === 400 && /backend allows at most \d+ pixels per side/.test(text)) {
        console.log(`${backend}: its library's own side limit first: ${text.trim()}`);
      } else {
        assert.equal(thin.status, 200, text);
        const decoded = await decode(thinBytes);
        assert.deepEqual([decoded.width, decoded.height], [100000, 1]);
      }
      const info = await fetchStatus(`${server.url}/s,2048x2048,b,2/info/files/big.jpg`);
      assert.equal(info.status, 200, info.text);
      const peak = server.peakRss() / MiB;
      console.log(`${backend}: peak RSS ${peak.toFixed(0)} MiB for a 2048x2048 JPEG XL and info`);
      assert.ok(peak < 1024, `${backend}: peak RSS ${peak.toFixed(0)} MiB`);
    } finally {
      await server.close();
    }
  });

  Deno.test(`limits: a JPEG XL that cannot finish within http.timeout is refused before it starts on ${backend}; info stops at its deadline`, async () => {
    const server = await startBackendChild({ "big.jpg": atJxlLimit }, backend, {
      http: { timeout: "1s" },
    });
    if (!server) return;
    try {
      const jxl = await fetchStatus(`${server.url}/s,2048x2048/jxl/files/big.jpg`);
      // Planned like AVIF and WebP: an encode nothing can stop, longer than the timeout.
      assert.equal(jxl.status, 400, jxl.text);
      assert.match(jxl.text, /jxl .*http\.timeout/);
      const afterJxl = await cpuDuring(server.pid, 2000);
      assert.ok(
        afterJxl < 0.5,
        `${backend}: ${afterJxl.toFixed(2)} s of CPU after the JPEG XL refusal`,
      );
      const runaway = `/${Array(8).fill("b,50").join(",")}/info/files/big.jpg`;
      const info = await fetchStatus(server.url + runaway);
      if (info.status === 422 && backend === "imagemagick") return; // its policy refuses the blur
      assert.equal(info.status, 503, info.text);
      // Idle within 0.5 s of the 503; on pure plus one uninterruptible WebAssembly decode.
      const codec = backend === "pure" ? await pureDecodeCpu(atJxlLimit) : 0;
      const afterInfo = await cpuDuring(server.pid, 2000);
      assert.ok(
        afterInfo < 0.5 + codec,
        `${backend}: ${afterInfo.toFixed(2)} s of CPU after the info 503`,
      );
    } finally {
      await server.close();
    }
  });
}
