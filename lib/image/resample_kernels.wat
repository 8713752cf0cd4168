;; The inner loops of lib/image/resample.ts in WebAssembly SIMD: one premultiplied RGBA pixel is
;; one f32x4, so each multiply-add works on all four channels at once. Pointers are byte offsets
;; in `memory`; pixel rows are 16 bytes a pixel. Built into resample_kernels.ts by
;; tools/build_resample_kernels.ts (wabt); edit this file, never that one.
(module
  (memory (export "memory") 1)

  ;; dst[i] = src[i] as f32 with colour times alpha, alpha kept: n pixels of 8-bit RGBA.
  (func (export "premultiply") (param $src i32) (param $dst i32) (param $n i32)
    (local $end i32) (local $v v128) (local $a f32)
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (local.set $v
          (f32x4.convert_i32x4_u
            (i32x4.extend_low_i16x8_u
              (i16x8.extend_low_i8x16_u (v128.load32_zero (local.get $src))))))
        (local.set $a (f32x4.extract_lane 3 (local.get $v)))
        (v128.store (local.get $dst)
          (f32x4.replace_lane 3
            (f32x4.mul (local.get $v) (f32x4.splat (local.get $a)))
            (local.get $a)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br $next))))

;; One row of the horizontal pass: output pixel i is the sum over k < count[i] of
  ;; weights[i * taps + k] times src pixel start[i] + k (start and count are i32, weights f32).
  ;; Taps go in pairs into two sums: one sum's chain of dependent adds was the loop's limit.
  (func (export "horizontal")
    (param $src i32) (param $dst i32) (param $size i32) (param $taps i32)
    (param $start i32) (param $count i32) (param $weights i32)
    (local $end i32) (local $p i32) (local $pend i32) (local $pairs i32) (local $w i32)
    (local $acc v128) (local $acc2 v128) (local $stride i32) (local $n i32)
    (local.set $stride (i32.shl (local.get $taps) (i32.const 2)))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $size) (i32.const 4))))
    (block $done
      (loop $pixel
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (local.set $n (i32.load (local.get $count)))
        (local.set $p
          (i32.add (local.get $src) (i32.shl (i32.load (local.get $start)) (i32.const 4))))
        (local.set $pend (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 4))))
        (local.set $pairs
          (i32.add (local.get $p)
            (i32.shl (i32.and (local.get $n) (i32.const -2)) (i32.const 4))))
        (local.set $w (local.get $weights))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $acc2 (v128.const f32x4 0 0 0 0))
        (block $pairs_done
          (loop $pair
            (br_if $pairs_done (i32.ge_u (local.get $p) (local.get $pairs)))
            (local.set $acc
              (f32x4.add (local.get $acc)
                (f32x4.mul (v128.load (local.get $p)) (v128.load32_splat (local.get $w)))))
            (local.set $acc2
              (f32x4.add (local.get $acc2)
                (f32x4.mul (v128.load offset=16 (local.get $p))
                  (v128.load32_splat offset=4 (local.get $w)))))
            (local.set $p (i32.add (local.get $p) (i32.const 32)))
            (local.set $w (i32.add (local.get $w) (i32.const 8)))
            (br $pair)))
        (if (i32.lt_u (local.get $p) (local.get $pend))
          (then
            (local.set $acc
              (f32x4.add (local.get $acc)
                (f32x4.mul (v128.load (local.get $p)) (v128.load32_splat (local.get $w)))))))
        (v128.store (local.get $dst) (f32x4.add (local.get $acc) (local.get $acc2)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $start (i32.add (local.get $start) (i32.const 4)))
        (local.set $count (i32.add (local.get $count) (i32.const 4)))
        (local.set $weights (i32.add (local.get $weights) (local.get $stride)))
        (br $pixel))))

  ;; dst = w * src over n pixels (the first tap of a vertical pass).
  (func (export "scale") (param $dst i32) (param $src i32) (param $w f32) (param $n i32)
    (local $wv v128) (local $end i32)
    (local.set $wv (f32x4.splat (local.get $w)))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (v128.store (local.get $dst) (f32x4.mul (local.get $wv) (v128.load (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $next))))

  ;; dst += w * src over n pixels (the other taps of a vertical pass).
  (func (export "addScaled") (param $dst i32) (param $src i32) (param $w f32) (param $n i32)
    (local $wv v128) (local $end i32)
    (local.set $wv (f32x4.splat (local.get $w)))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (v128.store (local.get $dst)
          (f32x4.add (v128.load (local.get $dst))
            (f32x4.mul (local.get $wv) (v128.load (local.get $src)))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $next))))

;; dst += w * src + w2 * src2 over n pixels: two taps of a vertical pass for one load and
  ;; store of dst.
  (func (export "addScaled2")
    (param $dst i32) (param $src i32) (param $w f32) (param $src2 i32) (param $w2 f32)
    (param $n i32)
    (local $wv v128) (local $wv2 v128) (local $end i32)
    (local.set $wv (f32x4.splat (local.get $w)))
    (local.set $wv2 (f32x4.splat (local.get $w2)))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (v128.store (local.get $dst)
          (f32x4.add
            (f32x4.add (v128.load (local.get $dst))
              (f32x4.mul (local.get $wv) (v128.load (local.get $src))))
            (f32x4.mul (local.get $wv2) (v128.load (local.get $src2)))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $src2 (i32.add (local.get $src2) (i32.const 16)))
        (br $next))))

  ;; n premultiplied pixels back to 8-bit RGBA: colour divided by alpha, each channel rounded
  ;; half to even and clamped to 0..255 (as a Uint8ClampedArray stores); pixels whose alpha is
  ;; not above 0.5 become 0,0,0,0.
  (func (export "unpremultiply") (param $src i32) (param $dst i32) (param $n i32)
    (local $end i32) (local $v v128) (local $a v128) (local $q v128)
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $v (v128.load (local.get $src)))
        (local.set $a (f32x4.splat (f32x4.extract_lane 3 (local.get $v))))
        (local.set $q
          (f32x4.nearest
            (f32x4.replace_lane 3
              (f32x4.div (local.get $v) (local.get $a))
              (f32x4.extract_lane 3 (local.get $v)))))
        (v128.store32_lane 0 (local.get $dst)
          (i8x16.narrow_i16x8_u
            (i16x8.narrow_i32x4_s
              (v128.and
                (i32x4.trunc_sat_f32x4_s (local.get $q))
                (f32x4.gt (local.get $a) (v128.const f32x4 0.5 0.5 0.5 0.5)))
              (v128.const i32x4 0 0 0 0))
            (v128.const i16x8 0 0 0 0 0 0 0 0)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (br $next))))
)
