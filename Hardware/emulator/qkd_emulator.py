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
import struct
import subprocess
import sys
import tempfile
import threading
import time

import gi

from qkd_keystream import unit_bytes  # the one definition of the emulated stream

gi.require_version("UMockdev", "1.0")
from gi.repository import GLib, UMockdev  # noqa: E402

try:
    import crcmod.predefined

    _crc32c_fast = crcmod.predefined.mkCrcFun("crc-32c")
except ImportError:  # pure-Python fallback, slower but identical
    _crc32c_fast = None

_CRC_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data):
    if _crc32c_fast is not None:
        return _crc32c_fast(data)
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# --- USB identity (QKD-USB.md, "Descriptors and IDs") ---------------------------------------
VENDOR_ID = 0x1209  # pid.codes
PRODUCT_ID = 0x0001  # pid.codes test PID: emulated and development devices only
EP_KEY_IN = 0x81
EP_EVENT_IN = 0x82
MANUFACTURER = "AKRP project"
PRODUCT = "AKRP emulated QKD device"


def device_descriptor():
    return struct.pack("<BBHBBBBHHHBBBB", 18, 1, 0x0200, 0, 0, 0, 64, VENDOR_ID, PRODUCT_ID,
                       0x0100, 1, 2, 3, 1)


def configuration_descriptor():
    interface = struct.pack("<BBBBBBBBB", 9, 4, 0, 0, 2, 0xFF, 0x51, 0x01, 0)
    ep_key = struct.pack("<BBBBHB", 7, 5, EP_KEY_IN, 0x02, 512, 0)
    ep_event = struct.pack("<BBBBHB", 7, 5, EP_EVENT_IN, 0x03, 16, 4)
    total = 9 + len(interface) + len(ep_key) + len(ep_event)
    config = struct.pack("<BBHBBBBB", 9, 2, total, 1, 1, 0, 0x80, 50)
    return config + interface + ep_key + ep_event


# --- vendor requests (QKD-USB.md, "Control requests") ---------------------------------------
REQ_GET_INFO = 0x01
REQ_GET_STATUS = 0x02
REQ_STREAM_START = 0x03
REQ_STREAM_STOP = 0x04
REQ_STREAM_RESYNC = 0x05
REQ_CONFIG_INFO = 0x10
REQ_CONFIG_READ = 0x11
REQ_CONFIG_BEGIN = 0x12
REQ_CONFIG_CHUNK = 0x13
REQ_CONFIG_COMMIT = 0x14

CONFIG_CHUNK_SIZE = 32
CONFIG_MAX_LENGTH = 1024
FRAME_HEADER_SIZE = 32
FRAME_MAGIC = 0x46444B51  # "QKDF"
INFO_MAGIC = 0x49444B51  # "QKDI"
CONFIG_MAGIC = 0x43444B51  # "QKDC"
MAX_FRAME_UNITS = 1024
RETAINED_UNITS = 1 << 20

ERR_NONE, ERR_BAD_REQUEST, ERR_BAD_LENGTH, ERR_CRC, ERR_SEQUENCE, ERR_NO_WRITE, ERR_BAD_CONFIG = range(7)

EVENT_LINK_UP, EVENT_LINK_DOWN, EVENT_QBER_ALARM, EVENT_QBER_CLEARED, EVENT_UNITS_LOST = 1, 2, 3, 4, 5

# --- usbdevfs ioctls (linux/usbdevice_fs.h, x86_64/aarch64 layout) ---------------------------


def _ioc(direction, nr, size):
    return (direction << 30) | (size << 16) | (ord("U") << 8) | nr


