"""The USB interface of an AKRP QKD device (Hardware/QKD-USB.md) as the emulator speaks it: identity and
descriptors, vendor requests, frame and configuration layouts, error and event codes, CRC-32C.
Plain Python 3 (no umockdev): what a device is, not how it is emulated."""

import struct

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
