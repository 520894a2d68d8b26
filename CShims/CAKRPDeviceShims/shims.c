#include "CAKRPDeviceShims.h"

_Static_assert(sizeof(((struct libusb_transfer *)0)->length) == 4, "libusb transfer length is an int");

int CAKRPDeviceShims_set_log_level(libusb_context *context, int level) {
    return libusb_set_option(context, LIBUSB_OPTION_LOG_LEVEL, level);
}
