// SPDX-License-Identifier: Apache-2.0
/// \file io/image.hpp
/// PNG and JPEG decoding to 8-bit RGB, pixel for pixel what transformers' image processors see:
/// Pillow's decode followed by `transformers.image_transforms.convert_to_rgb` (transformers
/// 5.24, the call TorchvisionBackend.process_image makes on a PIL image). That conversion
/// alpha-composites any transparency (an alpha channel, or a tRNS chunk) onto opaque white with
/// Pillow's integer `alpha_composite`, and otherwise is Pillow's `convert("RGB")`:
///
///   PNG (libpng's classic API; no gamma, ICC or background handling, as Pillow applies none):
///     grey 1/2/4/8-bit (scaled to 0..255), grey+alpha, RGB, RGBA, palette 1/2/4/8-bit (indices
///     past the palette are black, as in Pillow), with or without tRNS; Adam7 interlacing.
///     16-bit RGB, RGBA and grey+alpha keep the high byte of each sample (Pillow's reading);
///     16-bit grey saturates at 255 (Pillow's I;16 -> RGB), so such images come out mostly white
///     in transformers too. tRNS follows Pillow's quirks: a grey or RGB key is compared, as its
///     low byte, with the 8-bit sample; a 1-bit image's key is black if 0, else white.
///   JPEG (libjpeg-turbo, libjpeg's defaults as Pillow uses them: islow IDCT, fancy upsampling):
///     baseline and progressive, greyscale, YCbCr/RGB, CMYK and YCCK (inverted when an Adobe
///     APP14 marker is present, then Pillow's CMYK -> RGB). EXIF orientation is not applied:
///     transformers does not apply it to a PIL image handed to the processor either. (Its
///     load_image, for URLs and paths in chat messages, differs: it applies EXIF orientation and
///     converts with a plain convert("RGB"), which drops alpha instead of compositing.)
///
/// Refused, with a typed error naming `what`: an empty buffer or an unknown format (FormatError,
/// naming GIF/WebP/BMP/TIFF when the bytes look like one), a width or height of 0 and any
/// corrupt or truncated data (FormatError: never a half-decoded image; libjpeg-turbo only warns
/// on a premature end or a corrupt entropy segment and fills in grey, so those warnings are
/// errors here: Pillow refuses the truncation too, though it decodes the corrupt segment), and
/// an image above kMaxImageSide per side or kMaxImagePixels in all (InvalidInput, checked from
/// the header before any pixel memory is allocated). Every read stays inside the given span.
/// A little damage Pillow tolerates is refused here: a PNG tRNS chunk longer than its palette
/// (libpng drops it, which would change the pixels), a PNG cut inside its last IDAT's
/// checksums, and an IDAT whose CRC alone is wrong.
///
/// Thread safety: decode_image and load_image are pure functions of their arguments; each call
/// owns its libpng/libjpeg state, so concurrent calls are safe. Host-only.
///
/// Without libpng and libjpeg (TEMPLLM_HAVE_IMAGES undefined; the CMake target defines it when
/// both are found) this header still compiles and decode_image throws Unsupported.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>  // jpeglib.h needs FILE and size_t declared first
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "mapped_file.hpp"

#if defined(TEMPLLM_HAVE_IMAGES)
#include <png.h>

#include <csetjmp>
// clang-format off: jerror.h reads jpeglib.h's configuration (which warning codes exist)
#include <jpeglib.h>
#include <jerror.h>
// clang-format on
#endif

namespace templlm::io {

/// An 8-bit RGB image: `rgb` holds height * width * 3 bytes, row-major, channels last (HWC).
struct Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb;
};

/// Largest accepted width or height, and width * height. 2^27 pixels (402 MB of RGB) stays
/// below Pillow's DecompressionBombError threshold (2 * 89,478,485), so every image accepted
/// here is one transformers would open.
inline constexpr int kMaxImageSide = 32768;
inline constexpr std::int64_t kMaxImagePixels = std::int64_t{1} << 27;

