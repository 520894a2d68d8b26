#!/usr/bin/python3
"""The emulated QKD key stream (Hardware/QKD-USB.md, "Emulated key stream").

Unit i of link LOW-HIGH for SEED is the first UNIT_SIZE bytes of
SHA-256(seed ‖ low ‖ high ‖ i ‖ block) for block = 0, 1, … (u64, u32, u32, u64, u32, little-endian):
the same definition as `SeededKeyStream` in Sources/AKRPKeySource, which a Swift test checks by
running this file. Not secret key: a simulation stream. Kept apart from qkd_emulator.py so that it
runs with any Python 3, without the umockdev bindings.

Usage: qkd_keystream.py SEED LOW HIGH FIRST COUNT UNIT_SIZE   (prints one unit per line, hex)
"""

import hashlib
import struct
import sys


def unit_bytes(seed, low, high, index, unit_size):
    """The bytes of unit `index` of link `low`-`high` in the stream of `seed`."""
    out = bytearray()
    block = 0
    while len(out) < unit_size:
        out += hashlib.sha256(struct.pack("<QIIQI", seed, low, high, index, block)).digest()
        block += 1
    return bytes(out[:unit_size])


def main(argv):
    if len(argv) != 7:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    seed, low, high, first, count, unit_size = (int(word, 0) for word in argv[1:])
    for index in range(first, first + count):
        print(unit_bytes(seed, low, high, index, unit_size).hex())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
