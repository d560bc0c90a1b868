#!/usr/bin/env python3
"""ship_bench.py DROPGATE SRC WORKDIR: BENCH_SHIPMENTS (default 10,000) shipments, one
order each, sent by `dropgate submit` through Commerce's bulk API to the emulator
answering every call 50 ms after it arrived (BENCH_LATENCY): Commerce calls made (from
the emulator's journal), wall time, dropgate's peak RSS. Baseline, in the same run: the
synchronous endpoints (bulk = no, concurrency 4) for BENCH_SHIP_SYNC (default 1,000) of
them; the ratio compares the time per shipment."""
import json
import os
import subprocess
import sys
import time
import urllib.request

dropgate, src, work = sys.argv[1], sys.argv[2], sys.argv[3]
n = int(os.environ.get("BENCH_SHIPMENTS", "10000"))
n_sync = int(os.environ.get("BENCH_SHIP_SYNC", "1000"))
latency = float(os.environ.get("BENCH_LATENCY", "0.05"))
token = os.path.join(src, "data/demo-token")
os.makedirs(work, exist_ok=True)


def emulator(orders):
    port_file = os.path.join(work, "port")
    if os.path.exists(port_file):
        os.unlink(port_file)
    p = subprocess.Popen([sys.executable, os.path.join(src, "tests/emulator/commerce_emulator.py"), "--port", "0",
                          "--port-file", port_file, "--token-file", token, "--orders", str(orders),
                          "--order-items", "2", "--latency", str(latency)], stderr=subprocess.DEVNULL)
    while not os.path.exists(port_file) or not open(port_file).read().strip():
        time.sleep(0.05)
    return p, int(open(port_file).read())


def journal(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/__emulator/journal" % port) as r:
        return json.load(r)


def shipments(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/__emulator/documents" % port) as r:
        return len(json.load(r)["shipments"])


def run(orders, bulk):
    emu, port = emulator(orders)
    try:
        conf = os.path.join(work, "dropgate.conf")
        with open(conf, "w") as f:
            f.write("[dropgate]\nspool = %s/spool\nstate = %s/state\n[commerce]\nurl = http://127.0.0.1:%d\n"
                    "token_file = %s\nbatch_rows = 5000\nbulk = %s\nconcurrency = 4\nbackoff = 500ms\n"
                    "[feed shipments]\ndir = inbound/shipments\noperation = ship\npage_size = %s\n"
                    "map.order = OrderNo\nmap.sku = Sku\nmap.qty = Qty\nmap.track_number = Tracking\n"
                    "map.carrier_code = \"dhl\"\nmap.notify = \"0\"\n" % (work, work, port, token, bulk, os.environ.get("BENCH_SHIP_PAGE", "500")))
        path = os.path.join(work, "ship-%d.csv" % orders)
        with open(path, "w") as f:
            f.write("OrderNo,Sku,Qty,Tracking\n")
            for e in range(1, orders + 1):  # item 0 of each order, all of it (ORDERS.md's items)
                f.write("%09d,SKU-%04d,%d,TRK%07d\n" % (100000000 + e, (e * 7) % 10000, 1 + e % 3, e))
        out = os.path.join(work, "out")
        os.makedirs(out, exist_ok=True)
        start = time.time()
        p = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", os.path.join(work, ".time"), dropgate, "-c", conf,
                            "submit", "--feed", "shipments", "--out", out, path],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.time() - start
        secs, kb = open(os.path.join(work, ".time")).read().split()[-2:]
        if p.returncode != 0:
            sys.exit("ship bench: dropgate submit exited %d:\n%s" % (p.returncode, p.stderr[-2000:]))
        j = journal(port)
        calls = {}
        for e in j:
            calls[e.get("op")] = calls.get(e.get("op"), 0) + 1
        made = shipments(port)
        if made != orders:
            sys.exit("ship bench: %d shipments for %d orders" % (made, orders))
        return wall, int(kb), calls
    finally:
        emu.kill()
        emu.wait()


bulk_t, bulk_kb, bulk_calls = run(n, "yes")
sync_t, sync_kb, sync_calls = run(n_sync, "no")
print("shipments: %d orders, one shipment each, Commerce answering every call %d ms after it arrives:"
      % (n, latency * 1000))
print("  bulk API   %8.2f s  %7.1f shipments/s  %5d Commerce calls (%s)  %5.1f MB peak RSS"
      % (bulk_t, n / bulk_t, sum(bulk_calls.values()),
         ", ".join("%s %d" % kv for kv in sorted(bulk_calls.items())), bulk_kb / 1024))
print("  baseline   %8.2f s  %7.1f shipments/s  %5d Commerce calls for %d (bulk = no, concurrency 4)"
      "  %5.1f MB peak RSS" % (sync_t, n_sync / sync_t, sum(sync_calls.values()), n_sync, sync_kb / 1024))
print("  time per shipment, baseline/bulk: %.1fx" % ((sync_t / n_sync) / (bulk_t / n)))
