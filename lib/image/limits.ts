/** Limits that protect the server from hostile URLs and sources. */
export interface ImageLimits {
  maxSourceBytes: number;
  maxSourcePixels: number;
  maxOutputPixels: number;
  /** Frames of an animation decoded whole (a GIF result); a still result reads one. */
  maxFrames: number;
  maxChain: number;
  maxBlurSigma: number;
}
