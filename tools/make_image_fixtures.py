#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the test images of io/image.hpp and vision/llama4_image_processor.hpp and what
transformers makes of them.

Usage (from the repository root; needs numpy, pillow, torch, torchvision, transformers of
tools/requirements.txt, CPU only):
    python3 tools/make_image_fixtures.py

Writes tests/data/images/<name> (small images, generated deterministically with gradients,
edges and noise so resize errors show; plus broken ones) and tests/data/images/expected/:

  <stem>.rgb.npy             (every good image; <stem>: the file name with "." as "_") uint8 [H, W, 3]: Pillow's decode + transformers' convert_to_rgb,
                             what Llama4ImageProcessor sees before it resizes
  <stem>.<s>.resized.npy     uint8 [h, w, 3]: the processor's own resize (torchvision's uint8
                             antialiased bilinear) before pad and normalize, setting <s>
  <stem>.<s>.global.npy      uint8 [tile, tile, 3]: the global tile's resize (only when the grid
                             has more than one tile)
  <stem>.<s>.grid.npy        float32 [3]: ratio_h, ratio_w (aspect_ratios) and the tile count
  <stem>.<s>.pixel_values.npy  float32 [count, 3, tile, tile]: the processor's pixel_values,
                             for wide and tall in setting a only (a 336 tile is 1.35 MB)
  lut.npy                    float32 [256]: the processor's rescale+normalize (bf16) of each
                             uint8 value at the default mean/std
  layouts.npy                float32 [N, 9]: tile, max_patches, resize_to_max_canvas, width,
                             height -> ratio_h, ratio_w, resized width, resized height, from
                             the processor itself over a sweep of sizes (tie-breaks, float32
                             versus float64 arithmetic, upscaling clamp)
