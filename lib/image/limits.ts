/** Limits that protect the server from hostile URLs and sources. */
export interface ImageLimits {
  maxSourceBytes: number;
  maxSourcePixels: number;
  maxOutputPixels: number;
  maxChain: number;
  maxBlurSigma: number;
}
