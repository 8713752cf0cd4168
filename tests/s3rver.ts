// An S3-compatible server for tests and benches: s3rver in-process on a loopback port.
import { AwsClient } from "aws4fetch";
// A test-only dependency, so it stays out of the app's import map.
// deno-lint-ignore no-import-prefix
import S3rver from "npm:s3rver@3.7.1";

/** s3rver's built-in account. */
export const s3Credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export interface TestS3 {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  /** Signed requests with the built-in account, for setting up and inspecting buckets. */
  client: AwsClient;
  /** The URL of an object. */
  objectUrl(bucket: string, key: string): string;
  /** Stops the server and removes its directory. */
  close(): Promise<void>;
}

/** Starts s3rver on a free loopback port over a temporary directory, with `buckets` created. */
export async function startS3(buckets: string[]): Promise<TestS3> {
  const directory = await Deno.makeTempDir({ prefix: "impressionist-s3-" });
  const server = new S3rver({ address: "127.0.0.1", port: 0, directory, silent: true });
  const close = async () => {
    await server.close();
    await Deno.remove(directory, { recursive: true });
  };
  try {
    const { port } = await server.run();
    const endpoint = `http://127.0.0.1:${port}`;
    const client = new AwsClient({ ...s3Credentials, service: "s3", region: "us-east-1" });
    for (const bucket of buckets) {
      await expectOk(client.fetch(`${endpoint}/${bucket}`, { method: "PUT" }));
    }
    const objectUrl = (bucket: string, key: string) =>
      `${endpoint}/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
    return { endpoint, client, objectUrl, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Awaits a response and fails with its status and body unless it is a 2xx. */
export async function expectOk(pending: Promise<Response>): Promise<void> {
  const response = await pending;
  const text = await response.text();
  if (!response.ok) throw new Error(`${response.status}: ${text}`);
}
