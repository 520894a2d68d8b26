#!/usr/bin/env python3
"""An SAE for the key delivery tests (tools/test-box etsi014, tools/bench-etsi): ETSI GS QKD 014 requests
over mutual TLS with Python's own ssl and http.client, run inside a box's namespace. Prints one JSON
object. Key bytes are printed only as base64, only because the test compares them between two boxes.

    etsi_probe.py HOST:PORT CERT KEY CA COMMAND [ARGS]

COMMAND:
  get PATH                    GET; prints {"status": S, "body": ...}
  post PATH JSON              POST with a JSON body
  raw PATH BYTES              POST with BYTES as body (not JSON-encoded); @pad:N: a JSON object with N blanks
  handshake                   TLS handshake only, then one GET of a status path; prints {"ok": bool, "error": ...}
  thirdparty SLAVE MASTER     the etsi-qkd-014-client package: get_status, get_key (as master of SLAVE)
  thirdparty-dec MASTER IDS   etsi-qkd-014-client get_key_with_key_IDs (IDS comma-separated)
  slow PATH SECONDS           sends a request head one byte per second; prints when the box closed it
  flood N                     opens N TCP connections at once (no TLS), holds them 2 s; prints how many connected
  bench SLAVE SECONDS PROCS   enc_keys (GET, default size) over PROCS keep-alive connections, one process each
                              (all start together); prints keys/s, errors and latency quantiles
  latency SLAVE COUNT [NUMBER SIZE]  COUNT enc_keys (NUMBER keys of SIZE bits each) one after the other on one
                              keep-alive connection; prints p50/p99
"""

import http.client
import json
import socket
import ssl
import sys
import time


def context(cert, key, ca):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    if cert != "-":
        ctx.load_cert_chain(cert, key)
    return ctx


def connect(hostport, ctx):
    host, port = hostport.rsplit(":", 1)
    return http.client.HTTPSConnection(host, int(port), context=ctx, timeout=30)


def request(conn, method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    try:
        doc = json.loads(data)
    except ValueError:
        doc = data.decode("utf-8", "replace")
    return {"status": r.status, "body": doc}


def quantiles(latencies):
    q = lambda p: round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 3) if latencies else None
    return {"p50_ms": q(0.5), "p90_ms": q(0.9), "p99_ms": q(0.99), "max_ms": q(1.0)}


def bench_worker(hostport, cert, key, ca, slave, seconds, barrier, queue):
    conn = connect(hostport, context(cert, key, ca))
    conn.request("GET", "/api/v1/keys/%s/status" % slave)  # handshake before the clock starts
    conn.getresponse().read()
    barrier.wait()
    latencies, errors = [], 0
    start = time.perf_counter()
    stop = start + seconds
    path = "/api/v1/keys/%s/enc_keys" % slave
    while time.perf_counter() < stop:
        t = time.perf_counter()
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        if r.status == 200:
            latencies.append(time.perf_counter() - t)
        else:
            errors += 1
    queue.put({"latencies": latencies, "errors": errors, "seconds": time.perf_counter() - start})


