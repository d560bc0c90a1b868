#!/usr/bin/env python3
"""nodes_bench.py DROPGATE CLAIM_BENCH SRC WORKDIR: two appliances, one spool (issue 15).

Files per second against the emulator: N small files of 20 partners dropped into running
daemons, from the first drop to the last file done, with one node and with two nodes on one
PostgreSQL ledger (the same spool, state and server), and one node on SQLite for reference.
Then the claim's latency (the ledger rows with the file's identity, then the file and its lane
taken: bench/claim_bench.c) on PostgreSQL and on SQLite, p50 and p99, with the ratios.
The PostgreSQL server is the test suite's (tests/integration/pgserver.py: a Unix socket,
fsync off as in the tests: the figures are the protocol's, not a disk's)."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

dropgate, claim_bench, src, work = sys.argv[1:5]
n = int(os.environ.get("BENCH_NODE_FILES", "600"))
claims = int(os.environ.get("BENCH_CLAIMS", "2000"))
partners = 20
sys.path.insert(0, os.path.join(src, "tests", "integration"))
import pgserver  # noqa: E402

if pgserver.find_bin() is None:
    print("nodes: SKIP postgresql: initdb and pg_ctl are not installed")
    sys.exit(0)
os.makedirs(work, exist_ok=True)
server = pgserver.Server(os.path.join(work, "pg")).start()
token = os.path.join(src, "data/demo-token")
port_file = os.path.join(work, "port")
emu = subprocess.Popen([sys.executable, os.path.join(src, "tests/emulator/commerce_emulator.py"), "--port", "0",
                        "--port-file", port_file, "--token-file", token], stderr=subprocess.DEVNULL)
while not os.path.exists(port_file):
    time.sleep(0.05)
port = int(open(port_file).read())


def files_per_second(tag, nodes, ledger):
    """n files into `nodes` daemons sharing one spool: files per second, first drop to last done."""
    root = os.path.join(work, tag)
    os.makedirs(root)
    confs = []
    for k in range(nodes):
        conf = os.path.join(root, "node%d.conf" % k)
        with open(conf, "w") as f:
            f.write("[dropgate]\nspool = {r}/spool\nstate = {r}/state\nworkers = 2\nsettle = 1s\n"
                    "rescan = 2s\nmin_free = 1M\nnode = n{k}\n{ledger}\n[commerce]\nurl = http://127.0.0.1:{p}\n"
                    "token_file = {t}\n[feed stock]\ndir = inbound/stock\nentity = stock_sources\n"
                    .format(r=root, k=k, p=port, t=token, ledger=("ledger = " + ledger) if ledger else ""))
        confs.append(conf)
    names = ["p%02d" % i for i in range(partners)]
    for p in names:
        subprocess.run([dropgate, "-c", confs[0], "partner", "add", p], check=True, capture_output=True)
    logs, procs = [], []
    for k, conf in enumerate(confs):
        log = os.path.join(root, "node%d.log" % k)
        logs.append(log)
        procs.append(subprocess.Popen([dropgate, "-c", conf, "run"], stderr=open(log, "w")))
    time.sleep(1.5)
    t0 = time.time()
    for i in range(n):
        p = names[i % partners]
        inbox = os.path.join(root, "spool", p, "inbound/stock")
        tmp = os.path.join(inbox, ".f%05d.part" % i)
        with open(tmp, "w") as f:
            f.write("sku,source_code,quantity,status\nNB-%s-%d,default,%d,1\n" % (tag, i, i % 50))
        os.rename(tmp, os.path.join(inbox, "f%05d.csv" % i))
    done, last = 0, t0
    deadline = time.time() + 600
    while time.time() < deadline and done < n:
        time.sleep(0.2)
        done = 0
        for log in logs:
            with open(log) as f:
                done += sum(1 for line in f if "event=file_done" in line)
        if done:
            last = time.time()
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait()
    if done < n:
        print("nodes bench: %s: only %d of %d files done" % (tag, done, n))
        sys.exit(1)
    return n / (last - t0)


def pg_db(name):
    return server.createdb(name)


try:
    one_sqlite = files_per_second("sqlite1", 1, None)
    one_pg = files_per_second("pg1", 1, pg_db("bench_one"))
    two_pg = files_per_second("pg2", 2, pg_db("bench_two"))
    print("nodes: %d small files of %d partners, each one batch to the emulator, 2 workers a node:" % (n, partners))
    print("  one node, SQLite      %7.1f files/s" % one_sqlite)
    print("  one node, PostgreSQL  %7.1f files/s" % one_pg)
    print("  two nodes, PostgreSQL %7.1f files/s   two/one: %.2fx (one machine's 2 cores shared by both)"
          % (two_pg, two_pg / one_pg))
    lines = {}
    sq = os.path.join(work, "claims.db")
    for loc in (sq, pg_db("bench_claims")):
        p = subprocess.run([claim_bench, loc, str(claims)], capture_output=True, text=True)
        if p.returncode != 0:
            print("nodes bench: claim_bench: " + p.stderr)
            sys.exit(1)
        b, p50, p99, mean = p.stdout.split()
        lines[b] = (float(p50), float(p99), float(mean))
    print("  claim latency (rows + file and lane taken), %d claims:" % claims)
    for b in ("sqlite", "postgresql"):
        print("    %-10s p50 %6.0f us  p99 %6.0f us  mean %6.0f us" % ((b,) + lines[b]))
    print("    postgresql/sqlite: p50 %.2fx, p99 %.2fx" % (lines["postgresql"][0] / lines["sqlite"][0],
                                                       lines["postgresql"][1] / lines["sqlite"][1]))
finally:
    emu.kill()
    server.stop()
