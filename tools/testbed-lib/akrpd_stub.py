#!/usr/bin/env python3
"""A stand-in for akrpd, to test the testbed's plumbing before the daemon exists.

    akrpd_stub.py --config FILE [--check]

It reads the text configuration (the subset tools/testbed writes), and then behaves like a box on
the network without any key or cryptography:
  - listens on `listen`; the lower node ID of each link dials the higher one at the neighbour's
    `address` (redialling with back-off from [peers] reconnect-min-ms), both send `HELLO <node>`;
  - measures the round-trip time over each peer connection once a second (PING/PONG) and logs it;
  - writes STATE_DIR/audit.log in the akrpd format: `start`, and on each link every half second the
    dialer "consumes" a few units for a made-up request and tells the other end, which logs the same
    units for the same request (so tools/audit-check has something real to check); the next unit of
    each link is kept in STATE_DIR/links.json so a restarted box does not reuse units;
  - answers `stats` (one line, JSON reply) on the control socket;
  - exits on SIGTERM/SIGINT.
Fault injection for tests: AKRP_STUB_FORGET=1 makes the box forget its unit counters across
restarts (it will reuse units: tools/audit-check must flag them). Logs go to stderr.
Python standard library only.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import time


def fail(message):
    print("akrpd-stub: error: %s" % message, file=sys.stderr)
    sys.exit(1)


def parse_config(path):
    """Returns (top-level dict, {section: dict}, topology nodes, topology links, {neighbour: dict})."""
    top, sections, nodes, links, neighbours = {}, {}, {}, [], {}
    section = None
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1].strip()
                if section.startswith("neighbour "):
                    neighbours[int(section.split()[1])] = {}
                else:
                    sections.setdefault(section, {})
                continue
            if section == "topology":
                words = line.split()
                if words[0] == "node" and len(words) == 3:
                    nodes[int(words[1])] = words[2]
                elif words[0] == "link" and len(words) >= 3:
                    fields = dict(w.split("=", 1) for w in words[3:])
                    links.append((words[1], words[2], fields))
                else:
                    fail("%s:%d: bad topology line %r" % (path, number, line))
                continue
            key, sep, value = line.partition("=")
            if not sep:
                fail("%s:%d: expected key = value, got %r" % (path, number, line))
            key, value = key.strip(), value.strip()
            if section is None:
                target = top
            elif section.startswith("neighbour "):
                target = neighbours[int(section.split()[1])]
            else:
                target = sections[section]
            if key in target:
                fail("%s:%d: %s given twice" % (path, number, key))
            target[key] = value
    return top, sections, nodes, links, neighbours


def address(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


class Box:
    def __init__(self, path):
        top, sections, nodes, links, neighbours = parse_config(path)
        for key in ("node", "listen", "control-socket", "state-dir"):
            if key not in top:
                fail("%s: missing %s" % (path, key))
        self.node = int(top["node"])
        if self.node not in nodes:
            fail("%s: node %d is not in [topology]" % (path, self.node))
        names = {name: ident for ident, name in nodes.items()}

        def ident(word):
            return int(word) if word.isdigit() else names[word]

        adjacent = set()
        for a, b, _ in links:
            a, b = ident(a), ident(b)
            if self.node in (a, b):
                adjacent.add(b if a == self.node else a)
        if set(neighbours) != adjacent:
            fail("%s: [neighbour] sections %s differ from the topology's neighbours %s"
                 % (path, sorted(neighbours), sorted(adjacent)))
        for peer, fields in neighbours.items():
            if "address" not in fields or "source" not in fields:
                fail("%s: [neighbour %d] needs address and source" % (path, peer))
            if fields["source"] not in ("simulated", "usb", "trace"):
                fail("%s: [neighbour %d] unknown source %s" % (path, peer, fields["source"]))
        self.name = nodes[self.node]
        self.listen = address(top["listen"])
        self.control = top["control-socket"]
        self.state = top["state-dir"]
        self.neighbours = {peer: address(fields["address"]) for peer, fields in neighbours.items()}
        self.sources = {peer: fields["source"] for peer, fields in neighbours.items()}
        self.reconnect = int(sections.get("peers", {}).get("reconnect-min-ms", "100")) / 1000.0
        self.peers = {}  # neighbour -> writer of the live connection
        self.rtt = {}
        self.connected_since = {}
        self.audit = None
        self.next_unit = {}
        self.serial = 0
        self.forget = os.environ.get("AKRP_STUB_FORGET") == "1"

    def log(self, text):
        print("%s akrpd-stub[%d %s]: %s" % (time.strftime("%H:%M:%S"), self.node, self.name, text),
              file=sys.stderr, flush=True)

    def audit_line(self, event, fields):
        self.audit.write("%d %s node=%d %s\n" % (time.time_ns(), event, self.node, fields))
        self.audit.flush()

    def link_name(self, peer):
        return "%d-%d" % (min(self.node, peer), max(self.node, peer))

    def load_state(self):
        os.makedirs(self.state, exist_ok=True)
        counter = os.path.join(self.state, "incarnation")
        incarnation = 1
        if os.path.exists(counter):
            incarnation = int(open(counter).read().strip() or "0") + 1
        with open(counter + ".tmp", "w") as f:
            f.write("%d\n" % incarnation)
        os.replace(counter + ".tmp", counter)
        links_path = os.path.join(self.state, "links.json")
        if os.path.exists(links_path) and not self.forget:
            self.next_unit = {int(k): v for k, v in json.load(open(links_path)).items()}
        self.audit = open(os.path.join(self.state, "audit.log"), "a", encoding="utf-8")
        self.audit_line("start", "incarnation=%d" % incarnation)
        self.incarnation = incarnation
        self.log("incarnation %d, listening on %s:%d, %d neighbour(s)%s"
                 % (incarnation, self.listen[0], self.listen[1], len(self.neighbours),
                    " (forgetting unit counters: AKRP_STUB_FORGET=1)" if self.forget else ""))

    def save_units(self):
        path = os.path.join(self.state, "links.json")
        with open(path + ".tmp", "w") as f:
            json.dump(self.next_unit, f)
        os.replace(path + ".tmp", path)

    def take_units(self, peer, count, at_least=0):
        first = max(self.next_unit.get(peer, 0), at_least)
        self.next_unit[peer] = first + count
        self.save_units()
        return first

    async def run(self):
        self.load_state()
        server = await asyncio.start_server(self.accepted, self.listen[0], self.listen[1], reuse_address=True)
        if os.path.exists(self.control):
            os.unlink(self.control)
        control = await asyncio.start_unix_server(self.control_client, self.control)
        os.chmod(self.control, 0o660)
        tasks = [asyncio.ensure_future(self.dial(peer)) for peer in sorted(self.neighbours) if self.node < peer]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        self.log("shutting down")
        for task in tasks:
            task.cancel()
        server.close()
        control.close()
        for writer in list(self.peers.values()):
            writer.close()
        try:
            os.unlink(self.control)
        except OSError:
            pass

    async def dial(self, peer):
        delay = self.reconnect
        while True:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(*self.neighbours[peer]), 5)
                writer.write(b"HELLO %d\n" % self.node)
                line = await asyncio.wait_for(reader.readline(), 5)
                if line.split() != [b"HELLO", b"%d" % peer]:
                    raise ConnectionError("unexpected greeting %r" % line)
                delay = self.reconnect
                await self.session(peer, reader, writer, dialer=True)
            except asyncio.CancelledError:
                raise
            except (OSError, ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError) as error:
                self.log("link %s: dial %s:%d failed: %s" % (self.link_name(peer), *self.neighbours[peer],
                                                             error or error.__class__.__name__))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def accepted(self, reader, writer):
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            words = line.split()
            peer = int(words[1]) if len(words) == 2 and words[0] == b"HELLO" else None
            if peer not in self.neighbours or peer > self.node:
                self.log("refused a connection from %s: %r" % (writer.get_extra_info("peername"), line))
                writer.close()
                return
            writer.write(b"HELLO %d\n" % self.node)
            await self.session(peer, reader, writer, dialer=False)
        except (OSError, ConnectionError, asyncio.TimeoutError, ValueError):
            writer.close()

    async def session(self, peer, reader, writer, dialer):
        old = self.peers.get(peer)
        if old is not None:
            old.close()
        self.peers[peer] = writer
        self.connected_since[peer] = time.time()
        self.log("link %s up (%s)" % (self.link_name(peer), "dialed" if dialer else "accepted"))
        pings = 0

        async def ticker():
            nonlocal pings
            while True:
                writer.write(b"PING %d\n" % time.monotonic_ns())
                if dialer:  # the dialer drives the made-up key consumption
                    self.serial += 1
                    request = "%d:%d" % (self.node, self.incarnation << 20 | self.serial)
                    first = self.take_units(peer, 8)
                    self.audit_line("consumed", "link=%s request=%s units=%d-%d"
                                    % (self.link_name(peer), request, first, first + 7))
                    writer.write(b"USE %s %d %d\n" % (request.encode(), first, first + 7))
                await writer.drain()
                await asyncio.sleep(0.5)

        tick = asyncio.ensure_future(ticker())
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                words = line.split()
                if words[0] == b"PING":
                    writer.write(b"PONG %s\n" % words[1])
                elif words[0] == b"PONG":
                    rtt = (time.monotonic_ns() - int(words[1])) / 1e6
                    self.rtt[peer] = rtt
                    pings += 1
                    if pings in (1, 10) or pings % 60 == 0:
                        self.log("link %s rtt %.1f ms" % (self.link_name(peer), rtt))
                elif words[0] == b"USE":
                    request, first, last = words[1].decode(), int(words[2]), int(words[3])
                    self.take_units(peer, last - first + 1, at_least=first)
                    self.audit_line("consumed", "link=%s request=%s units=%d-%d"
                                    % (self.link_name(peer), request, first, last))
        except (OSError, ConnectionError):
            pass
        finally:
            tick.cancel()
            if self.peers.get(peer) is writer:
                del self.peers[peer]
                self.log("link %s down" % self.link_name(peer))
            writer.close()

    async def control_client(self, reader, writer):
        try:
            line = (await reader.readline()).strip()
            if line == b"stats":
                reply = {"node": self.node, "name": self.name, "incarnation": self.incarnation, "stub": True,
                         "neighbours": {str(p): {"up": p in self.peers, "rtt_ms": self.rtt.get(p),
                                                 "address": "%s:%d" % self.neighbours[p],
                                                 "source": self.sources[p]} for p in sorted(self.neighbours)}}
            else:
                reply = {"error": "unknown command %r (the stub knows: stats)" % line.decode(errors="replace")}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()


def main():
    parser = argparse.ArgumentParser(description="akrpd stand-in for tools/testbed")
    parser.add_argument("--config", required=True)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    try:
        box = Box(args.config)
    except (OSError, ValueError, KeyError) as error:
        fail("%s: %s" % (args.config, error))
    if args.check:
        print("%s: node %d (%s), %d neighbour(s): ok" % (args.config, box.node, box.name, len(box.neighbours)))
        return
    try:
        asyncio.run(box.run())
    except OSError as error:
        fail(str(error))


if __name__ == "__main__":
    main()
