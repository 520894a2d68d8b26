#!/usr/bin/python3
"""Emulated AKRP QKD USB devices (Hardware/QKD-USB.md) for an unmodified libusb client.

Runs under `umockdev-wrapper` with Debian's /usr/bin/python3 (python3-gi, gir1.2-umockdev-1.0).
It creates a umockdev testbed, plugs emulated devices into it, answers their usbdevfs ioctls
(umockdev's programmatic ioctl emulation), starts COMMAND as its child with the testbed's
environment (LD_PRELOAD, UMOCKDEV_DIR, AKRP_EMULATOR_SOCKET) and exits with the child's status.

Two devices form a link and stream the same key stream (unit i = SHA-256 of seed, link, i and a
block counter; see QKD-USB.md, "Emulated key stream", and qkd_keystream.py) at the link's rate. Faults are injected on
demand through a line-based control socket (commands documented in QKD-USB.md, "Emulator").

Usage: qkd_emulator.py [--link LOW-HIGH[:RATE_BPS[:SEED]]]... [--verbose] -- COMMAND [ARG...]
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading

import gi


gi.require_version("UMockdev", "1.0")
from gi.repository import GLib, UMockdev  # noqa: E402

from qkd_usb_interface import (  # noqa: E402
    EVENT_LINK_DOWN, EVENT_LINK_UP, EVENT_QBER_ALARM, EVENT_QBER_CLEARED, MANUFACTURER, PRODUCT,
    PRODUCT_ID, VENDOR_ID, configuration_descriptor, device_descriptor,
)
from qkd_device import (  # noqa: E402
    Device, EINVAL, ESHUTDOWN, Link, log,
)
import qkd_device  # noqa: E402  (its VERBOSE switch)


class Handler(UMockdev.IoctlBase):
    """One plug-in of a device: its device node and the URBs submitted through it."""

    def __init__(self, device):
        super().__init__()
        self.device = device
        self.present = True
        self.pending = []  # submitted, not yet completed URBs
        self.completed = []  # completed, waiting to be reaped

    def do_handle_ioctl(self, client):
        # umockdev calls this on its own worker thread; control commands, timers and unplugs run
        # on the main loop. One lock keeps the device state (URB lists, cursor) consistent.
        with self.device.emulator.lock:
            try:
                return self.device.handle_ioctl(client, self)
            except Exception as error:  # an emulator bug must not hang the client
                print("emulator: ioctl handler failed:", repr(error), file=sys.stderr, flush=True)
                client.complete(-1, EINVAL)
                return True


class Emulator:
    def __init__(self):
        self.testbed = UMockdev.Testbed.new()
        self.devices = {}
        self.links = {}
        self.next_devnum = 2
        # Every device node's ioctl handler, for the emulator's lifetime. A client may keep the
        # node of an unplugged (or removed) device open and go on calling ioctls on it, which the
        # kernel answers with ENODEV; if the handler's Python object were collected, umockdev would
        # never answer (the client hangs) or drop the connection (the client aborts).
        self.handlers = []
        # Held by every ioctl and every command, timer and unplug (see Handler.do_handle_ioctl).
        self.lock = threading.RLock()

    def locked(self, function, *arguments):
        """Runs `function(*arguments)` under the emulator's lock (for main-loop callbacks)."""
        with self.lock:
            return function(*arguments)

    def add_link(self, low, high, rate_bps, seed):
        if (low, high) in self.links:
            raise ValueError("link %d-%d exists" % (low, high))
        link = Link(low, high, rate_bps, seed)
        self.links[(low, high)] = link
        serials = []
        for suffix, local in (("A", low), ("B", high)):
            serial = "EMU%04d%04d%s" % (low, high, suffix)
            device = Device(self, serial, link, local)
            self.devices[serial] = device
            self.plug(device)
            serials.append(serial)
        return serials

    def remove_link(self, low, high):
        self.links.pop((low, high))
        for serial in [s for s, d in self.devices.items() if (d.link.low, d.link.high) == (low, high)]:
            device = self.devices.pop(serial)
            if device.present:
                self.unplug(device)

    def plug(self, device):
        devnum = self.next_devnum
        self.next_devnum += 1
        device.devnode = "/dev/bus/usb/001/%03d" % devnum
        device.handler = Handler(device)
        self.handlers.append(device.handler)
        self.testbed.attach_ioctl(device.devnode, device.handler)
        descriptors = (device_descriptor() + configuration_descriptor()).hex().upper()
        self.testbed.add_from_string(
            "P: /devices/pci0000:00/0000:00:14.0/usb1/1-%d\n"
            "N: bus/usb/001/%03d\n"
            "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DRIVER=usb\n"
            "E: BUSNUM=001\nE: DEVNUM=%03d\nE: DEVNAME=/dev/bus/usb/001/%03d\n"
            "E: PRODUCT=%x/%x/100\n"
            "A: busnum=1\\n\nA: devnum=%d\\n\nA: speed=480\\n\nA: bConfigurationValue=1\\n\n"
            "A: idVendor=%04x\\n\nA: idProduct=%04x\\n\nA: serial=%s\\n\n"
            "A: manufacturer=%s\\n\nA: product=%s\\n\n"
            "H: descriptors=%s\n"
            % (devnum, devnum, devnum, devnum, VENDOR_ID, PRODUCT_ID, devnum, VENDOR_ID, PRODUCT_ID,
               device.serial, MANUFACTURER, PRODUCT, descriptors))
        device.syspath = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-%d" % devnum
        device.present = True
        device.streaming = False
        device.first_after_resync = True
        self.testbed.uevent(device.syspath, "add")
        log("plugged", device.serial, device.devnode)

    def unplug(self, device, mid_transfer=False):
        if not device.present:
            return False
        device.present = False
        device.streaming = False
        device.write = None
        conn = device.handler
        conn.present = False
        # As the kernel does: URBs in flight complete with -ESHUTDOWN and stay reapable.
        for urb in list(conn.pending):
            conn.pending.remove(urb)
            urb.status, urb.actual, urb.payload = -ESHUTDOWN, 0, b""
            conn.completed.append(urb)
        self.testbed.uevent(device.syspath, "remove")
        syspath = device.syspath
        # Remove the sysfs entry once the client has had time to reap its URBs.
        GLib.timeout_add(300, lambda: self.locked(self.testbed.remove_device, syspath) and False)
        log("unplugged", device.serial, "mid-transfer" if mid_transfer else "")
        return False

    def replug(self, device):
        if device.present:
            raise ValueError("%s is plugged" % device.serial)
        # The old node's handler keeps answering (ENODEV) until the client closes it.
        self.plug(device)

    def command(self, line):
        words = line.split()
        if not words:
            raise ValueError("empty command")
        verb, rest = words[0], words[1:]
        if verb == "add-link":
            low, high, rate, seed = (int(w) for w in rest)
            return " ".join(self.add_link(low, high, rate, seed))
        if verb == "remove-link":
            self.remove_link(int(rest[0]), int(rest[1]))
            return ""
        if verb == "list":
            return " ".join("%s:%s" % (s, "present" if d.present else "absent") for s, d in self.devices.items())
        device = self.devices.get(rest[0]) if rest else None
        if device is None:
            raise ValueError("no such device")
        if verb == "unplug":
            self.unplug(device)
            return ""
        if verb == "replug":
            self.replug(device)
            return ""
        if verb == "fault":
            kind = rest[1]
            if kind == "interrupt-config-write":
                device.faults[kind] = int(rest[2])
            elif kind in ("stall", "corrupt", "unplug-mid-transfer", "fail-claim", "hang-status"):
                device.faults[kind] = True
            else:
                raise ValueError("unknown fault " + kind)
            return ""
        if verb == "faults":
            return " ".join(sorted(device.faults))
        if verb == "link":
            up = rest[1] == "up"
            config = device.config
            device.link.set_up(up, config["unit_size"] if config else 32)
            for end in self.devices.values():
                if end.link is device.link and end.present:
                    end.queue_event(EVENT_LINK_UP if up else EVENT_LINK_DOWN, end.link.qber_ppm, end.cursor)
            return ""
        if verb == "qber":
            device.link.qber_ppm = int(rest[1])
            for end in self.devices.values():
                if end.link is device.link and end.present and end.config:
                    alarm = end.link.qber_ppm > end.config["qber_ppm"]
                    if alarm != end.alarm_qber:
                        end.alarm_qber = alarm
                        end.queue_event(EVENT_QBER_ALARM if alarm else EVENT_QBER_CLEARED, end.link.qber_ppm,
                                        end.cursor)
            return ""
        if verb == "config-generation":
            return str(device.config_slots[device.active_slot][0])
        raise ValueError("unknown command " + verb)