def main():
    hostport, cert, key, ca, command, *args = sys.argv[1:]
    ctx = context(cert, key, ca)
    if command in ("get", "post", "raw"):
        conn = connect(hostport, ctx)
        if command == "get":
            body = None
        elif command == "raw" and args[1].startswith("@pad:"):  # a JSON object padded to N bytes of blanks
            body = b'{"size": 256' + b" " * int(args[1][5:]) + b"}"
        else:
            body = args[1].encode() if command == "raw" else json.dumps(json.loads(args[1])).encode()
        try:
            print(json.dumps(request(conn, "GET" if command == "get" else "POST", args[0], body)))
        except (ssl.SSLError, ConnectionError, OSError, http.client.HTTPException) as e:
            print(json.dumps({"status": None, "error": repr(e)}))
    elif command == "handshake":
        conn = connect(hostport, ctx)
        try:
            r = request(conn, "GET", args[0] if args else "/api/v1/keys/x/status")
            print(json.dumps({"ok": True, "status": r["status"]}))
        except (ssl.SSLError, ConnectionError, OSError, http.client.HTTPException) as e:
            print(json.dumps({"ok": False, "error": repr(e)}))
    elif command == "thirdparty":
        from etsi_qkd_014_client import QKD014Client
        client = QKD014Client(hostport, cert, key, ca)
        slave = args[0]
        code, status = client.get_status(slave)
        out = {"get_status": code, "status": vars(status)}
        code, container = client.get_key(slave)
        out["get_key"] = code
        out["keys"] = [{"key_ID": k.key_id, "key": k.key} for k in getattr(container, "keys", [])] if code == 200 else vars(container)
        code, container = client.get_key(slave, number=2, size=512)
        out["get_key_post"] = code
        out["keys"] += [{"key_ID": k.key_id, "key": k.key} for k in getattr(container, "keys", [])] if code == 200 else []
        print(json.dumps(out, default=str))
    elif command == "thirdparty-dec":
        from etsi_qkd_014_client import QKD014Client
        client = QKD014Client(hostport, cert, key, ca)
        code, container = client.get_key_with_key_IDs(args[0], args[1].split(","))
        out = {"get_key_with_key_IDs": code}
        out["keys"] = [{"key_ID": k.key_id, "key": k.key} for k in getattr(container, "keys", [])] if code == 200 else vars(container)
        print(json.dumps(out, default=str))
    elif command == "slow":
        host, port = hostport.rsplit(":", 1)
        raw = socket.create_connection((host, int(port)), timeout=120)
        s = ctx.wrap_socket(raw, server_hostname=host)
        start = time.time()
        line = ("GET %s HTTP/1.1\r\nHost: x\r\nX-Slow: " % args[0]).encode() + b"a" * 1000
        closed_after = None
        for b in line:
            try:
                s.send(bytes([b]))
            except OSError:
                closed_after = time.time() - start
                break
            if time.time() - start > float(args[1]):
                break
            s.settimeout(1.0)
            try:
                if s.recv(1) == b"":
                    closed_after = time.time() - start
                    break
            except socket.timeout:
                pass
            except (OSError, ssl.SSLError):
                closed_after = time.time() - start
                break
        print(json.dumps({"closed_after_s": closed_after}))
    elif command == "flood":
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, int(args[0]) + 64) if hard != resource.RLIM_INFINITY else int(args[0]) + 64
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        host, port = hostport.rsplit(":", 1)
        sockets, failed = [], 0
        for _ in range(int(args[0])):
            try:
                sockets.append(socket.create_connection((host, int(port)), timeout=5))
            except OSError:
                failed += 1
        time.sleep(2)
        for s in sockets:
            s.close()
        print(json.dumps({"connected": len(sockets), "failed": failed}))
    elif command == "bench":
        import multiprocessing
        slave, seconds, procs = args[0], float(args[1]), int(args[2])
        barrier = multiprocessing.Barrier(procs)
        queue = multiprocessing.Queue()
        workers = [multiprocessing.Process(target=bench_worker, args=(hostport, cert, key, ca, slave, seconds, barrier, queue))
                   for _ in range(procs)]
        for w in workers:
            w.start()
        results = [queue.get() for _ in workers]
        for w in workers:
            w.join()
        latencies = sorted(x for r in results for x in r["latencies"])
        took = max(r["seconds"] for r in results)
        print(json.dumps({"keys": len(latencies), "errors": sum(r["errors"] for r in results), "seconds": round(took, 2),
                          "connections": procs, "keys_per_second": round(len(latencies) / took, 1),
                          **quantiles(latencies)}))
    elif command == "latency":
        slave, count = args[0], int(args[1])
        query = "?number=%s&size=%s" % (args[2], args[3]) if len(args) >= 4 else ""
        conn = connect(hostport, ctx)
        latencies, errors = [], 0
        for _ in range(count):
            t = time.perf_counter()
            conn.request("GET", "/api/v1/keys/%s/enc_keys%s" % (slave, query))
            r = conn.getresponse()
            r.read()
            if r.status == 200:
                latencies.append(time.perf_counter() - t)
            else:
                errors += 1
        latencies.sort()
        print(json.dumps({"keys": len(latencies), "errors": errors, **quantiles(latencies)}))
    else:
        sys.exit("etsi_probe: unknown command " + command)


if __name__ == "__main__":
    main()
