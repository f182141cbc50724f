// PNG through libpng. Every PNG flavour is reduced to 8-bit RGB the way PIL's
// convert("RGB") does it: palettes and low-bit grey expanded, 16-bit samples keep their
// high byte, grey replicated, alpha dropped.
//
// libpng reports errors by longjmp. The functions that call setjmp hold only trivial
// locals (a longjmp across a C++ destructor is undefined behaviour); they return false
// and leave the message in the reader, and the caller throws.
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "image/image.h"

namespace kiln::image {
namespace {

struct PngSource {
  const uint8_t* data;
  size_t size;
  size_t pos;
  char message[256];
};

void on_png_error(png_structp png, png_const_charp message) {
  auto* source = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(source->message, sizeof(source->message), "%s", message);
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

void read_from_memory(png_structp png, png_bytep out, png_size_t count) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (count > source->size - source->pos) png_error(png, "file is truncated");
  std::memcpy(out, source->data + source->pos, count);
  source->pos += count;
}

class PngReader {
 public:
  PngReader(const uint8_t* data, size_t size) : source_{data, size, 0, {}} {
    png_ = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source_, on_png_error, on_png_warning);
    if (png_) info_ = png_create_info_struct(png_);
  }
  ~PngReader() { png_destroy_read_struct(&png_, info_ ? &info_ : nullptr, nullptr); }
  PngReader(const PngReader&) = delete;
  PngReader& operator=(const PngReader&) = delete;

  bool created() const { return png_ && info_; }
  const char* message() const { return source_.message; }

  // Reads the header and sets up the transforms to 8-bit RGB.
  bool read_header(png_uint_32* width, png_uint_32* height) {
    if (setjmp(png_jmpbuf(png_))) return false;
    png_set_read_fn(png_, &source_, read_from_memory);
    png_set_user_limits(png_, 0x7fffffff, 0x7fffffff);  // kiln's own pixel limit applies
    png_read_info(png_, info_);
    int bit_depth = 0, color_type = 0;
    png_get_IHDR(png_, info_, width, height, &bit_depth, &color_type, nullptr, nullptr, nullptr);
    png_set_expand(png_);
    if (bit_depth == 16) png_set_strip_16(png_);
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png_);
    png_set_strip_alpha(png_);
    png_set_interlace_handling(png_);
    png_read_update_info(png_, info_);
    if (png_get_rowbytes(png_, info_) != static_cast<size_t>(*width) * 3) {
      std::snprintf(source_.message, sizeof(source_.message), "unsupported PNG pixel layout");
      return false;
    }
    return true;
  }

  bool read_rows(png_bytepp rows) {
    if (setjmp(png_jmpbuf(png_))) return false;
    png_read_image(png_, rows);
    return true;
  }

 private:
  PngSource source_;
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

}  // namespace

Image decode_png(const uint8_t* data, size_t size, const std::string& what) {
  PngReader reader(data, size);
  if (!reader.created()) fail_with(ErrorCode::kInternal, "{}: cannot create a PNG decoder", what);
  png_uint_32 width = 0, height = 0;
  if (!reader.read_header(&width, &height)) fail("{}: corrupt PNG: {}", what, reader.message());
  check_image_size(width, height, what);
  Image image;
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(height);
  image.rgb.resize(static_cast<size_t>(width) * height * 3);
  std::vector<png_bytep> rows(height);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = image.rgb.data() + static_cast<size_t>(y) * width * 3;
  if (!reader.read_rows(rows.data())) fail("{}: corrupt or truncated PNG: {}", what, reader.message());
  return image;
}

}  // namespace kiln::image
