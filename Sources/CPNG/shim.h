// Only libpng's simplified API (png_image_*) is usable from Swift: the classic
// API reports errors through longjmp, which Swift cannot survive.
#include <png.h>
