#!/usr/bin/env python3
"""sequence_bench.py DROPGATE SRC WORKDIR ROWS [NIGHTS]: the nightly snapshot of a
sequence with diff = yes (README "Sequences").

Night 1 imports a ROWS-row full snapshot into an empty key store (every row sent);
each of the NIGHTS nights after it (default 3) drops the same keys with another 2 %
of the quantities changed, as an ERP's nightly export does. Printed per night: the
rows sent (target: exactly the changed ones, at most 1/20 of the file) and the
daemon's own time from the claim to the end of the file against an emulator that
answers at once; the median night beside a plain `dropgate check` of the same file
in the same run (target: at most twice); and the peak RSS of the daemon and of its
parser child (target: at most 64 MB each)."""
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

dropgate, src, work, rows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
nights = int(sys.argv[5]) if len(sys.argv) > 5 else 3
os.makedirs(work, exist_ok=True)
token = os.path.join(src, "data/demo-token")
pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []

FEED = """
[feed stock_full]
dir = inbound/stock
match = stock_full_*.csv
delimiter = ";"
encoding = windows-1252
entity = stock_sources
mode = full
sequence = stock
stamp = name:%Y%m%dT%H%M
diff = yes
absent.quantity = 0
absent.status = 0
validation = skip-errors
allowed_errors = 100
map.source_code = "default"
map.sku = ItemNo | trim | upper
map.quantity = QtyOnHand | number(",", ".")
map.status = QtyOnHand | number(",", ".") | instock
"""


def ts(line):
    t = re.search(r"ts=(\S+)", line).group(1)
    return datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def wait_log(path, pattern, timeout=1800):
    end = time.time() + timeout
    while time.time() < end:
        with open(path) as f:
            for line in f:
                if re.search(pattern, line):
                    return line
        time.sleep(0.02)  # the CPU read at the end is the file's, not what follows it
    raise SystemExit("sequence bench: timed out waiting for " + pattern)


def cpu_of(pid):
    """user + system seconds of a live process"""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def commerce_seconds(port, since):
    """seconds the emulator spent on the imports that arrived after since (its own work, not
    dropgate's: an emulator in Python takes about 0.2 s for 5,000 rows)"""
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/__emulator/journal" % port) as r:
        journal = json.load(r)
    return sum(j["time"] - j["arrived"] for j in journal
               if "/V1/import/" in j["path"] and j.get("arrived", 0) >= since)