def serve_control(emulator, path):
    """Line-based control socket; each command runs on the GLib main loop."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)

    def run_on_main(line):
        done = threading.Event()
        result = {}

        def call():
            try:
                with emulator.lock:
                    result["reply"] = "ok " + emulator.command(line)
            except Exception as error:  # report, never crash the emulator
                result["reply"] = "error " + str(error).replace("\n", " ")
            done.set()
            return False

        GLib.idle_add(call)
        done.wait()
        return result["reply"].rstrip() + "\n"

    def client(connection):
        with connection, connection.makefile("rw") as stream:
            for line in stream:
                stream.write(run_on_main(line.strip()))
                stream.flush()

    def accept_loop():
        while True:
            connection, _ = server.accept()
            threading.Thread(target=client, args=(connection,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()


def parse_link(text):
    parts = text.split(":")
    low, high = (int(x) for x in parts[0].split("-"))
    rate = int(parts[1]) if len(parts) > 1 else 40_000_000
    seed = int(parts[2]) if len(parts) > 2 else 1
    return low, high, rate, seed


def main():

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--link", action="append", default=[], help="LOW-HIGH[:RATE_BPS[:SEED]]")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    qkd_device.VERBOSE = args.verbose
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run")
    if not os.environ.get("LD_PRELOAD", "").count("libumockdev-preload"):
        print("emulator: warning: not under umockdev-wrapper; hotplug events will not be delivered",
              file=sys.stderr)

    emulator = Emulator()
    for text in args.link:
        emulator.add_link(*parse_link(text))
    control_dir = tempfile.mkdtemp(prefix="akrp-emulator-")
    control_path = os.path.join(control_dir, "control")
    serve_control(emulator, control_path)

    environment = dict(os.environ)
    environment["UMOCKDEV_DIR"] = emulator.testbed.get_root_dir()
    preload = environment.get("LD_PRELOAD", "")
    if "libumockdev-preload" not in preload:
        environment["LD_PRELOAD"] = "libumockdev-preload.so.0" + (":" + preload if preload else "")
    environment["AKRP_EMULATOR_SOCKET"] = control_path

    loop = GLib.MainLoop()
    child = subprocess.Popen(command, env=environment)
    status = {}

    def child_exited(pid, code):
        status["code"] = os.waitstatus_to_exitcode(code) if hasattr(os, "waitstatus_to_exitcode") else code
        loop.quit()

    GLib.child_watch_add(GLib.PRIORITY_DEFAULT, child.pid, child_exited)
    for sig in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, lambda: (child.terminate(), True)[1])
    loop.run()
    try:
        os.unlink(control_path)
        os.rmdir(control_dir)
    except OSError:
        pass
    code = status.get("code", 1)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
