// The few libusb and libc calls Swift cannot make directly. Prefixed, tiny, no state.
#ifndef CAKRP_DEVICE_SHIMS_H
#define CAKRP_DEVICE_SHIMS_H

#include <stddef.h>
#include <libusb-1.0/libusb.h>

/// Sets libusb's log level on `context`. `libusb_set_option` is variadic, which Swift cannot call.
int CAKRPDeviceShims_set_log_level(libusb_context *context, int level);

#endif