namespace detail {

inline std::string image_size_text(std::int64_t w, std::int64_t h) {
  return std::to_string(w) + "x" + std::to_string(h);
}

/// Width/height checks shared by both formats, from the header, before any pixel allocation.
inline void check_image_size(std::int64_t w, std::int64_t h, std::string_view what,
                             std::string_view format) {
  if (w <= 0 || h <= 0)
    throw FormatError(std::string(what) + ": the " + std::string(format) + " header gives a size of " +
                      image_size_text(w, h) + " pixels; an image needs a width and height of at least 1");
  if (w > kMaxImageSide || h > kMaxImageSide || w * h > kMaxImagePixels)
    throw InvalidInput(std::string(what) + ": the " + std::string(format) + " image is " +
                       image_size_text(w, h) + " pixels; templlm decodes images up to " +
                       std::to_string(kMaxImageSide) + " pixels a side and " +
                       std::to_string(kMaxImagePixels) + " pixels in all");
}

/// Pillow's ImagingAlphaComposite of (v, a) over opaque white. Its 7-bit fixed point with
/// shift-rounded divisions by 255 comes out, with an opaque white background, as exactly this
/// rounded division: checked against Pillow over all 65536 (v, a) pairs.
constexpr std::uint8_t over_white(unsigned v, unsigned a) {
  return static_cast<std::uint8_t>((v * a + 255 * (255 - a) + 127) / 255);
}

/// Pillow's cmyk2rgb (Convert.c): x' = clip(255 - k - x * (255 - k) / 255), rounded division.
constexpr std::uint8_t cmyk_channel(unsigned x, unsigned k) {
  const int nk = 255 - static_cast<int>(k);
  const int t = static_cast<int>(x) * nk + 128;
  const int v = nk - (((t >> 8) + t) >> 8);
  return static_cast<std::uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

inline std::string_view looks_like(std::span<const std::uint8_t> b) {
  const auto starts = [&](std::string_view magic, std::size_t at = 0) {
    return b.size() >= at + magic.size() &&
           std::memcmp(b.data() + at, magic.data(), magic.size()) == 0;
  };
  if (starts("GIF87a") || starts("GIF89a")) return "GIF";
  if (starts("RIFF") && starts("WEBP", 8)) return "WebP";
  if (starts("BM")) return "BMP";
  if (starts("II*\0") || starts("MM\0*")) return "TIFF";
  if (starts("ftyp", 4)) return "HEIF/AVIF";
  return "";
}

#if defined(TEMPLLM_HAVE_IMAGES)

// ---------------------------------------------------------------------------------------- PNG

/// Per-call libpng state: the input span and the first error or fatal warning.
struct PngContext {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0, pos = 0;
  char error[256] = {};
  char fatal_warning[256] = {};
};

inline void png_copy_message(char (&dst)[256], const char* msg) {
  std::snprintf(dst, sizeof dst, "%s", msg ? msg : "unknown libpng error");
}

extern "C" inline void templlm_png_error(png_structp png, png_const_charp msg) {
  png_copy_message(static_cast<PngContext*>(png_get_error_ptr(png))->error, msg);
  png_longjmp(png, 1);
}

/// libpng reports some damage as warnings and reads on without the chunk. Pillow refuses a CRC
/// error in the chunks before the image data, and a dropped tRNS would change the pixels, so
/// those two end the decode; the rest (an out-of-range palette index or tRNS key, unknown
/// ancillary data) decode as Pillow does.
extern "C" inline void templlm_png_warning(png_structp png, png_const_charp msg) {
  auto* ctx = static_cast<PngContext*>(png_get_error_ptr(png));
  const std::string_view m = msg ? msg : "";
  const bool fatal = m.find("CRC error") != std::string_view::npos || m.starts_with("tRNS: ");
  if (fatal && ctx->fatal_warning[0] == '\0') png_copy_message(ctx->fatal_warning, msg);
}

extern "C" inline void templlm_png_read(png_structp png, png_bytep out, std::size_t n) {
  auto* ctx = static_cast<PngContext*>(png_get_io_ptr(png));
  if (n > ctx->size - ctx->pos) png_error(png, "the file ends early (truncated)");
  std::memcpy(out, ctx->data + ctx->pos, n);
  ctx->pos += n;
}

/// Runs f with libpng's error jump armed; false if libpng raised an error. The setjmp frame and
/// f hold no object with a destructor, so the longjmp skips no C++ cleanup.
template <class F>
bool png_guarded(png_structp png, F&& f) {
  if (setjmp(png_jmpbuf(png))) return false;
  f();
  return true;
}

struct PngHandle {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngHandle() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
};

inline std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

inline Image decode_png(std::span<const std::uint8_t> bytes, std::string_view what) {
  const auto fail = [&](std::string_view msg) {
    return FormatError(std::string(what) + ": invalid PNG: " + std::string(msg));
  };
  // IHDR is the first chunk: check its size before libpng allocates anything for the image.
  if (bytes.size() < 8 + 8 + 13) throw fail("the file ends early (truncated)");
  if (std::memcmp(bytes.data() + 12, "IHDR", 4) != 0) throw fail("the first chunk is not IHDR");
  check_image_size(be32(bytes.data() + 16), be32(bytes.data() + 20), what, "PNG");

  PngContext ctx;
  ctx.data = bytes.data();
  ctx.size = bytes.size();
  PngHandle h;
  h.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, templlm_png_error, templlm_png_warning);
  if (!h.png) throw Error(std::string(what) + ": libpng could not allocate its read state");
  h.info = png_create_info_struct(h.png);
  if (!h.info) throw Error(std::string(what) + ": libpng could not allocate its info state");
  png_structp png = h.png;
  png_infop info = h.info;

  png_uint_32 w = 0, hgt = 0;
  int depth = 0, color = 0, interlace = 0;
  // PLTE and tRNS copied out of libpng's info at once (transforms may rewrite its copies).
  std::array<std::array<std::uint8_t, 3>, 256> palette{};  // Pillow's: black past PLTE
  std::array<std::uint8_t, 256> alpha;                     // opaque past tRNS
  alpha.fill(255);
  bool has_trns = false;
  png_color_16 key{};
  const bool header_ok = png_guarded(png, [&] {
    png_set_read_fn(png, &ctx, templlm_png_read);
    png_set_user_limits(png, kMaxImageSide, kMaxImageSide);
    // Only IHDR, PLTE, tRNS, IDAT and IEND matter to the pixels (Pillow applies no gamma, ICC or
    // background): skip the rest unparsed, compressed text and profiles included.
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, nullptr, -1);
    png_read_info(png, info);
    png_get_IHDR(png, info, &w, &hgt, &depth, &color, &interlace, nullptr, nullptr);
    png_colorp plte = nullptr;
    int plte_size = 0;
    if (color == PNG_COLOR_TYPE_PALETTE && png_get_PLTE(png, info, &plte, &plte_size))
      for (int i = 0; i < plte_size && i < 256; ++i)
        palette[i] = {plte[i].red, plte[i].green, plte[i].blue};
    has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
    png_bytep trns_alpha = nullptr;
    int trns_count = 0;
    png_color_16p trns_color = nullptr;
    if (has_trns) png_get_tRNS(png, info, &trns_alpha, &trns_count, &trns_color);
    for (int i = 0; trns_alpha && i < trns_count && i < 256; ++i) alpha[i] = trns_alpha[i];
    if (trns_color) key = *trns_color;
  });
  if (!header_ok) throw fail(ctx.error);
  if (ctx.fatal_warning[0]) throw fail(ctx.fatal_warning);
  check_image_size(w, hgt, what, "PNG");