Settings: a = size 56x56, max_patches 4 (the tiny test setting); b = 336, 16 (the released
defaults), for wide and tall only. Where pixel_values is not stored, this script asserts that
the processor's pixel_values equal lut[pad(resized)] split into tiles plus lut[global], bit for
bit, so the test can rebuild them exactly from the stored uint8 images.
uint8 arrays are '|u1' .npy (a quarter of float32's size; the total stays under 1 MB).
"""
import io
import pathlib
import struct
import zlib

import numpy as np
import torch
from PIL import Image, ImageFile
from transformers.image_transforms import convert_to_rgb
from transformers.models.llama4.image_processing_llama4 import Llama4ImageProcessor

root = pathlib.Path(__file__).resolve().parents[1]
out = root / "tests" / "data" / "images"
expected = out / "expected"
rng = np.random.default_rng(20250611)


# ---------------------------------------------------------------------------- image content
def pattern(h, w, channels=3, seed=0):
    """Gradients, a hard-edged stripe, a diagonal and noise: every resize weight matters."""
    r = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = [
        255 * x / max(w - 1, 1),
        255 * y / max(h - 1, 1),
        127 + 127 * np.sin(x / 3.0 + y / 5.0),
        255 * ((x + y) % 16 < 8),
    ]
    img = np.stack([planes[c % 4] for c in range(channels)], -1)
    img[:, w // 3: w // 3 + 3] = 255 - img[:, w // 3: w // 3 + 3]  # a sharp vertical stripe
    img[np.abs(x - y * w / h) < 1.0] = 0  # a thin diagonal
    img += r.normal(0, 18, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------- raw PNG writer
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(w, h, color_type, bit_depth, samples, extra=b"", interlace=False):
    """PNG from an integer array [h, w, spp] (16-bit samples big-endian), filter 0, optionally
    Adam7: for the 16-bit and interlaced cases Pillow cannot write."""
    dtype = ">u2" if bit_depth == 16 else "u1"
    arr = samples.astype(dtype).reshape(h, w, -1)

    def rows(a):
        if bit_depth < 8:  # one sample per pixel, packed most significant bits first
            per = 8 // bit_depth
            packed = []
            for row in a[..., 0]:
                row = np.concatenate([row, np.zeros((-len(row)) % per, row.dtype)]).reshape(-1, per)
                packed.append(sum(row[:, k].astype(np.uint8) << (8 - bit_depth * (k + 1))
                                  for k in range(per)).astype(np.uint8))
            return b"".join(b"\0" + r.tobytes() for r in packed)
        return b"".join(b"\0" + row.tobytes() for row in a)

    if not interlace:
        data = rows(arr)
    else:
        data = b""
        for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
                               (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]:
            sub = arr[y0::dy, x0::dx]
            if sub.size:
                data += rows(sub)
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
            chunk(b"IDAT", zlib.compress(data, 9)) + chunk(b"IEND", b""))


def save_pil(img, name, **kw):
    buf = io.BytesIO()
    img.save(buf, **kw)
    (out / name).write_bytes(buf.getvalue())


def make_images():
    out.mkdir(parents=True, exist_ok=True)
    expected.mkdir(parents=True, exist_ok=True)
    # the two processor cases: wider than tall (1x3 grid at 56), taller than wide (3x1 at 56)
    save_pil(Image.fromarray(pattern(60, 150, seed=1)), "wide.png", format="PNG", optimize=True)
    save_pil(Image.fromarray(pattern(130, 60, seed=2)), "tall.jpg", format="JPEG", quality=90)
    # a 2x2 grid at 56 (downscaled to 112x103): the tile order in both directions; 4:4:4
    save_pil(Image.fromarray(pattern(120, 130, seed=15)), "grid.jpg", format="JPEG", quality=90,
             subsampling="4:4:4")
    # conversions
    rgba = pattern(24, 40, 4, seed=3)
    rgba[:6, :, 3] = 0  # fully transparent rows (white), then opaque, then a ramp
    rgba[6:12, :, 3] = 255
    rgba[12:, :, 3] = np.linspace(0, 255, 40).astype(np.uint8)[None, :]
    save_pil(Image.fromarray(rgba, "RGBA"), "rgba.png", format="PNG")
    save_pil(Image.fromarray(pattern(20, 30, 1, seed=4)[..., 0], "L"), "gray.png", format="PNG")
    la = pattern(18, 28, 2, seed=5)
    la[..., 1] = np.linspace(0, 255, 28).astype(np.uint8)[None, :]
    save_pil(Image.fromarray(la, "LA"), "gray_alpha.png", format="PNG")
    pal_img = Image.fromarray(pattern(20, 32, seed=6)).quantize(colors=24, dither=Image.Dither.NONE)
    save_pil(pal_img, "palette.png", format="PNG")
    # a palette with per-entry alpha (tRNS shorter than the palette: the rest stay opaque)
    alphas = bytes(int(a) for a in np.linspace(0, 255, 12).astype(np.uint8))
    save_pil(pal_img, "palette_trns.png", format="PNG", transparency=alphas)
    # 8-bit RGB with a tRNS colour key: pixels of exactly that colour are transparent
    rgb = pattern(16, 24, seed=7)
    rgb[::3, ::4] = (10, 200, 30)
    (out / "rgb_trns.png").write_bytes(
        png_bytes(24, 16, 2, 8, rgb, chunk(b"tRNS", struct.pack(">HHH", 10, 200, 30))))
    # 16-bit: Pillow keeps the high byte of RGB(A)/LA samples and saturates 16-bit grey at 255
    hi = pattern(20, 24, seed=8).astype(np.uint16)
    lo = pattern(20, 24, seed=9).astype(np.uint16)
    (out / "rgb16.png").write_bytes(png_bytes(24, 20, 2, 16, (hi << 8) | lo))
    g16 = (pattern(12, 20, 1, seed=10).astype(np.uint16) * 3)[..., 0]  # 0..765: some saturate
    (out / "gray16.png").write_bytes(png_bytes(20, 12, 0, 16, g16))
    # low bit depths: grey is scaled to 0..255 (1-bit: 0/255), palette indices are not. tRNS
    # as Pillow reads it: a 1-bit key of 0 makes black white; other keys are compared with the
    # scaled sample, so the valid 2-bit key 1 matches nothing, and the out-of-range 4-bit key
    # 34 matches the samples of value 2 (scaled to 34)
    bits = pattern(9, 13, 1, seed=16)[..., 0]
    (out / "gray1_trns.png").write_bytes(png_bytes(13, 9, 0, 1, bits >> 7, chunk(b"tRNS", b"\0\0")))
    (out / "gray2_trns.png").write_bytes(png_bytes(13, 9, 0, 2, bits >> 6, chunk(b"tRNS", b"\0\1")))
    (out / "gray4_trns.png").write_bytes(png_bytes(13, 9, 0, 4, bits >> 4, chunk(b"tRNS", b"\0\x22")))
    pal4 = bytes(int(v) for v in rng.integers(0, 256, 3 * 3))  # 3 entries: indices 3 are black
    (out / "palette2.png").write_bytes(png_bytes(13, 9, 3, 2, bits >> 6, chunk(b"PLTE", pal4) +
                                                 chunk(b"tRNS", b"\x80")))
    (out / "interlaced.png").write_bytes(png_bytes(27, 19, 2, 8, pattern(19, 27, seed=11),
                                                   interlace=True))
    # JPEG: greyscale, progressive 4:2:2, CMYK (Pillow writes an Adobe marker, inverted)
    save_pil(Image.fromarray(pattern(22, 34, 1, seed=12)[..., 0], "L"), "gray.jpg",
             format="JPEG", quality=85)
    save_pil(Image.fromarray(pattern(27, 45, seed=13)), "progressive.jpg", format="JPEG",
             quality=80, progressive=True, subsampling="4:2:2")
    save_pil(Image.fromarray(pattern(18, 26, 4, seed=14), "CMYK"), "cmyk.jpg", format="JPEG",
             quality=90)

    # broken: truncated in the image data, not an image, a header claiming 100000 x 100000
    png = (out / "rgba.png").read_bytes()
    (out / "truncated.png").write_bytes(png[: len(png) * 6 // 10])
    jpg = (out / "tall.jpg").read_bytes()
    (out / "truncated.jpg").write_bytes(jpg[: len(jpg) * 6 // 10])
    (out / "not_an_image.txt").write_bytes(b"GIF89a? no: plain text that is not an image\n")
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    (out / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
                                   chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    for name in ["truncated.png", "truncated.jpg", "not_an_image.txt"]:
        try:
            Image.open(out / name).load()
        except Exception:
            continue
        raise SystemExit(f"Pillow accepted broken image {name}")


GOOD = ["wide.png", "tall.jpg", "grid.jpg", "rgba.png", "gray.png", "gray_alpha.png", "palette.png",
        "palette_trns.png", "rgb_trns.png", "rgb16.png", "gray16.png", "interlaced.png",
        "gray.jpg", "progressive.jpg", "cmyk.jpg"]
# decoded only (their processor path is the same as the others')
DECODE_ONLY = ["gray1_trns.png", "gray2_trns.png", "gray4_trns.png", "palette2.png"]
SETTINGS = {"a": dict(size={"height": 56, "width": 56}, max_patches=4),
            "b": dict(size={"height": 336, "width": 336}, max_patches=16)}
FULL_PIXEL_VALUES = {("wide_png", "a"), ("tall_jpg", "a")}


def save(name, arr):
    np.save(expected / name, arr, allow_pickle=False)


def hwc(t):  # uint8 [1 or none, 3, h, w] tensor -> [h, w, 3] numpy
    return t.reshape(3, *t.shape[-2:]).permute(1, 2, 0).contiguous().numpy()


def run_processor(proc, image):
    """The processor's output plus the uint8 results of each of its resize calls, in order."""
    resized = []
    original = proc.resize

    def spy(*args, **kwargs):
        r = original(*args, **kwargs)
        resized.append(r.clone())
        return r

    proc.resize = spy
    try:
        result = proc(image, return_tensors="pt")
    finally:
        proc.resize = original
    return result, resized


def record():
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    # the per-value map: the processor's own bf16 rescale+normalize of 0..255
    proc = Llama4ImageProcessor()
    ramp = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 1, 256).expand(1, 3, 1, 256)
    lut = proc.rescale_and_normalize(ramp, True, proc.rescale_factor, True, proc.image_mean,
                                     proc.image_std).float()
    assert torch.equal(lut[0, 0], lut[0, 1]) and torch.equal(lut[0, 0], lut[0, 2])
    lut = lut[0, 0, 0]
    save("lut.npy", lut.numpy().astype(np.float32))

    for name in GOOD + DECODE_ONLY:
        stem = name.replace(".", "_")  # gray.png and gray.jpg: gray_png, gray_jpg
        image = Image.open(out / name)
        rgb = convert_to_rgb(image, return_numpy=True)
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
        save(f"{stem}.rgb.npy", rgb)
        if name in DECODE_ONLY:
            print(f"{name:18s}  : {image.mode:5s} {rgb.shape[1]}x{rgb.shape[0]}, decode only")
            continue
        for s, kwargs in SETTINGS.items():
            if s == "b" and stem not in ("wide_png", "tall_jpg"):
                continue
            proc = Llama4ImageProcessor(**kwargs)
            tile = kwargs["size"]["height"]
            result, resizes = run_processor(proc, Image.open(out / name))
            pv = result["pixel_values"]
            ratio_h, ratio_w = (int(v) for v in result["aspect_ratios"][0])
            count = pv.shape[0]
            assert count == ratio_h * ratio_w + (1 if ratio_h * ratio_w > 1 else 0)
            save(f"{stem}.{s}.grid.npy", np.array([ratio_h, ratio_w, count], np.float32))
            # resize calls: the main one (skipped by torchvision when the size is unchanged,
            # and then the processor's spy still sees its input returned) and the global tile
            main = hwc(resizes[0])
            save(f"{stem}.{s}.resized.npy", main)
            glob = None
            if ratio_h * ratio_w > 1:
                assert len(resizes) == 2
                glob = hwc(resizes[1])
                save(f"{stem}.{s}.global.npy", glob)
            # rebuild pixel_values from the uint8 images and the per-value map, to prove the
            # test's reconstruction equals the processor's output bit for bit
            canvas = np.zeros((ratio_h * tile, ratio_w * tile, 3), np.uint8)
            canvas[: main.shape[0], : main.shape[1]] = main
            tiles = [canvas[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile]
                     for r in range(ratio_h) for c in range(ratio_w)]
            if glob is not None:
                tiles.append(glob)
            rebuilt = lut.numpy()[np.stack(tiles).transpose(0, 3, 1, 2)]
            assert np.array_equal(rebuilt, pv.float().numpy()), f"{name} {s}: lut rebuild differs"
            if (stem, s) in FULL_PIXEL_VALUES:
                save(f"{stem}.{s}.pixel_values.npy", pv.float().numpy())
            print(f"{name:18s} {s}: {image.mode:5s} {rgb.shape[1]}x{rgb.shape[0]} -> resized "
                  f"{main.shape[1]}x{main.shape[0]}, grid {ratio_h}x{ratio_w}, {count} tiles")


