/* What the codecs share: the image block held to the memory limit, and
 * recognising a stream's format from its first bytes. */
#include <stdlib.h>
#include <string.h>

#include "image.h"

pfw_status pfw_image_alloc(pfw_image* img, const char* format, int64_t width, int64_t height, int32_t channels,
                           size_t limit) {
  memset(img, 0, sizeof *img);
  if (width <= 0 || height <= 0)
    return pfw_error(PFW_ERR_INVALID_ARGUMENT, "%s: the image is %lld x %lld pixels; both must be positive", format,
                     (long long)width, (long long)height);
  if ((uint64_t)width > limit / (uint64_t)channels / (uint64_t)height)
    return pfw_error(PFW_ERR_UNSUPPORTED, "%s: a %lld x %lld image of %d channels exceeds the memory limit of %zu bytes",
                     format, (long long)width, (long long)height, (int)channels, limit);
  size_t bytes = (size_t)width * (size_t)height * (size_t)channels;
  if (!(img->pixels = calloc(bytes, 1)))
    return pfw_error(PFW_ERR_OUT_OF_MEMORY, "%s: out of memory for a %lld x %lld image", format, (long long)width,
                     (long long)height);
  img->width = width;
  img->height = height;
  img->channels = channels;
  return PFW_OK;
}

void pfw_image_free(pfw_image* img) {
  free(img->pixels);
  memset(img, 0, sizeof *img);
}

pfw_status pfw_image_decode(const uint8_t* data, size_t size, size_t limit, pfw_image* img) {
  memset(img, 0, sizeof *img);
  if (size >= 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8)) return pfw_decode_png(data, size, limit, img);
  if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) return pfw_decode_jpeg(data, size, limit, img);
  if (size >= 2 && data[0] == 'B' && data[1] == 'M') return pfw_decode_bmp(data, size, limit, img);
  if (size >= 2 && data[0] == 'P' && data[1] >= '1' && data[1] <= '7') return pfw_decode_pnm(data, size, limit, img);
  if (size >= 4 && (!memcmp(data, "II*\0", 4) || !memcmp(data, "MM\0*", 4))) return pfw_decode_tiff(data, size, limit, img);
  if (size >= 12 && !memcmp(data, "RIFF", 4) && !memcmp(data + 8, "WEBP", 4))
    return pfw_error(PFW_ERR_UNSUPPORTED, "WebP images are not supported (formats: PNG, JPEG, BMP, PNM, TIFF)");
  if (size >= 12 && (!memcmp(data, "\0\0\0\x0cjP  ", 8) || (data[0] == 0xff && data[1] == 0x4f && data[2] == 0xff)))
    return pfw_error(PFW_ERR_UNSUPPORTED, "JPEG 2000 images are not supported (formats: PNG, JPEG, BMP, PNM, TIFF)");
  return pfw_error(PFW_ERR_INVALID_ARGUMENT,
                   "the %zu-byte stream is no image format pyfw decodes (PNG, JPEG, BMP, PNM, TIFF): its first bytes "
                   "match none of their signatures",
                   size);
}
