/* Image codecs behind ImageDecoder (ops/image.c). Each reads one encoded
 * file from memory and returns its pixels as 8-bit samples, rows top to
 * bottom, with 1 channel (gray) or 3 (R, G, B): alpha is dropped and palettes
 * applied, as PIL's Image.open(...).convert("RGB") sees the file (ONNX's
 * reference implementation of ImageDecoder). PNG and TIFF samples of more than
 * 8 bits keep their high byte; PNM samples scale by their maxval. Errors say which format, what was wrong and at which byte
 * offset of the stream. Nothing here reads outside [data, data + size). */
#ifndef PFW_IMAGE_H
#define PFW_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

typedef struct pfw_image {
  int64_t width, height;
  int32_t channels; /* 1 or 3 */
  uint8_t* pixels;  /* height * width * channels bytes, malloc'd; freed with pfw_image_free */
} pfw_image;

/* Sets img's size and allocates its pixels; PFW_ERR_UNSUPPORTED naming the
 * format and size when they would exceed `limit` bytes (every scratch
 * allocation of a decoder is held to the same limit). */
pfw_status pfw_image_alloc(pfw_image* img, const char* format, int64_t width, int64_t height, int32_t channels,
                           size_t limit);
void pfw_image_free(pfw_image* img);

/* Recognises the format from the first bytes and decodes; a stream that is
 * no format here fails with PFW_ERR_UNSUPPORTED listing the ones there are. */
pfw_status pfw_image_decode(const uint8_t* data, size_t size, size_t limit, pfw_image* img);

pfw_status pfw_decode_png(const uint8_t* data, size_t size, size_t limit, pfw_image* img);
pfw_status pfw_decode_jpeg(const uint8_t* data, size_t size, size_t limit, pfw_image* img);
pfw_status pfw_decode_bmp(const uint8_t* data, size_t size, size_t limit, pfw_image* img);
pfw_status pfw_decode_pnm(const uint8_t* data, size_t size, size_t limit, pfw_image* img);
pfw_status pfw_decode_tiff(const uint8_t* data, size_t size, size_t limit, pfw_image* img);

/* Inflates a zlib stream (RFC 1950: header, deflate data, Adler-32) into
 * out[0, out_size); *written is the bytes produced. A stream that would
 * produce more than out_size bytes, or is malformed, is an error naming
 * `what` (e.g. "PNG IDAT") and the byte offset within `in`. */
pfw_status pfw_zlib_inflate(const char* what, const uint8_t* in, size_t in_size, uint8_t* out, size_t out_size,
                            size_t* written);

#endif
