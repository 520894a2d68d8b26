#!/usr/bin/python3
"""Keeps a USB emulator (Hardware/emulator/qkd_emulator.py) alive for tools/testbed --usb.

The emulator runs one command as its child, with the environment that reaches its emulated devices
(LD_PRELOAD of umockdev's library, UMOCKDEV_DIR, AKRP_EMULATOR_SOCKET), and ends with it. The testbed
wants the devices to outlive the box (kill and start it again without restarting the emulated link's
clock), so the emulator's child is this holder: it writes that environment to FILE (JSON) and waits
for SIGTERM; the box is started separately with the environment from FILE.

    usb_hold.py FILE
"""

import json
import os
import signal
import sys

path = sys.argv[1]
keys = ("LD_PRELOAD", "UMOCKDEV_DIR", "AKRP_EMULATOR_SOCKET")
environment = {k: os.environ[k] for k in keys if k in os.environ}
missing = [k for k in keys if k not in environment]
if missing:
    print("usb_hold: not under the emulator (missing %s)" % ", ".join(missing), file=sys.stderr)
    sys.exit(1)
with open(path + ".tmp", "w") as f:
    json.dump(environment, f)
os.replace(path + ".tmp", path)
print("usb_hold: devices ready; environment in %s" % path, file=sys.stderr, flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
while True:
    signal.pause()
