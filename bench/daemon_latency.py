#!/usr/bin/env python3
"""daemon_latency.py DROPGATE SRC WORKDIR: 200 small files dropped one after another
into a running daemon (against the emulator). Dropped 50 ms apart: the latency from
a file's close (its rename into the inbound directory) to the daemon starting to
process it, p50 and p99. Dropped at once: files per second from the first drop to
the last file done (one partner and feed: one file at a time, in order)."""
import datetime
import os
import re
import signal
import subprocess
import sys
import time

dropgate, src, work = sys.argv[1], sys.argv[2], sys.argv[3]
n = int(os.environ.get("BENCH_FILES", "200"))
os.makedirs(work, exist_ok=True)
port_file = os.path.join(work, "port")
emu = subprocess.Popen([sys.executable, os.path.join(src, "tests/emulator/commerce_emulator.py"), "--port", "0",
                        "--port-file", port_file, "--token-file", os.path.join(src, "data/demo-token")],
                       stderr=subprocess.DEVNULL)
while not os.path.exists(port_file):
    time.sleep(0.05)
port = int(open(port_file).read())
conf = os.path.join(work, "dropgate.conf")
with open(conf, "w") as f:
    f.write("""[dropgate]
spool = {w}/spool
state = {w}/state
workers = 2
settle = 5s
min_free = 1M
[commerce]
url = http://127.0.0.1:{p}
token_file = {t}
[feed stock]
dir = inbound/stock
entity = stock_sources
""".format(w=work, p=port, t=os.path.join(src, "data/demo-token")))
subprocess.run([dropgate, "-c", conf, "partner", "add", "acme"], check=True, capture_output=True)
inbox = os.path.join(work, "spool/acme/inbound/stock")


def parse(ts):
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def run(tag, interval):
    """n files, interval seconds apart: (latencies in ms, seconds from first drop to last done)."""
    logpath = os.path.join(work, "daemon-%s.log" % tag)
    log = open(logpath, "w")
    d = subprocess.Popen([dropgate, "-c", conf, "run"], stderr=log)
    time.sleep(1)
    dropped = {}
    t0 = time.time()
    for i in range(n):
        name = "%s%04d.csv" % (tag, i)
        tmp = os.path.join(inbox, "." + name + ".part")
        with open(tmp, "w") as f:
            f.write("sku,source_code,quantity,status\n%s-%d,default,%d,1\n" % (tag, i, i))
        os.rename(tmp, os.path.join(inbox, name))
        dropped[name] = time.time()
        if interval:
            time.sleep(interval)
    started, done = {}, {}
    deadline = time.time() + 120
    while time.time() < deadline and len(done) < n:
        time.sleep(0.2)
        with open(logpath) as f:
            for line in f:
                m = re.search(r"ts=(\S+) .*event=file_processing .*file=(\S+) state=processing", line)
                if m and m.group(2) not in started:
                    started[m.group(2)] = parse(m.group(1))
                m = re.search(r"ts=(\S+) .*event=file_done .*file=(\S+) state=done", line)
                if m:
                    done[m.group(2)] = parse(m.group(1))
    d.send_signal(signal.SIGTERM)
    d.wait()
    log.close()
    if len(done) < n:
        print("daemon bench: only %d of %d files done" % (len(done), n))
        sys.exit(1)
    return sorted((started[k] - dropped[k]) * 1000 for k in started), max(done.values()) - t0


lat, _ = run("paced", 0.05)
_, span = run("burst", 0)
emu.kill()
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print("daemon: %d small files, each one batch to the emulator:" % n)
print("  dropped 50 ms apart, close to processing start: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
      % (p(0.5), p(0.99), lat[-1]))
print("  dropped at once: %.1f files/s from the first drop to the last file done (%.2f s)" % (n / span, span))