URB_SIZE = 56
USBDEVFS_SUBMITURB = _ioc(2, 10, URB_SIZE)
USBDEVFS_DISCARDURB = _ioc(0, 11, 0)
USBDEVFS_REAPURB = _ioc(1, 12, 8)
USBDEVFS_REAPURBNDELAY = _ioc(1, 13, 8)
USBDEVFS_CLAIMINTERFACE = _ioc(2, 15, 4)
USBDEVFS_RELEASEINTERFACE = _ioc(2, 16, 4)
USBDEVFS_SETINTERFACE = _ioc(2, 4, 8)
USBDEVFS_SETCONFIGURATION = _ioc(2, 5, 4)
USBDEVFS_GETDRIVER = _ioc(1, 8, 260)
USBDEVFS_IOCTL = _ioc(3, 18, 16)
USBDEVFS_RESET = _ioc(0, 20, 0)
USBDEVFS_CLEAR_HALT = _ioc(2, 21, 4)
USBDEVFS_GET_CAPABILITIES = _ioc(2, 26, 4)
USBDEVFS_DISCONNECT_CLAIM = _ioc(2, 27, 264)
USBDEVFS_GET_SPEED = _ioc(0, 31, 0)
CAPS = 0x01 | 0x04 | 0x08 | 0x10  # ZERO_PACKET, NO_PACKET_SIZE_LIM, BULK_SCATTER_GATHER, REAP_AFTER_DISCONNECT
URB_TYPE_INTERRUPT, URB_TYPE_CONTROL, URB_TYPE_BULK = 1, 2, 3
ENOENT, EAGAIN, EBUSY, EINVAL, ENODEV, ENOTTY, EPIPE, ESHUTDOWN, ENOMSG = 2, 11, 16, 22, 19, 25, 32, 108, 42

VERBOSE = False


def log(*args):
    if VERBOSE:
        print("emulator:", *args, file=sys.stderr, flush=True)


# --- the shared key stream: qkd_keystream.py (beside this file) -------------------------------

class Link:
    """One QKD link: two ends, one seeded stream produced at `rate_bps` from `up_since`."""

    def __init__(self, low, high, rate_bps, seed):
        self.low, self.high, self.rate_bps, self.seed = low, high, rate_bps, seed
        self.up = True
        self.produced_before = 0  # units produced during earlier up periods
        self.up_since = time.monotonic()
        self.qber_ppm = 12000

    def head(self, unit_size):
        """Units produced so far (indices [0, head))."""
        produced = self.produced_before
        if self.up:
            produced += int((time.monotonic() - self.up_since) * self.rate_bps / 8 / unit_size)
        return produced

    def set_up(self, up, unit_size):
        if up == self.up:
            return
        if up:
            self.up_since = time.monotonic()
        else:
            self.produced_before = self.head(unit_size)
        self.up = up


def encode_config(low, high, local, unit_size, frame_units, min_rate, qber_alarm_ppm, label):
    raw_label = label.encode("utf-8")[:48]
    return (struct.pack("<IHHIIIIHHI", CONFIG_MAGIC, 1, unit_size, low, high, local, min_rate,
                        frame_units, 0, qber_alarm_ppm) + raw_label.ljust(48, b"\0") + bytes(16))


def decode_config(blob):
    """Returns the fields of a version-1 configuration blob, or None when it is not valid."""
    if len(blob) != 96:
        return None
    magic, version, unit_size, low, high, local, min_rate, frame_units, _, qber = struct.unpack_from(
        "<IHHIIIIHHI", blob)
    if magic != CONFIG_MAGIC or version != 1 or not (1 <= unit_size <= 4096) or low == 0 or high <= low:
        return None
    if local not in (low, high) or not (1 <= frame_units <= MAX_FRAME_UNITS):
        return None
    return dict(unit_size=unit_size, low=low, high=high, local=local, min_rate=min_rate,
                frame_units=frame_units, qber_ppm=qber)


class Urb:
    def __init__(self, urb_data, buffer_data, urb_type, endpoint, length, setup):
        self.urb_data, self.buffer_data = urb_data, buffer_data
        self.type, self.endpoint, self.length, self.setup = urb_type, endpoint, length, setup
        self.status, self.actual, self.payload = 0, 0, b""
        self.done = False


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


