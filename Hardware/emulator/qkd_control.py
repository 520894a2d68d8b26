#!/usr/bin/env python3
"""Sends one command to a running USB emulator (qkd_emulator.py) over its control socket and prints the
reply after "ok"; exits 1 when the emulator answers "error …" or cannot be reached.

    qkd_control.py [--socket PATH] COMMAND [ARG...]      e.g.  qkd_control.py qber EMU00010002A 90000

The socket defaults to $AKRP_EMULATOR_SOCKET (set for every process the emulator starts). Commands:
Hardware/QKD-USB.md, "Emulator". Plain Python 3, no third-party module.
"""

import os
import socket
import sys


def main():
    args = sys.argv[1:]
    path = os.environ.get("AKRP_EMULATOR_SOCKET")
    if args[:1] == ["--socket"] and len(args) >= 2:
        path, args = args[1], args[2:]
    if not args:
        sys.exit("usage: qkd_control.py [--socket PATH] COMMAND [ARG...]")
    if not path:
        sys.exit("qkd_control.py: no emulator socket (--socket PATH or $AKRP_EMULATOR_SOCKET)")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(30)
            s.connect(path)
            s.sendall((" ".join(args) + "\n").encode())
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
    except OSError as error:
        sys.exit("qkd_control.py: %s: %s" % (path, error))
    text = reply.decode(errors="replace").strip()
    if not text.startswith("ok"):
        sys.exit("qkd_control.py: emulator: %s" % (text or "no reply"))
    if text[2:].strip():
        print(text[2:].strip())


if __name__ == "__main__":
    main()
