/* The image codecs (src/image/) under the sanitizers: every golden image of
 * runtime_c/tests/data/images decodes to the pixels Pillow gave
 * (tools/gen_image_goldens.py), then each is cut at every length and has
 * bytes flipped, which must give an image or an error, never a read outside
 * the stream (ASan) or undefined behaviour (UBSan). */
#include <stdint.h>

#include "image/image.h"
#include "test_util.h"

#ifndef PFW_TEST_DATA_DIR
#define PFW_TEST_DATA_DIR "runtime_c/tests/data"
#endif

static uint8_t* read_file(const char* name, size_t* size) {
  char path[1024];
  snprintf(path, sizeof path, "%s/images/%s", PFW_TEST_DATA_DIR, name);
  return pfw_test_read_file(path, size, "made by tools/gen_image_goldens.py");
}

static const size_t LIMIT = (size_t)1 << 26;

/* Decodes a damaged copy: an image or an error, and an image is whole. */
static void decode_damaged(const uint8_t* data, size_t size) {
  /* A copy of exactly `size` bytes, so ASan sees any read past the end. */
  uint8_t* copy = malloc(size ? size : 1);
  memcpy(copy, data, size);
  pfw_image img;
  pfw_status st = pfw_image_decode(copy, size, LIMIT, &img);
  if (st == PFW_OK) {
    CHECK(img.pixels && img.width > 0 && img.height > 0 && (img.channels == 1 || img.channels == 3));
    unsigned sum = 0; /* touch every byte */
    for (int64_t i = 0; i < img.width * img.height * img.channels; i++) sum += img.pixels[i];
    (void)sum;
    pfw_image_free(&img);
  } else {
    CHECK(img.pixels == NULL);
    CHECK(pfw_last_error()[0] != '\0');
  }
  free(copy);
}

int main(void) {
  size_t msize;
  char* manifest = (char*)read_file("MANIFEST.txt", &msize); /* NUL-terminated */
  int images = 0;
  uint64_t rng = 0x9e3779b97f4a7c15u;
  for (char* line = strtok(manifest, "\n"); line; line = strtok(NULL, "\n")) {
    if (line[0] == '#') continue;
    char name[256], path[300];
    long w, h;
    if (sscanf(line, "%255s %ld %ld", name, &w, &h) != 3) continue;
    size_t size, rgb_size, gray_size;
    uint8_t* data = read_file(name, &size);
    snprintf(path, sizeof path, "%s.rgb", name);
    uint8_t* rgb = read_file(path, &rgb_size);
    snprintf(path, sizeof path, "%s.gray", name);
    uint8_t* gray = read_file(path, &gray_size);
    pfw_image img;
    pfw_status st = pfw_image_decode(data, size, LIMIT, &img);
    CHECK_OK(st);
    if (st == PFW_OK) {
      CHECK(img.width == w && img.height == h);
      const uint8_t* want = img.channels == 3 ? rgb : gray;
      size_t n = (size_t)(w * h * img.channels);
      CHECK(n == (img.channels == 3 ? rgb_size : gray_size));
      bool same = n == (img.channels == 3 ? rgb_size : gray_size) && memcmp(img.pixels, want, n) == 0;
      if (!same) fprintf(stderr, "%s: pixels differ from Pillow's\n", name);
      CHECK(same);
      pfw_image_free(&img);
    } else {
      fprintf(stderr, "%s: %s\n", name, pfw_last_error());
    }
    /* Damage: every cut of the first 2 KB and every 7th beyond, then flips. */
    for (size_t cut = 0; cut < size; cut += cut < 2048 ? 1 : 7) decode_damaged(data, cut);
    for (int k = 0; k < 200; k++) {
      rng = rng * 6364136223846793005u + 1442695040888963407u;
      size_t at = (size_t)(rng >> 33) % size;
      uint8_t saved = data[at];
      data[at] ^= (uint8_t)(1u << ((rng >> 20) & 7));
      if (k % 4 == 0) data[at] = (uint8_t)(rng >> 40); /* also whole-byte values: 0, 0xff, lengths */
      decode_damaged(data, size);
      data[at] = saved;
    }
    images++;
    free(data);
    free(rgb);
    free(gray);
  }
  CHECK(images >= 100);
  /* A size that would not fit the limit fails before allocating. */
  pfw_image img;
  CHECK_STATUS(pfw_image_alloc(&img, "TEST", 1 << 20, 1 << 20, 3, LIMIT), PFW_ERR_UNSUPPORTED);
  CHECK(strstr(pfw_last_error(), "memory limit") != NULL);
  free(manifest);
  printf("test_image: %d images, %d checks, %d failures\n", images, pfw_test_checks, pfw_test_failures);
  return pfw_test_failures ? 1 : 0;
}
