"""One emulated AKRP QKD device (Hardware/QKD-USB.md) behind a usbdevfs device node: its links' shared
key stream, its configuration slots, its URBs and vendor requests. Driven by qkd_emulator.py, which owns
the umockdev testbed, the control socket and the command under test."""

import struct
import sys
import time

from qkd_keystream import unit_bytes  # the one definition of the emulated stream

from qkd_usb_interface import (  # noqa: E402
    CONFIG_CHUNK_SIZE, CONFIG_MAX_LENGTH, EP_EVENT_IN, EP_KEY_IN, ERR_BAD_CONFIG, ERR_BAD_LENGTH,
    ERR_BAD_REQUEST, ERR_CRC, ERR_NONE, ERR_NO_WRITE, ERR_SEQUENCE, EVENT_UNITS_LOST,
    FRAME_HEADER_SIZE, FRAME_MAGIC, INFO_MAGIC, MANUFACTURER, MAX_FRAME_UNITS, PRODUCT,
    REQ_CONFIG_BEGIN, REQ_CONFIG_CHUNK, REQ_CONFIG_COMMIT, REQ_CONFIG_INFO, REQ_CONFIG_READ,
    REQ_GET_INFO, REQ_GET_STATUS, REQ_STREAM_RESYNC, REQ_STREAM_START, REQ_STREAM_STOP,
    RETAINED_UNITS, configuration_descriptor, crc32c, decode_config, device_descriptor,
    encode_config,
)


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


class Urb:
    def __init__(self, urb_data, buffer_data, urb_type, endpoint, length, setup):
        self.urb_data, self.buffer_data = urb_data, buffer_data
        self.type, self.endpoint, self.length, self.setup = urb_type, endpoint, length, setup
        self.status, self.actual, self.payload = 0, 0, b""
        self.done = False


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
            if self.control(urb):
                conn.completed.append(urb)
            else:
                conn.pending.append(urb)  # never answered: the client's timeout discards it
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
        """Handles a control request; returns False when the device does not answer it (a hung device)."""
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
        if reply is HUNG:
            return False
        if reply is UNPLUGGED:
            urb.status, urb.actual = -ESHUTDOWN, 0
            return True
        if reply is None:
            urb.status, urb.actual = -EPIPE, 0
            return True
        if request_type & 0x80:
            reply = reply[:length]
            urb.payload, urb.actual = reply, len(reply)
        else:
            urb.actual = len(data)
        return True

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
            if self.faults.get("hang-status"):
                del self.faults["hang-status"]
                return HUNG
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
                # Pulled out while the chunk is on the wire: the device is gone before it answers, and
                # the request completes as the kernel completes it then (-ESHUTDOWN: no device).
                del self.faults["interrupt-config-write"]
                self.write = None
                self.emulator.unplug(self, mid_transfer=True)
                return UNPLUGGED
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
# A vendor request's answer when the device was unplugged while handling it (see Device.control).
UNPLUGGED = object()
# A vendor request the device never answers (fault hang-status).
HUNG = object()
