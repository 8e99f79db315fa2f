/* libFuzzer target for the image codecs behind ImageDecoder (src/image/):
 * the input is one encoded file, decoded under a 64 MiB limit. A decode
 * either fails with a message or gives a whole image, every byte of which is
 * read (so a short or uninitialised block is an ASan/MSan report). Seeds:
 * runtime_c/tests/data/images (tools/fuzz.sh). */
#include <stdint.h>
#include <stdlib.h>

#include "image/image.h"
#include "pfw.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pfw_image img;
  pfw_status st = pfw_image_decode(data, size, (size_t)64 << 20, &img);
  if (st != PFW_OK) {
    const char* msg = pfw_last_error();
    if (img.pixels || !msg || !*msg) abort();
    return 0;
  }
  if (!img.pixels || img.width <= 0 || img.height <= 0 || (img.channels != 1 && img.channels != 3)) abort();
  unsigned sum = 0;
  for (int64_t i = 0, n = img.width * img.height * img.channels; i < n; i++) sum += img.pixels[i];
  pfw_image_free(&img);
  sink = sum; /* keeps every read */
  return 0;
}
