/** Limits that protect the server from hostile URLs and sources. */
export interface ImageLimits {
  maxSourceBytes: number;
  maxSourcePixels: number;
  maxOutputPixels: number;
  /** Frames of an animation decoded whole (a GIF result); a still result reads one. */
  maxFrames: number;
  maxChain: number;
  maxBlurSigma: number;
  /**
   * The most memory one job may plan to use at its peak (`image.maxJobBytes`): decoded source,
   * every intermediate, the encoder's working set. Unchecked when absent.
   */
  maxJobBytes?: number;
  /**
   * The time a codec call that nothing can stop must plan to fit in (`http.timeout`, in
   * milliseconds). Unchecked when absent.
   */
  timeoutMs?: number;
}