  const bool grey16 = color == PNG_COLOR_TYPE_GRAY && depth == 16;
  int channels = 0;
  switch (color) {
    case PNG_COLOR_TYPE_GRAY: case PNG_COLOR_TYPE_PALETTE: channels = 1; break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: channels = 2; break;
    case PNG_COLOR_TYPE_RGB: channels = 3; break;
    case PNG_COLOR_TYPE_RGB_ALPHA: channels = 4; break;
    default: throw fail("unknown colour type " + std::to_string(color));
  }
  const std::size_t sample_bytes = grey16 ? 2 : 1;
  const std::size_t row_bytes = std::size_t{w} * channels * sample_bytes;
  std::vector<std::uint8_t> raw(row_bytes * hgt);
  std::vector<png_bytep> rows(hgt);
  for (png_uint_32 y = 0; y < hgt; ++y) rows[y] = raw.data() + y * row_bytes;
  std::size_t lib_row_bytes = 0;
  const bool pixels_ok = png_guarded(png, [&] {
    if (depth < 8) png_set_packing(png);  // one sample per byte; palette indices stay indices
    if (depth < 8 && color == PNG_COLOR_TYPE_GRAY) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16 && !grey16) png_set_strip_16(png);  // the high byte, as Pillow reads it
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    lib_row_bytes = png_get_rowbytes(png, info);
    if (lib_row_bytes == row_bytes) png_read_image(png, rows.data());
  });
  if (!pixels_ok) throw fail(ctx.error);
  if (lib_row_bytes != row_bytes)  // a libpng transform we did not expect: never write past rows
    throw fail("libpng gives rows of " + std::to_string(lib_row_bytes) + " bytes, expected " +
               std::to_string(row_bytes));
  if (ctx.fatal_warning[0]) throw fail(ctx.fatal_warning);

  Image out;
  out.width = static_cast<int>(w);
  out.height = static_cast<int>(hgt);
  out.rgb.resize(std::size_t{w} * hgt * 3);
  std::uint8_t* dst = out.rgb.data();
  const std::size_t n = std::size_t{w} * hgt;
  const std::uint8_t* src = raw.data();
  const auto put = [&](std::uint8_t r, std::uint8_t g, std::uint8_t b) {
    dst[0] = r, dst[1] = g, dst[2] = b;
    dst += 3;
  };
  switch (color) {
    case PNG_COLOR_TYPE_GRAY: {
      // Pillow compares the key's low byte with the 8-bit (scaled, or saturated) sample; a
      // 1-bit image's key is 0 or 255. A keyed pixel composites to white.
      const int grey_key = !has_trns ? -1 : depth == 1 ? (key.gray ? 255 : 0) : (key.gray & 0xff);
      for (std::size_t i = 0; i < n; ++i) {
        unsigned v = grey16 ? (unsigned{src[2 * i]} << 8 | src[2 * i + 1]) : src[i];
        if (v > 255) v = 255;
        const std::uint8_t g = static_cast<int>(v) == grey_key ? 255 : static_cast<std::uint8_t>(v);
        put(g, g, g);
      }
      break;
    }
    case PNG_COLOR_TYPE_GRAY_ALPHA:
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t g = over_white(src[2 * i], src[2 * i + 1]);
        put(g, g, g);
      }
      break;
    case PNG_COLOR_TYPE_RGB: {
      const unsigned kr = key.red & 0xff, kg = key.green & 0xff, kb = key.blue & 0xff;
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t* p = src + 3 * i;
        if (has_trns && p[0] == kr && p[1] == kg && p[2] == kb) put(255, 255, 255);
        else put(p[0], p[1], p[2]);
      }
      break;
    }
    case PNG_COLOR_TYPE_RGB_ALPHA:
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t* p = src + 4 * i;
        put(over_white(p[0], p[3]), over_white(p[1], p[3]), over_white(p[2], p[3]));
      }
      break;
    case PNG_COLOR_TYPE_PALETTE: {
      std::array<std::array<std::uint8_t, 3>, 256> rgb = palette;
      if (has_trns)
        for (int i = 0; i < 256; ++i)
          for (int c = 0; c < 3; ++c) rgb[i][c] = over_white(palette[i][c], alpha[i]);
      for (std::size_t i = 0; i < n; ++i) put(rgb[src[i]][0], rgb[src[i]][1], rgb[src[i]][2]);
      break;
    }
  }
  return out;
}