class Device:
    """One emulated QKD device: one end of a link, with two configuration slots."""

    def __init__(self, emulator, serial, link, local):
        self.emulator, self.serial, self.link, self.local = emulator, serial, link, local
        self.syspath = None
        self.devnode = None
        self.handler = None
        self.present = False
        self.config_slots = [None, None]  # each: (generation, blob)
        blob = encode_config(link.low, link.high, local, 32, MAX_FRAME_UNITS, 0, 50000, "factory default")
        self.config_slots[0] = (1, blob)
        self.active_slot = 0
        self.write = None  # (total length, crc, chunks received, bytearray)
        self.streaming = False
        self.cursor = 0
        self.first_after_resync = True
        self.last_error = ERR_NONE
        self.units_lost = 0
        self.frames_sent = 0
        self.events = []
        self.faults = {}
        self.alarm_qber = False

    # configuration in force
    @property
    def config(self):
        return decode_config(self.config_slots[self.active_slot][1])

    def oldest(self, unit_size):
        return max(0, self.link.head(unit_size) - RETAINED_UNITS)

    def queue_event(self, kind, qber_ppm=0, index=0):
        self.events.append(struct.pack("<BBHIQ", kind, 0, 0, qber_ppm, index))

    # --- ioctls ---
    def handle_ioctl(self, client, conn):
        request = client.get_request()
        arg = client.get_arg()
        if not conn.present:
            if request in (USBDEVFS_REAPURB, USBDEVFS_REAPURBNDELAY) and conn.completed:
                return self.reap(client, arg, conn)
            client.complete(-1, ENODEV)
            return True
        if request == USBDEVFS_GET_CAPABILITIES:
            arg.resolve(0, 4).update(0, struct.pack("<I", CAPS))
            client.complete(0, 0)
        elif request == USBDEVFS_CLAIMINTERFACE and self.faults.get("fail-claim"):
            del self.faults["fail-claim"]  # as if another driver held the interface
            client.complete(-1, EBUSY)
        elif request in (USBDEVFS_CLAIMINTERFACE, USBDEVFS_RELEASEINTERFACE, USBDEVFS_CLEAR_HALT,
                         USBDEVFS_RESET, USBDEVFS_SETINTERFACE, USBDEVFS_SETCONFIGURATION,
                         USBDEVFS_DISCONNECT_CLAIM):
            client.complete(0, 0)
        elif request == USBDEVFS_GETDRIVER:
            client.complete(-1, ENODATA)
        elif request == USBDEVFS_GET_SPEED:
            client.complete(3, 0)  # USB_SPEED_HIGH
        elif request == USBDEVFS_SUBMITURB:
            self.submit(client, arg, conn)
        elif request in (USBDEVFS_REAPURB, USBDEVFS_REAPURBNDELAY):
            return self.reap(client, arg, conn)
        elif request == USBDEVFS_DISCARDURB:
            address = struct.unpack_from("<Q", bytes(arg.retrieve()))[0]
            for urb in conn.pending:
                if urb.urb_data.client_addr == address:
                    conn.pending.remove(urb)
                    urb.status, urb.actual = -ENOENT, 0
                    conn.completed.append(urb)
                    client.complete(0, 0)
                    break
            else:
                client.complete(-1, EINVAL)
        else:
            log("unhandled ioctl 0x%x on %s" % (request, self.serial))
            client.complete(-1, ENOTTY)
        return True

    def submit(self, client, arg, conn):
        urb_data = arg.resolve(0, URB_SIZE)
        raw = bytes(urb_data.retrieve())
        urb_type, endpoint = raw[0], raw[1]
        length = struct.unpack_from("<i", raw, 24)[0]
        buffer_data = urb_data.resolve(16, length) if length > 0 else None
        setup = bytes(buffer_data.retrieve()[:8]) if urb_type == URB_TYPE_CONTROL and buffer_data else b""
        urb = Urb(urb_data, buffer_data, urb_type, endpoint, length, setup)
        if urb_type == URB_TYPE_CONTROL:
            self.control(urb)
            conn.completed.append(urb)
        elif urb_type in (URB_TYPE_BULK, URB_TYPE_INTERRUPT) and endpoint in (EP_KEY_IN, EP_EVENT_IN):
            conn.pending.append(urb)
        else:
            client.complete(-1, EINVAL)
            return
        client.complete(0, 0)

    def reap(self, client, arg, conn):
        self.progress(conn)
        if not conn.completed:
            if not conn.present:
                client.complete(-1, ENODEV)
            else:
                client.complete(-1, EAGAIN)
            return True
        urb = conn.completed.pop(0)
        if urb.payload and urb.buffer_data is not None:
            offset = 8 if urb.type == URB_TYPE_CONTROL else 0
            urb.buffer_data.update(offset, urb.payload)
            urb.payload = b""
        urb.urb_data.update(4, struct.pack("<i", urb.status))
        urb.urb_data.update(28, struct.pack("<i", urb.actual))
        arg.resolve(0, 8).set_ptr(0, urb.urb_data)
        client.complete(0, 0)
        return True

    def progress(self, conn):
        """Completes pending IN transfers for which the device has data."""
        for urb in list(conn.pending):
            if not conn.present:
                return
            if urb.endpoint == EP_EVENT_IN:
                if self.events:
                    event = self.events.pop(0)
                    self.finish(urb, 0, event[: urb.length], conn)
            elif urb.endpoint == EP_KEY_IN:
                self.progress_key(urb, conn)

    def finish(self, urb, status, payload, conn):
        conn.pending.remove(urb)
        urb.status, urb.payload, urb.actual = status, payload, len(payload)
        conn.completed.append(urb)

    def progress_key(self, urb, conn):
        fault = self.faults.get("stall")
        if fault:
            del self.faults["stall"]
            self.finish(urb, -EPIPE, b"", conn)
            return
        if self.faults.get("unplug-mid-transfer"):
            del self.faults["unplug-mid-transfer"]
            self.emulator.unplug(self, mid_transfer=True)
            return
        config = self.config
        if not self.streaming or config is None or not self.link.up:
            return
        unit_size = config["unit_size"]
        head = self.link.head(unit_size)
        oldest = max(0, head - RETAINED_UNITS)
        after_loss = False
        if self.cursor < oldest:
            lost = oldest - self.cursor
            self.units_lost += lost
            self.queue_event(EVENT_UNITS_LOST, self.link.qber_ppm, self.cursor)
            self.cursor = oldest
            after_loss = True
        room = (urb.length - FRAME_HEADER_SIZE) // unit_size
        count = min(head - self.cursor, config["frame_units"], room)
        if count <= 0:
            return
        key = b"".join(unit_bytes(self.link.seed, self.link.low, self.link.high, i, unit_size)
                       for i in range(self.cursor, self.cursor + count))
        flags = (1 if self.first_after_resync else 0) | (2 if after_loss else 0)
        header = struct.pack("<IIIQHHIHH", FRAME_MAGIC, self.link.low, self.link.high, self.cursor,
                             count, unit_size, 0, flags, 0)
        crc = crc32c(header + key)
        frame = bytearray(header[:24] + struct.pack("<I", crc) + header[28:] + key)
        if self.faults.get("corrupt"):
            del self.faults["corrupt"]
            frame[FRAME_HEADER_SIZE + 3] ^= 0x5A
        self.cursor += count
        self.first_after_resync = False
        self.frames_sent += 1
        self.finish(urb, 0, bytes(frame), conn)

    # --- control requests ---
    def control(self, urb):
        request_type, request, value, index, length = struct.unpack("<BBHHH", urb.setup)
        data = bytes(urb.buffer_data.retrieve()[8: 8 + length]) if (request_type & 0x80) == 0 and length else b""
        urb.status = 0
        if request_type == 0x80 and request == 6:  # GET_DESCRIPTOR
            reply = self.descriptor(value >> 8, value & 0xFF)
        elif request_type == 0x00 and request == 9:  # SET_CONFIGURATION
            reply = b""
        elif request_type in (0xC1, 0xC0, 0x41, 0x40):
            reply = self.vendor(request, value, data)
        else:
            reply = None
        if reply is None:
            urb.status, urb.actual = -EPIPE, 0
            return
        if request_type & 0x80:
            reply = reply[:length]
            urb.payload, urb.actual = reply, len(reply)
        else:
            urb.actual = len(data)

    def descriptor(self, kind, number):
        if kind == 1:
            return device_descriptor()
        if kind == 2:
            return configuration_descriptor()
        if kind == 3:
            if number == 0:
                return struct.pack("<BBH", 4, 3, 0x0409)
            text = {1: MANUFACTURER, 2: PRODUCT, 3: self.serial}.get(number)
            if text is None:
                return None
            raw = text.encode("utf-16-le")
            return struct.pack("<BB", 2 + len(raw), 3) + raw
        return None

    def vendor(self, request, value, data):
        config = self.config
        if request == REQ_GET_INFO:
            unit_size = config["unit_size"] if config else 0
            low, high, local = (config["low"], config["high"], config["local"]) if config else (0, 0, 0)
            return (struct.pack("<IHHHHIIIII", INFO_MAGIC, 1, unit_size, MAX_FRAME_UNITS, 0, low, high,
                                local, 0x00010000, self.link.rate_bps)
                    + self.serial.encode("ascii")[:32].ljust(32, b"\0"))
        if request == REQ_GET_STATUS:
            unit_size = config["unit_size"] if config else 32
            state = 2 if not self.link.up else (1 if self.streaming else 0)
            alarms = (1 if self.alarm_qber else 0) | (2 if self.units_lost else 0) | (4 if config is None else 0)
            rate = self.link.rate_bps if self.link.up else 0
            head = self.link.head(unit_size)
            buffered = max(0, head - max(self.cursor, self.oldest(unit_size)))
            return struct.pack("<BBBBIIIQQQII", state, alarms, self.last_error, 0, rate, self.link.qber_ppm,
                               min(buffered, 0xFFFFFFFF), self.cursor, self.oldest(unit_size), self.units_lost,
                               self.frames_sent, 0)
        if request == REQ_STREAM_START:
            self.streaming = True
            return b""
        if request == REQ_STREAM_STOP:
            self.streaming = False
            return b""
        if request == REQ_STREAM_RESYNC:
            if len(data) != 8:
                self.last_error = ERR_BAD_LENGTH
                return None
            wanted = struct.unpack("<Q", data)[0]
            unit_size = config["unit_size"] if config else 32
            oldest = self.oldest(unit_size)
            if wanted < oldest:
                self.units_lost += oldest - wanted
            self.cursor = max(wanted, oldest)
            self.first_after_resync = True
            return b""
        if request == REQ_CONFIG_INFO:
            generation, blob = self.config_slots[self.active_slot]
            valid = sum(1 << i for i, slot in enumerate(self.config_slots) if slot is not None)
            return struct.pack("<BBHIII", self.active_slot, valid, 0, generation, len(blob), crc32c(blob))
        if request == REQ_CONFIG_READ:
            blob = self.config_slots[self.active_slot][1]
            start = value * CONFIG_CHUNK_SIZE
            if start >= len(blob):
                self.last_error = ERR_BAD_REQUEST
                return None
            return blob[start: start + CONFIG_CHUNK_SIZE]
        if request == REQ_CONFIG_BEGIN:
            if len(data) != 8:
                self.last_error = ERR_BAD_LENGTH
                return None
            total, crc = struct.unpack("<II", data)
            if not (0 < total <= CONFIG_MAX_LENGTH):
                self.last_error = ERR_BAD_LENGTH
                return None
            inactive = 1 - self.active_slot
            self.config_slots[inactive] = None  # erase the inactive slot first
            self.write = [total, crc, 0, bytearray()]
            return b""
        if request == REQ_CONFIG_CHUNK:
            if self.write is None:
                self.last_error = ERR_NO_WRITE
                return None
            total, crc, received, staged = self.write
            if value != received or len(staged) + len(data) > total or not data:
                self.last_error = ERR_SEQUENCE
                self.write = None
                return None
            limit = self.faults.get("interrupt-config-write")
            if limit is not None and received >= limit:
                del self.faults["interrupt-config-write"]
                GLib.idle_add(lambda: self.emulator.locked(self.emulator.unplug, self) and False)
                return None
            staged += data
            self.write[2] = received + 1
            return b""
        if request == REQ_CONFIG_COMMIT:
            if self.write is None:
                self.last_error = ERR_NO_WRITE
                return None
            total, crc, _, staged = self.write
            self.write = None
            if len(staged) != total or crc32c(bytes(staged)) != crc:
                self.last_error = ERR_CRC
                return None
            if decode_config(bytes(staged)) is None:
                self.last_error = ERR_BAD_CONFIG
                return None
            generation = self.config_slots[self.active_slot][0] + 1
            inactive = 1 - self.active_slot
            self.config_slots[inactive] = (generation, bytes(staged))
            self.active_slot = inactive  # the atomic switch: the newer valid slot wins
            self.last_error = ERR_NONE
            return b""
        self.last_error = ERR_BAD_REQUEST
        return None


ENODATA = 61


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
            elif kind in ("stall", "corrupt", "unplug-mid-transfer", "fail-claim"):
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
    global VERBOSE
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--link", action="append", default=[], help="LOW-HIGH[:RATE_BPS[:SEED]]")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    VERBOSE = args.verbose
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
