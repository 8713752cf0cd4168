import { AwsClient } from "aws4fetch";
import { ConfigError } from "../lib/config/config.ts";
import type { ConfigReader } from "../lib/config/reader.ts";
import { BadGateway, Forbidden, NotFound, TooLarge } from "../lib/errors.ts";
import {
  encodePath,
  lastModified,
  readBaseUrl,
  readCapped,
  readTimeout,
  withDeadline,
} from "./fetch_body.ts";
import type { GetOptions, Source, StorageFactory } from "./storage.ts";

// S3's rules, which also keep the name from changing the host of a virtual-hosted URL.
const bucketPattern = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const regionPattern = /^[a-z0-9-]+$/;
/** Error documents are small; a longer body is not read for its code. */
const maxErrorBytes = 64 * 1024;

interface S3Settings {
  client: AwsClient;
  /** Where object keys are appended: the bucket's URL, ending in "/". */
  bucketUrl: string;
  prefix: string;
  timeoutMs: number;
}

/**
 * Objects of an S3 bucket (AWS, or any S3-compatible server through `endpoint`), fetched
 * with Signature V4 and revalidated with their ETag.
 *
 * @throws {ConfigError} for a bad bucket, region, endpoint, credentials or timeout
 */
export const createS3Storage: StorageFactory = (config) =>
  // Promise.try turns a bad key into a rejection, as from an async factory.
  Promise.try(() => {
    const settings = readSettings(config.reader);
    return {
      get: (path, options) => getS3(settings, path, options),
      put: (path, bytes, signal) => putS3(settings, path, bytes, signal),
    };
  });

function readSettings(reader: ConfigReader): S3Settings {
  const bucket = reader.string("bucket");
  const region = reader.string("region", "us-east-1");
  const endpoint = reader.raw.endpoint === undefined ? undefined : readBaseUrl(reader, "endpoint");
  const prefix = (reader.optionalString("prefix") ?? "").replace(/^\/+|\/+$/g, "");
  const client = new AwsClient({
    accessKeyId: reader.string("accessKeyId"),
    secretAccessKey: reader.string("secretAccessKey"),
    service: "s3",
    region,
    // Retrying is the caller's decision, within its own deadline.
    retries: 0,
  });
  const timeoutMs = readTimeout(reader);
  reader.rejectUnknown();
  if (!bucketPattern.test(bucket)) {
    throw new ConfigError(`"${reader.name("bucket")}" is not a valid bucket name: "${bucket}"`);
  }
  if (!regionPattern.test(region)) {
    throw new ConfigError(`"${reader.name("region")}" is not a valid region: "${region}"`);
  }
  // Path-style for custom endpoints: they rarely have a DNS name per bucket.
  const bucketUrl = endpoint
    ? `${endpoint.href}${bucket}/`
    : `https://${bucket}.s3.${region}.amazonaws.com/`;
  return { client, bucketUrl, prefix, timeoutMs };
}

function getS3(
  settings: S3Settings,
  path: string,
  options: GetOptions,
): Promise<Source | "not-modified"> {
  return withDeadline(settings.timeoutMs, options.signal, async (signal) => {
    const url = objectUrl(settings, path);
    // No Accept-Encoding of ours: it would be signed, and fetch's default is the same.
    const headers = new Headers();
    if (options.validator) headers.set("If-None-Match", options.validator);
    // Redirects name another region or host; the signature would not hold there anyway.
    const response = await settings.client.fetch(url, { headers, signal, redirect: "manual" });
    if (response.status === 304 && options.validator) {
      await response.body?.cancel();
      return "not-modified";
    }
    if (!response.ok) throw await s3Error(response, path, signal);
    const bytes = await readCapped(response, options.maxBytes, signal, options.reserve);
    const validator = response.headers.get("etag");
    if (!validator) throw new BadGateway(`S3 sent "${path}" without an ETag`);
    return { bytes, validator, modified: lastModified(response.headers) };
  });
}

/** Writes one object, signed like the reads (the payload's SHA-256 included), within `timeout`. */
function putS3(
  settings: S3Settings,
  path: string,
  bytes: Uint8Array<ArrayBuffer>,
  signal?: AbortSignal,
): Promise<void> {
  return withDeadline(settings.timeoutMs, signal, async (signal) => {
    const response = await settings.client.fetch(objectUrl(settings, path), {
      method: "PUT",
      body: bytes,
      headers: { "content-type": "application/octet-stream" },
      signal,
      redirect: "manual",
    });
    if (!response.ok) throw await s3Error(response, path, signal);
    await response.body?.cancel();
  });
}

function objectUrl(settings: S3Settings, path: string): string {
  const key = settings.prefix ? `${settings.prefix}/${path}` : path;
  return settings.bucketUrl + encodePath(key);
}

/** Maps an S3 error answer to our errors, naming S3's error code from its XML body. */
async function s3Error(response: Response, path: string, signal: AbortSignal): Promise<Error> {
  const body = await readCapped(response, maxErrorBytes, signal).catch((error) => {
    // Too long for an error document: there is just no code to report.
    if (error instanceof TooLarge) return new Uint8Array();
    throw error;
  });
  const code = /<Code>([^<]*)<\/Code>/.exec(new TextDecoder().decode(body))?.[1];
  const detail = code ?? `status ${response.status}`;
  if (response.status === 404) return new NotFound(`No file "${path}" (${detail})`);
  if (response.status === 403) return new Forbidden(`S3 refused "${path}" (${detail})`);
  return new BadGateway(`S3 answered ${response.status} for "${path}" (${detail})`);
}