// --------------------------------------------------------------------------------------- JPEG

/// libjpeg's error manager extended with a jump target and the formatted message.
struct JpegErrors {
  jpeg_error_mgr mgr{};
  std::jmp_buf jump{};
  char message[JMSG_LENGTH_MAX] = {};
};

extern "C" inline void templlm_jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

/// Warnings (level -1) that mean missing or garbled pixel data end the decode: libjpeg-turbo
/// would otherwise fill the rest grey and carry on. Benign ones (extraneous bytes before a
/// marker, unknown Adobe transform or JFIF revision) are ignored, as Pillow ignores them.
extern "C" inline void templlm_jpeg_emit_message(j_common_ptr cinfo, int level) {
  if (level != -1) return;  // trace messages
  switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF: case JWRN_HIT_MARKER: case JWRN_HUFF_BAD_CODE: case JWRN_MUST_RESYNC:
#if JPEG_LIB_VERSION >= 70 || defined(D_ARITH_CODING_SUPPORTED)  // jerror.h's own condition
    case JWRN_ARITH_BAD_CODE:
#endif
      templlm_jpeg_error_exit(cinfo);
      return;
    default: return;
  }
}

extern "C" inline void templlm_jpeg_output_message(j_common_ptr) {}  // never print to stderr

template <class F>
bool jpeg_guarded(JpegErrors& err, F&& f) {
  if (setjmp(err.jump)) return false;
  f();
  return true;
}

