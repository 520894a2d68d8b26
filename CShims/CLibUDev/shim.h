// libudev for device discovery (AKRPDevice only).
#include <libudev.h>
