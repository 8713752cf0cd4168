import type { StorageConfig } from "../lib/config/config.ts";

/** Source bytes and what the storage knows for caching them. */
export interface Source {
  bytes: Uint8Array;
  /** Changes whenever the content changes: size and mtime, or an upstream ETag. */
  validator: string;
  modified?: Date;
}

export interface GetOptions {
  /** The validator of a cached copy: when it still holds, `get` answers "not-modified". */
  validator?: string;
  /** Larger sources are refused with TooLarge (413) before they are read. */
  maxBytes: number;
  signal?: AbortSignal;
  /**
   * Called before the storage allocates room for source bytes, with how many: the known size
   * before reading, or each growth of a buffer whose final size is unknown. It throws (a 503)
   * when the server holds too many source bytes already, which stops the read before the
   * memory is taken.
   */
  reserve?(bytes: number): void;
  /**
   * Asks for the bytes in shared memory (sources, which the pool's workers read), for a storage
   * that can read them there at no cost; others answer plain bytes, which the caller copies.
   */
  shared?: boolean;
}

/**
 * How long a storage's answers are trusted (`revalidate`, `staleIfError`), in ms: a validator
 * is used without asking the storage for `revalidateMs`; when asking fails, the last result
 * made from it may still be served for `staleIfErrorMs` more.
 */
export interface Freshness {
  revalidateMs: number;
  staleIfErrorMs: number;
}

/**
 * Where source images come from. Paths are relative, already checked by the URL parser;
 * a storage still makes sure it never serves anything outside its own root.
 */
export interface Storage {
  /**
   * @throws {NotFound} when there is no such file
   * @throws {TooLarge} when the file exceeds `maxBytes`
   */
  get(path: string, options: GetOptions): Promise<Source | "not-modified">;
  /**
   * Stores `bytes` under `path`, replacing what was there, for storages that accept writes
   * (the shared result store). Readers never see a half-written object.
   */
  put?(path: string, bytes: Uint8Array<ArrayBuffer>, signal?: AbortSignal): Promise<void>;
  /** Its freshness keys, set by `createStorages`; absent: every use asks the storage. */
  freshness?: Freshness;
}

/** A storage that accepts writes. */
export type WritableStorage = Storage & Required<Pick<Storage, "put">>;

/** A storage module: builds a storage from its config entry. */
export type StorageFactory = (config: StorageConfig, baseDir: string) => Promise<Storage>;
