/* Baseline for "QR encode + PNG": libqrencode, one 8-bit gray pixel buffer, libpng's simplified
 * API writing once into memory. Same payload, error correction, module size (8) and quiet zone
 * (4) as the Swift benchmark.   qr_png PAYLOAD N -> {"p50_us":..,"p99_us":..,"n":..,"bytes":..} */
#include <png.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: qr_png PAYLOAD N\n"); return 2; }
    const char *payload = argv[1];
    long n = atol(argv[2]);
    const int scale = 8, quiet = 4;
    double *samples = malloc(sizeof(double) * (size_t)n);
    size_t bytes = 0;
    for (long i = 0; i < n + 20; i++) {
        double t0 = now_us();
        QRcode *code = QRcode_encodeData((int)strlen(payload), (const unsigned char *)payload, 0, QR_ECLEVEL_M);
        if (!code) { perror("QRcode_encodeData"); return 1; }
        int side = (code->width + 2 * quiet) * scale;
        unsigned char *pixels = malloc((size_t)side * side);
        memset(pixels, 255, (size_t)side * side);
        for (int y = 0; y < code->width; y++) {
            unsigned char *row = pixels + (size_t)(y + quiet) * scale * side;
            for (int x = 0; x < code->width; x++)
                if (code->data[y * code->width + x] & 1) memset(row + (x + quiet) * scale, 0, scale);
            for (int r = 1; r < scale; r++) memcpy(row + (size_t)r * side, row, side);
        }
        png_image image;
        memset(&image, 0, sizeof image);
        image.version = PNG_IMAGE_VERSION;
        image.width = side;
        image.height = side;
        image.format = PNG_FORMAT_GRAY;
        png_alloc_size_t length = (png_alloc_size_t)side * side / 8 + 4096;
        unsigned char *out = malloc(length);
        if (!png_image_write_to_memory(&image, out, &length, 0, pixels, 0, NULL)) {
            fprintf(stderr, "png: %s\n", image.message);
            return 1;
        }
        bytes = length;
        free(out);
        free(pixels);
        QRcode_free(code);
        if (i >= 20) samples[i - 20] = now_us() - t0;   /* the first 20 are warm-up */
    }
    qsort(samples, (size_t)n, sizeof(double), compare);
    printf("{\"p50_us\": %.1f, \"p99_us\": %.1f, \"n\": %ld, \"bytes\": %zu}\n", samples[n / 2], samples[(long)(n * 0.99)], n, bytes);
    return 0;
}