def main():
    files = [os.path.join(work, "stock_full_202612%02dT0200.csv" % (1 + n)) for n in range(nights + 1)]
    subprocess.run([sys.executable, os.path.join(src, "bench/gen_stock.py"), str(rows), files[0]], check=True)
    changed = []
    for n in range(1, nights + 1):  # night n: another 2 % of the rows get a quantity no row has
        count = 0
        with open(files[0], "rb") as f, open(files[n], "wb") as g:
            for i, line in enumerate(f):
                if i and i % 50 < n:  # the earlier nights' changes stay
                    cols = line.split(b";")
                    cols[2] = b"%d.321,000" % (i % 50 + 1)
                    line = b";".join(cols)
                    count += i % 50 == n - 1
                g.write(line)
        changed.append(count)
    port_file = os.path.join(work, "port")
    emu = subprocess.Popen([sys.executable, os.path.join(src, "tests/emulator/commerce_emulator.py"), "--port",
                            "0", "--port-file", port_file, "--token-file", token], stderr=subprocess.DEVNULL)
    try:
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            time.sleep(0.05)
        port = int(open(port_file).read())
        conf = os.path.join(work, "dropgate.conf")
        with open(conf, "w") as f:
            f.write("[dropgate]\nspool = %s/spool\nstate = %s/state\nsettle = 1s\nmin_free = 1M\n"
                    "[commerce]\nurl = http://127.0.0.1:%d\ntoken_file = %s\ntimeout = 600\n%s"
                    % (work, work, port, token, FEED))
        os.makedirs(os.path.join(work, "state"), exist_ok=True)
        subprocess.run([dropgate, "-c", conf, "partner", "add", "acme"], check=True, capture_output=True)
        inbox = os.path.join(work, "spool/acme/inbound/stock")
        log = os.path.join(work, "daemon.log")
        d = subprocess.Popen(pin + [dropgate, "-c", conf, "run"], stderr=open(log, "w"))
        try:
            took = []
            for night in files:
                name = os.path.basename(night)
                cpu0, wall0 = cpu_of(d.pid), time.time()
                shutil.copy(night, os.path.join(inbox, "." + name + ".part"))
                os.rename(os.path.join(inbox, "." + name + ".part"), os.path.join(inbox, name))
                claimed = wait_log(log, r"event=file_claimed .*file=%s" % name)
                fid = re.search(r"file_id=(\d+)", claimed).group(1)
                done = wait_log(log, r"event=file_done file_id=%s " % fid)
                parser = wait_log(log, r"event=parser_exited .*%s" % name)
                m = re.search(r"max_rss_kb (\d+) user_ms (\d+) sys_ms (\d+)", parser)
                took.append((ts(done) - ts(claimed), int(m.group(1)),
                             cpu_of(d.pid) - cpu0 + (int(m.group(2)) + int(m.group(3))) / 1000,
                             commerce_seconds(port, wall0)))
                time.sleep(6)  # a night apart: the daemon's upkeep (the ledger's checkpoint) runs
            with open("/proc/%d/status" % d.pid) as f:
                hwm = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))
        finally:
            d.send_signal(signal.SIGTERM)
            d.wait()
        reports = []
        for night in files:
            with open(os.path.join(work, "spool/acme/outbound/reports",
                                   os.path.basename(night) + ".result.json")) as f:
                reports.append(json.load(f))
        out = os.path.join(work, "check")
        os.makedirs(out, exist_ok=True)
        checks = []  # as many runs as nights: the same statistic on both sides
        for _ in range(max(3, nights)):
            t0, r0 = time.time(), os.times()
            subprocess.run(pin + [dropgate, "-c", conf, "check", "--feed", "stock_full", "--out", out, files[1]],
                           check=True, capture_output=True)
            r1 = os.times()
            checks.append((time.time() - t0, r1.children_user - r0.children_user + r1.children_system -
                           r0.children_system))
    finally:
        emu.kill()
        emu.wait()
    print("sequence, diff = yes: a %d-row full snapshot, then %d nights of the same keys with another"
          " 2 %% of the quantities changed each:" % (rows, nights))
    print("  night 1 (empty store): %d rows sent, claim to done %.2f s (the emulator's own work %.2f s)"
          % (rows, took[0][0], took[0][3]))
    owns = []
    for n in range(1, nights + 1):
        wall, rss, cpu, commerce = took[n]
        owns.append((wall - commerce, cpu, rss))
        print("  night %d: %d rows sent (target: the %d changed, at most %d), %d unchanged, state %s;"
              " dropgate's own time %.2f s wall, %.2f s CPU (daemon and parser)"
              % (n + 1, reports[n]["rows_sent"], changed[n - 1], rows // 20, reports[n]["rows_unchanged"],
                 reports[n]["state"], wall - commerce, cpu))
    def median(v):
        return sorted(v)[len(v) // 2]

    own, cpu = median([o[0] for o in owns]), median([o[1] for o in owns])
    chk, chk_cpu = median([c[0] for c in checks]), median([c[1] for c in checks])
    print("  the median night: %.2f s wall, %.2f s CPU; the median of %d plain checks of the same file"
          " %.2f s wall, %.2f s CPU" % (own, cpu, len(checks), chk, chk_cpu))
    print("  ratio to the plain check: %.2fx wall, %.2fx CPU (target <= 2x); best against best"
          " %.2fx wall, %.2fx CPU" % (own / chk, cpu / chk_cpu, min(o[0] for o in owns) /
                                      min(c[0] for c in checks), min(o[1] for o in owns) /
                                      min(c[1] for c in checks)))
    print("  peak RSS: daemon %.1f MB, parser child %.1f MB (target <= 64 MB each)"
          % (hwm / 1024, max(t[1] for t in took) / 1024))
    for n in range(1, nights + 1):
        if reports[n]["rows_sent"] != changed[n - 1]:
            raise SystemExit("sequence bench: night %d sent %d rows, %d changed"
                             % (n + 1, reports[n]["rows_sent"], changed[n - 1]))


if __name__ == "__main__":
    main()