struct JpegHandle {
  jpeg_decompress_struct cinfo{};
  bool created = false;
  ~JpegHandle() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

inline Image decode_jpeg(std::span<const std::uint8_t> bytes, std::string_view what) {
  const auto fail = [&](std::string_view msg) {
    return FormatError(std::string(what) + ": invalid JPEG: " + std::string(msg));
  };
  JpegErrors err;
  JpegHandle h;
  jpeg_decompress_struct* cinfo = &h.cinfo;
  cinfo->err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = templlm_jpeg_error_exit;
  err.mgr.emit_message = templlm_jpeg_emit_message;
  err.mgr.output_message = templlm_jpeg_output_message;

  bool adobe = false;
  const bool header_ok = jpeg_guarded(err, [&] {
    jpeg_create_decompress(cinfo);
    h.created = true;
    jpeg_mem_src(cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
    jpeg_save_markers(cinfo, JPEG_APP0 + 14, 0xffff);
    jpeg_read_header(cinfo, TRUE);
    // Pillow inverts CMYK when any APP14 starts with "Adobe" (with its 2-byte version after).
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next)
      if (m->marker == JPEG_APP0 + 14 && m->data_length >= 7 && std::memcmp(m->data, "Adobe", 5) == 0)
        adobe = true;
  });
  if (!header_ok) throw fail(err.message);
  check_image_size(cinfo->image_width, cinfo->image_height, what, "JPEG");
  const int comps = cinfo->num_components;
  if (comps != 1 && comps != 3 && comps != 4)
    throw fail(std::to_string(comps) + " colour components; expected 1 (grey), 3 (YCbCr/RGB) "
               "or 4 (CMYK/YCCK)");

  const std::size_t w = cinfo->image_width, hgt = cinfo->image_height;
  std::vector<std::uint8_t> raw(w * hgt * static_cast<std::size_t>(comps));
  std::size_t out_w = 0, out_h = 0, out_c = 0;
  const bool pixels_ok = jpeg_guarded(err, [&] {
    cinfo->out_color_space = comps == 1 ? JCS_GRAYSCALE : comps == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_start_decompress(cinfo);
    out_w = cinfo->output_width, out_h = cinfo->output_height, out_c = cinfo->output_components;
    if (out_w != w || out_h != hgt || out_c != static_cast<std::size_t>(comps)) return;
    while (cinfo->output_scanline < cinfo->output_height) {
      JSAMPROW row = raw.data() + std::size_t{cinfo->output_scanline} * w * out_c;
      jpeg_read_scanlines(cinfo, &row, 1);
    }
    jpeg_finish_decompress(cinfo);  // reads to EOI: a missing EOI is a truncation, as in Pillow
  });
  if (!pixels_ok) throw fail(err.message);
  if (out_w != w || out_h != hgt || out_c != static_cast<std::size_t>(comps))
    throw fail("libjpeg gives " + image_size_text(out_w, out_h) + "x" + std::to_string(out_c) +
               ", expected " + image_size_text(w, hgt) + "x" + std::to_string(comps));

  Image out;
  out.width = static_cast<int>(w);
  out.height = static_cast<int>(hgt);
  const std::size_t n = w * hgt;
  if (comps == 3) {
    out.rgb = std::move(raw);
    return out;
  }
  out.rgb.resize(n * 3);
  if (comps == 1) {
    for (std::size_t i = 0; i < n; ++i) out.rgb[3 * i] = out.rgb[3 * i + 1] = out.rgb[3 * i + 2] = raw[i];
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      std::uint8_t* p = raw.data() + 4 * i;
      if (adobe)
        for (int c = 0; c < 4; ++c) p[c] = static_cast<std::uint8_t>(255 - p[c]);
      for (int c = 0; c < 3; ++c) out.rgb[3 * i + c] = cmyk_channel(p[c], p[3]);
    }
  }
  return out;
}

#endif  // TEMPLLM_HAVE_IMAGES

}  // namespace detail

/// Decodes a PNG or JPEG (chosen by its magic bytes) to RGB as transformers' processors see it
/// (see the file comment). `what` names the source in errors: a path, "image 2 of the request".
inline Image decode_image(std::span<const std::uint8_t> bytes, std::string_view what) {
  const std::string name(what);
  if (bytes.empty()) throw FormatError(name + ": empty (0 bytes); expected a PNG or JPEG image");
  const bool png = bytes.size() >= 8 && std::memcmp(bytes.data(), "\x89PNG\r\n\x1a\n", 8) == 0;
  const bool jpeg = bytes.size() >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff;
  if (!png && !jpeg) {
    const std::string_view kind = detail::looks_like(bytes);
    throw FormatError(name + ": not a PNG or JPEG image" +
                      (kind.empty() ? std::string(" (unrecognised first bytes)")
                                    : " (it looks like " + std::string(kind) + ")") +
                      "; templlm decodes PNG and JPEG only");
  }
#if defined(TEMPLLM_HAVE_IMAGES)
  return png ? detail::decode_png(bytes, name) : detail::decode_jpeg(bytes, name);
#else
  throw Unsupported(name + ": this build of templlm has no image support: install libpng-dev and "
                    "libjpeg-dev and reconfigure");
#endif
}

/// Reads `file` (IoError if it cannot be read) and decodes it, naming the path in errors.
inline Image load_image(const std::filesystem::path& file) {
  const MappedFile mapped = MappedFile::open(file);
  const std::span<const std::byte> b = mapped.bytes();
  return decode_image({reinterpret_cast<const std::uint8_t*>(b.data()), b.size()}, file.string());
}

}  // namespace templlm::io
