// The few libusb and libc calls Swift cannot make directly. Prefixed, tiny, no state.
#ifndef CAKRP_DEVICE_SHIMS_H
#define CAKRP_DEVICE_SHIMS_H

#include <stddef.h>
#include <libusb-1.0/libusb.h>

/// Sets libusb's log level on `context`. `libusb_set_option` is variadic, which Swift cannot call.
int CAKRPDeviceShims_set_log_level(libusb_context *context, int level);

/// Overwrites `length` bytes at `bytes` with zeros in a way the compiler may not elide
/// (key material in transfer buffers). The corresponding C function is `explicit_bzero`.
void CAKRPDeviceShims_wipe(void *bytes, size_t length);

#endif
