// libusb-1.0 for the device layer (AKRPDevice only). The include path comes from pkg-config.
#include <libusb.h>
