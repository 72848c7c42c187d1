#ifndef PINGJIA_CLIBUSB_SHIM_H
#define PINGJIA_CLIBUSB_SHIM_H
#include <libusb.h>
#endif