def record_layouts():
    """The grid and resize size the processor picks, for many sizes and settings. The resize is
    stubbed out (only the size it is asked for matters), so the sweep takes seconds."""
    rows = []
    sizes = {(w, h) for w in (1, 2, 55, 56, 57, 112, 113, 224, 225, 336, 337, 671, 672, 1000,
                              2000, 5377)
             for h in (1, 3, 56, 57, 112, 335, 336, 448, 673, 1500, 4000)}
    sizes |= {(int(w), int(h)) for w, h in rng.integers(1, 3000, size=(60, 2))}
    # sizes where get_max_res_without_distortion's float32 (0-d tensor) and float64 (Python
    # int) arithmetic give different resize sizes, found by a random search over 1..6000
    sizes |= {(3504, 1152), (2162, 3680), (2693, 5386), (935, 5236), (1036, 2923), (2942, 5884),
              (792, 396), (5320, 2831), (1106, 2765), (259, 2664), (813, 288), (320, 2800),
              (2505, 2505), (5152, 552), (79, 1027), (799, 1645), (330, 2915), (2392, 897),
              (570, 190), (327, 3052), (3507, 3507), (5103, 2916), (1673, 1434), (854, 5978),
              (2420, 3520), (5652, 2512), (5232, 654), (5151, 5151), (306, 2448), (382, 1528),
              (2748, 687), (1230, 5043), (1236, 3708), (2440, 2684), (266, 4655), (5902, 5675),
              (3276, 390), (2721, 4535), (386, 3474), (1480, 925), (622, 3732), (4440, 5180),
              (1464, 610), (1115, 2676)}
    settings = [(56, 4, False), (56, 4, True), (336, 16, False), (336, 16, True), (100, 7, False),
                (50, 12, True), (14, 1, False)]
    for tile, max_patches, to_max in settings:
        proc = Llama4ImageProcessor(size={"height": tile, "width": tile}, max_patches=max_patches,
                                    resize_to_max_canvas=to_max)
        asked = []

        def fake_resize(image, size, **kwargs):
            h, w = int(size.height), int(size.width)
            asked.append((w, h))
            return torch.zeros(*image.shape[:-2], h, w, dtype=image.dtype)

        proc.resize = fake_resize
        proc.rescale_and_normalize = lambda images, *a, **k: images  # the values do not matter
        for w, h in sorted(sizes):
            asked.clear()
            result = proc(torch.zeros(3, h, w, dtype=torch.uint8), return_tensors="pt",
                          input_data_format="channels_first")
            ratio_h, ratio_w = (int(v) for v in result["aspect_ratios"][0])
            rows.append([tile, max_patches, int(to_max), w, h, ratio_h, ratio_w, *asked[0]])
    save("layouts.npy", np.array(rows, np.float32))
    print(f"layouts: {len(rows)} cases")


if __name__ == "__main__":
    make_images()
    record()
    record_layouts()
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"tests/data/images: {total} bytes")
