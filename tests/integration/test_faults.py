#!/usr/bin/env python3
"""The promises under crashes and disk faults: a file is never lost, nothing is
applied twice but the batch in flight, order per partner and feed is kept.

A workload of 30 files of two partners and three feeds (two on one directory,
some archives) flows while
- the crash loop kills the daemon with SIGKILL at random moments and Commerce
  answers 503 or loses answers (the emulator's faults);
- the disk-fault run preloads tests/faultshim.so, which fails the Nth write,
  fsync, rename, link or creating open with EIO or ENOSPC.
Then the daemon runs again unharmed until every file is final, and
`Invariants` checks the ledger, the reports, the work and inbound directories,
the emulator's store and journal.

Short by default (CI); longer by environment, as `make crashloop` and
`make diskfaults` do:
  DROPGATE_KILLS=N      kills in the crash loop (default 8)
  DROPGATE_FAULT_NS=a,b or "all"   which Nth calls to fail (default: 4 spread over a run)
  DROPGATE_SEED=S       replay a run: every failure message names its seed
Usage: test_faults.py BUILD SRC [-k NAME]
"""
import csv
import glob
import io
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_daemon as td  # noqa: E402  (takes BUILD and SRC from argv, as this file does)

SHIM = os.path.join(td.BUILD, "tests", "faultshim.so")
SEND_SLACK = 0.5  # seconds from a request leaving the daemon to the emulator noting its arrival
FINAL = ("done", "partial", "failed", "duplicate", "stale", "refused")

FEEDS = """
[feed stock]
dir = inbound/stock
match = *.csv *.zip *.tar.gz *.csv.gz
members = *.csv
entity = stock_sources

[feed pa]
dir = inbound/prices
match = *.csv
entity = stock_sources
map.source_code = "pa"
map.sku = sku
map.quantity = qty
map.status = "1"

[feed pb]
dir = inbound/prices
match = *.csv
entity = catalog_product
map.sku = sku
map.name = name
"""
# which feeds read each directory, and the entity and key of each feed's rows
DIRS = {"stock": ["stock"], "prices": ["pa", "pb"]}
ENTITY = {"stock": "stock_sources", "pa": "stock_sources", "pb": "catalog_product"}


def seed_of():
    seed = int(os.environ.get("DROPGATE_SEED") or random.randrange(1 << 32))
    print("seed=%d (DROPGATE_SEED=%d replays it)" % (seed, seed), file=sys.stderr, flush=True)
    return seed


def csv_bytes(header, rows):
    return ("\n".join([header] + rows) + "\n").encode()


class Workload:
    """30 files: per partner 6 stock CSVs, a zip, a tar.gz, a .csv.gz (feed stock) and 6 price
    files read by both pa and pb; every row valid, every SKU unique to its file."""

    PARTNERS = ("acme", "bolt")

    def __init__(self, rng):
        self.files = []  # (partner, dir, name, bytes), in the order they are dropped
        queues = []
        for p in self.PARTNERS:
            stock, prices = [], []
            for k in range(9):
                name, skus = "stock_%02d" % k, ["S-%s-%d-%d" % (p, k, r) for r in range(rng.randint(3, 35))]
                rows = ["%s,default,%d,1" % (s, i % 50) for i, s in enumerate(skus)]
                data = csv_bytes("sku,source_code,quantity,status", rows)
                if k == 6:
                    name, data = name + ".zip", self.zipped(name, data)
                elif k == 7:
                    name, data = name + ".tar.gz", self.tarred(name, data)
                elif k == 8:
                    name, data = name + ".csv.gz", self.gzipped(data)
                else:
                    name += ".csv"
                stock.append((p, "stock", name, data))
            for k in range(6):
                skus = ["P-%s-%d-%d" % (p, k, r) for r in range(rng.randint(3, 35))]
                rows = ["%s,%d,Name %d" % (s, i, i) for i, s in enumerate(skus)]
                prices.append((p, "prices", "prices_%02d.csv" % k, csv_bytes("sku,qty,name", rows)))
            queues += [stock, prices]
        # interleaved at random, each partner's directory in name order
        while any(queues):
            q = rng.choice([q for q in queues if q])
            self.files.append(q.pop(0))

    @staticmethod
    def zipped(name, data):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(name + "-a.csv", data)
        return out.getvalue()

    @staticmethod
    def tarred(name, data):
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w:gz") as t:
            info = tarfile.TarInfo(name + ".csv")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        return out.getvalue()

    @staticmethod
    def gzipped(data):
        import gzip
        return gzip.compress(data)

    def expected(self, app):
        """Each (partner, feed, name): its batches' digests in order and its rows' keys, from
        `dropgate check` (the same parse the daemon runs)."""
        import hashlib
        want = {}
        work = tempfile.mkdtemp(dir=app.root)
        for i, (p, d, name, data) in enumerate(self.files):
            path = os.path.join(work, name)
            with open(path, "wb") as f:
                f.write(data)
            for feed in DIRS[d]:
                out = os.path.join(work, "out-%d-%s" % (i, feed))
                os.mkdir(out)
                r = app.run(["check", "--feed", feed, "--out", out, path], check=False)
                assert r.returncode == 0, "check %s %s: %s" % (feed, name, r.stderr)
                digests, keys = [], set()
                for b in sorted(glob.glob(os.path.join(out, "*.batch-*.csv"))):
                    with open(b, "rb") as f:
                        raw = f.read()
                    digests.append(hashlib.sha256(raw).hexdigest())
                    keys |= {r["sku"] for r in csv.DictReader(io.StringIO(raw.decode(), newline=""))}
                want[(p, feed, name)] = {"digests": digests, "skus": keys}
        return want

    def drop(self, app, item):
        p, d, name, data = item
        app.dropped[(p, d, name)] = (time.time(), app.daemon is not None and app.daemon.poll() is None)
        inbox = os.path.join(app.root, "spool", p, "inbound", d)
        tmp = os.path.join(inbox, "." + name + ".part")
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o664)  # as sftp -u 0002 leaves it, group dropgate by the set-group-ID dir
        os.rename(tmp, os.path.join(inbox, name))


class FaultAppliance(td.Appliance):
    """The daemon suite's appliance with the workload's feeds and two partners."""

    def __init__(self):
        super().__init__(batch_rows=10, sources=("default", "pa"))  # feed pa's source_code
        self.write_config()
        self.run(["partner", "add", "bolt"])
        self.kills = []
        self.dropped = {}  # (partner, dir, name): (when, the daemon running)

    def write_config(self, extra=""):
        super().write_config()
        text = td.slurp(self.conf)
        # the suite's [dropgate] and [commerce], with one attempt more and a timeout a loaded
        # machine never reaches (a timed-out batch that Commerce applied is sent again)
        text = text[:text.index("[feed ")].replace("timeout = 5\nretries = 1", "timeout = 60\nretries = 2")
        with open(self.conf, "w") as f:
            f.write(text + FEEDS + extra)

    def kill(self, rng):
        """kill -9 the daemon, or its whole group, as a crash and systemd's cleanup would."""
        self.kills.append(time.time())
        if rng.random() < 0.5:
            os.killpg(self.daemon.pid, signal.SIGKILL)
        self.stop(signal.SIGKILL)

    def settled(self, want):
        """Every file dropped has a row, and no row is left in flight."""
        try:
            db = sqlite3.connect(td.ledger_uri(os.path.join(self.state, "ledger.db")), uri=True, timeout=10)
        except sqlite3.OperationalError:
            return False  # no ledger yet
        try:
            rows = db.execute("SELECT partner, feed, name, state FROM files").fetchall()
        except sqlite3.OperationalError:
            rows = []  # no schema yet
        finally:
            db.close()
        return (all(s in FINAL for *_, s in rows) and
                set(want) <= {(p, f, n) for p, f, n, _ in rows})


class Invariants:
    """What must hold after the last restart, each failure a line naming what broke."""

    def __init__(self, app, want):
        self.app, self.want, self.problems = app, want, []

    def check(self):
        self.ledger()
        self.reports()
        self.applied_and_ordered()
        self.directories()
        self.sanitizers()
        return self.problems

    def sanitizers(self):
        """Under --enable-sanitizers: no report from any run of the daemon (a leak shows at a
        clean stop)."""
        log = td.slurp(self.app.log).splitlines()
        for i, line in enumerate(log):
            if "Sanitizer" in line and "ERROR" in line or "runtime error:" in line:
                self.bad("the daemon's log: %s", " | ".join(log[i:i + 12]))
                break

    def bad(self, fmt, *args):
        self.problems.append(fmt % args)

    def ledger(self):
        db = sqlite3.connect(td.ledger_uri(os.path.join(self.app.state, "ledger.db")), uri=True, timeout=10)
        try:
            ok = db.execute("PRAGMA integrity_check").fetchone()[0]
            rows = db.execute("SELECT id, partner, feed, name, state, message FROM files ORDER BY id").fetchall()
        finally:
            db.close()
        if ok != "ok":
            self.bad("ledger integrity_check: %s", ok)
        seen = {}
        for fid, p, feed, name, state, msg in rows:
            seen.setdefault((p, feed, name), []).append((fid, state, msg))
        for key in self.want:
            got = seen.pop(key, [])
            if [s for _, s, _ in got] != ["done"]:
                self.bad("%s/%s/%s: ledger rows %s, want one, done", *key, got)
            elif not glob.glob(os.path.join(self.app.state, "archive", key[0], key[1], "%d-%s*" % (got[0][0], key[2]))):
                self.bad("%s/%s/%s: done, and its original is not in the archive", *key)
        for key, got in seen.items():
            self.bad("%s/%s/%s: not dropped, yet in the ledger: %s", *key, got)

    def reports(self):
        for p in Workload.PARTNERS:
            found = {}
            reports = os.path.join(self.app.root, "spool", p, "outbound", "reports")
            # feeds sharing a directory report in reports/FEED/
            for r in glob.glob(os.path.join(reports, "*.result.json")) + glob.glob(os.path.join(reports, "*", "*.result.json")):
                with open(r) as f:
                    j = json.load(f)
                name = j.get("file", "")
                if name.endswith("." + str(j.get("feed"))):  # F.FEED when feeds share a directory
                    name = name[: -len(j["feed"]) - 1]
                found[(j.get("feed"), name)] = j.get("state")
            for (wp, feed, name) in self.want:
                if wp == p and found.get((feed, name)) != "done":
                    self.bad("%s/%s/%s: report says %s", p, feed, name, found.get((feed, name)))

    def applied_and_ordered(self):
        journal = [j for j in self.app.emu_call("journal") if "/V1/import/" in j["path"] and j["status"] == 200]
        store = self.app.emu_call("store")
        owner = {d: key for key, w in self.want.items() for d in w["digests"]}
        applied = {}
        for j in journal:
            if j["digest"] not in owner:
                self.bad("journal %d: a batch no file makes (digest %s)", j["n"], j["digest"][:12])
            applied.setdefault(j["digest"], []).append(j)
        by_file = {}
        for j in journal:
            if j["digest"] in owner:
                by_file.setdefault(owner[j["digest"]], []).append(j)

        def in_flight_at_a_kill(prev, cur):
            # sent before a kill (it may reach the emulator a little after: SEND_SLACK), sent
            # again after it, and still the file's last request at the kill: had a later
            # request of its file arrived before the kill, its answer was recorded, and
            # sending it again is the resend the ledger exists to prevent
            later = [q["arrived"] for q in by_file[owner[prev["digest"]]]
                     if q["n"] != prev["n"] and q["arrived"] > prev["arrived"]]
            return any(prev["arrived"] - SEND_SLACK < k < cur["arrived"] and
                       not any(t < k for t in later) for k in self.app.kills)

        for d, js in applied.items():
            for prev, cur in zip(js, js[1:]):
                if not in_flight_at_a_kill(prev, cur) and not prev.get("dropped"):
                    self.bad("%s/%s/%s: batch %s applied again (journal %d at %.3f, %d at %.3f), not its "
                             "file's request in flight at a kill nor a lost answer (kills at %s)", *owner[d], d[:12], prev["n"],
                             prev["arrived"], cur["n"], cur["arrived"],
                             ", ".join("%.3f" % k for k in self.app.kills))
        for key, w in self.want.items():
            missing = [d[:12] for d in w["digests"] if d not in applied]
            if missing:
                self.bad("%s/%s/%s: batches never applied: %s", *key, missing)
            rows = store.get(ENTITY[key[1]], [])
            skus = {r["sku"] for r in rows if key[1] != "pa" or r.get("source_code") == "pa"}
            if not w["skus"] <= skus:
                self.bad("%s/%s/%s: %d rows missing from the store", *key, len(w["skus"] - skus))
        self.order(applied)

    def order(self, applied):
        """Files of one partner and feed: all of one's batches before any of the next's."""
        first = {d: js[0]["time"] for d, js in applied.items()}
        chains = {}
        for (p, feed, name), w in self.want.items():
            times = [first[d] for d in w["digests"] if d in first]
            if times:
                chains.setdefault((p, feed), []).append((name, min(times), max(times)))
        for (p, feed), files in chains.items():
            files.sort()
            d = [k for k, v in DIRS.items() if feed in v][0]
            for a, b in zip(files, files[1:]):
                if a[2] >= b[1]:
                    self.bad("%s/%s: %s (dropped %s) began before %s (dropped %s) had finished", p, feed,
                             b[0], self.when(p, d, b[0]), a[0], self.when(p, d, a[0]))

    def when(self, p, d, name):
        t, running = self.app.dropped.get((p, d, name), (0, False))
        return "%s.%03d%s" % (time.strftime("%H:%M:%S", time.gmtime(t)), int(t * 1000) % 1000,
                              "" if running else " while the daemon was down")

    def directories(self):
        work = os.listdir(os.path.join(self.app.state, "work"))
        if work:
            self.bad("work holds %s with no file in flight", sorted(work))
        for p in Workload.PARTNERS:
            for d in DIRS:
                left = [n for n in os.listdir(os.path.join(self.app.root, "spool", p, "inbound", d))]
                if left:
                    self.bad("%s/inbound/%s still holds %s", p, d, left)


class Consistency:
    """Right after a fault, before any restart: the ledger says no more than the disk holds.
    A file final in the ledger has its report; a done one its archive; a failed one its copy
    in failed/."""

    def __init__(self, app):
        self.app, self.problems = app, []

    def check(self):
        if not os.path.exists(os.path.join(self.app.state, "ledger.db")):
            return self.problems  # the fault came before the ledger was made: nothing is claimed
        db = sqlite3.connect(td.ledger_uri(os.path.join(self.app.state, "ledger.db")), uri=True, timeout=10)
        try:
            rows = db.execute("SELECT id, partner, feed, name, state FROM files").fetchall()
        except sqlite3.OperationalError:
            rows = []  # the fault came before the schema was made: nothing is claimed yet
        finally:
            db.close()
        for fid, p, feed, name, state in rows:
            if state not in FINAL:
                continue
            reports = os.path.join(self.app.root, "spool", p, "outbound", "reports")
            if not any(os.path.exists(os.path.join(reports, r + ".result.json"))
                       for r in (name, name + "." + feed, os.path.join(feed, name))):
                self.problems.append("%s/%s/%s (file %d) is %s without a report" % (p, feed, name, fid, state))
            if state == "done" and not glob.glob(os.path.join(self.app.state, "archive", p, feed, "*" + name + "*")):
                self.problems.append("%s/%s/%s (file %d) is done without its archive" % (p, feed, name, fid))
            if state == "failed" and not glob.glob(os.path.join(self.app.state, "failed", p, feed, name + "*")):
                self.problems.append("%s/%s/%s (file %d) is failed without its copy in failed/"
                                     % (p, feed, name, fid))
        return self.problems


@unittest.skipUnless(os.geteuid() == 0, "needs root: a Unix user for the daemon")
@unittest.skipIf(td.PG, "its checks read the SQLite ledger file (integrity_check, faults on ledger.db)")
class CrashLoopTest(unittest.TestCase):
    def test_kill9_at_random_moments_loses_nothing_doubles_nothing(self):
        seed = seed_of()
        rng = random.Random(seed)
        kills = int(os.environ.get("DROPGATE_KILLS") or 8)
        a = FaultAppliance()
        try:
            w = Workload(rng)
            want = w.expected(a)
            a.emu_call("config", {"delay": 0.05})
            faults = [{"match": "/V1/import/", "status": 503, "after": rng.randint(0, 60), "times": 1}
                      for _ in range(6)]
            faults += [{"match": "/V1/import/", "drop": "after", "after": rng.randint(0, 60), "times": 1}
                       for _ in range(4)]
            a.emu_call("faults", faults)
            pending = list(w.files)
            per_run = len(pending) * 3 // (2 * kills) + 1  # all dropped by two thirds of the kills
            for i in range(kills):
                while pending and rng.random() < 0.3:  # some while the daemon is down
                    w.drop(a, pending.pop(0))
                a.start()
                end, n = time.time() + rng.uniform(0.05, 2.0), 0
                while time.time() < end:
                    if pending and n < per_run and rng.random() < 0.5:
                        w.drop(a, pending.pop(0))
                        n += 1
                    time.sleep(rng.uniform(0, 0.1))
                a.kill(rng)
            for item in pending:
                w.drop(a, item)
            a.start()
            problems = []
            try:
                td.wait_for(lambda: a.settled(want), 180, "every file to be final")
            except AssertionError as e:
                problems.append(str(e))
            a.group_stop()
            problems += Invariants(a, want).check()
            self.assertEqual(problems, [], "seed %d, %d kills:\n%s\nlog tail:\n%s"
                             % (seed, kills, "\n".join(problems), td.slurp(a.log)[-4000:]))
        finally:
            a.close()


def fault_ns(total, rng):
    """Which calls to fail: DROPGATE_FAULT_NS ("all", or N,N,...), else 4 spread over the run."""
    spec = os.environ.get("DROPGATE_FAULT_NS", "")
    if spec == "all":
        return list(range(1, total + 1))
    if spec:
        return [int(n) for n in spec.split(",")]
    step = total / 4.0
    return sorted({max(1, int(step * k + rng.uniform(0, step))) for k in range(4)})


def shim_env(at, count=None, errno_name="EIO"):
    env = dict(os.environ, LD_PRELOAD=SHIM, DG_FAULT_AT=str(at), DG_FAULT_ERRNO=errno_name)
    # under AddressSanitizer the shim goes in front of its runtime
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0").lstrip(":")
    if count:
        env["DG_FAULT_COUNT"] = count
    return env


@unittest.skipUnless(os.geteuid() == 0, "needs root: a Unix user for the daemon")
@unittest.skipUnless(os.path.exists(SHIM), "no tests/faultshim.so (make check builds it)")
@unittest.skipIf(td.PG, "its checks read the SQLite ledger file (integrity_check, faults on ledger.db)")
class DiskFaultTest(unittest.TestCase):
    """One disk call fails: the daemon stops or defers, the ledger never says more than the disk
    holds, and a restart without the fault finishes every file with nothing lost."""

    FILES = 8  # of the workload, for time

    def run_once(self, w, want, at, errno_name):
        """The workload with call `at` failing; then without; the problems found."""
        a = FaultAppliance()
        try:
            count = os.path.join(a.root, "calls")
            open(count, "w").close()
            os.chown(count, *td.daemon_user())
            for item in w.files:
                w.drop(a, item)
            problems = []
            try:
                a.start(env=shim_env(at, count, errno_name))
            except AssertionError:
                # refusing to start on the fault is as good as a stop; a slow start (a loaded
                # machine, sanitizers) gets longer; neither in 40 s is a hang
                try:
                    td.wait_for(lambda: a.daemon.poll() is not None or "event=started" in td.slurp(a.log),
                                30, "the daemon to start or stop")
                except AssertionError:
                    problems.append("the daemon neither started nor stopped in 40 s")
            try:
                td.wait_for(lambda: a.daemon.poll() is not None or a.settled(want), 60, "the faulty run")
            except AssertionError:
                pass  # deferred, say: stopped below, finished after the restart
            a.kills.append(time.time())
            exited = a.daemon.poll()
            try:
                a.group_stop()
            except AssertionError as e:  # hung, or left a process behind
                problems.append("stopping after the fault: %s" % e)
            calls = int(td.slurp(count).strip() or 0)
            problems += ["after the fault: " + p for p in Consistency(a).check()]
            a.start()
            try:
                td.wait_for(lambda: a.settled(want), 120, "every file after the restart")
            except AssertionError as e:
                problems.append(str(e))
            a.group_stop()
            problems += Invariants(a, want).check()
            if problems:
                fault = [l for l in td.slurp(a.log).splitlines() if "faultshim" in l]
                problems.append("fault: %s; the daemon %s" % (fault, "exited %s" % exited if exited is not None
                                                                  else "kept running"))
            return calls, problems
        finally:
            a.close()

    def test_a_failed_disk_call_never_loses_or_overstates(self):
        seed = seed_of()
        rng = random.Random(seed)
        w = Workload(rng)
        w.files = w.files[: self.FILES]
        a = FaultAppliance()
        try:
            want = {k: v for k, v in w.expected(a).items()}
        finally:
            a.close()
        want = {k: v for k, v in want.items() if any(k[0] == p and k[2] == n and k[1] in DIRS[d]
                                                     for p, d, n, _ in w.files)}
        total, problems = self.run_once(w, want, 0, "EIO")
        self.assertEqual(problems, [], "seed %d, no fault:\n%s" % (seed, "\n".join(problems)))
        failures = []
        for n in fault_ns(total, rng):
            errno_name = rng.choice(["EIO", "ENOSPC"])
            _, problems = self.run_once(w, want, n, errno_name)
            if problems:
                failures.append("call %d of %d failing with %s (DROPGATE_SEED=%d DROPGATE_FAULT_NS=%d):\n  %s"
                                % (n, total, errno_name, seed, n, "\n  ".join(problems)))
        self.assertEqual(failures, [], "\n".join(failures))


@unittest.skipUnless(os.geteuid() == 0, "needs root: a Unix user for the daemon")
@unittest.skipUnless(os.path.exists(SHIM), "no tests/faultshim.so (make check builds it)")
@unittest.skipIf(td.PG, "its checks read the SQLite ledger file (integrity_check, faults on ledger.db)")
class LedgerFaultTest(unittest.TestCase):
    def test_ledger_failing_mid_submission_parks_the_file_not_fails_it(self):
        """The ledger cannot record the next batch as sent: the file is parked and the daemon
        stops; it is not failed as though Commerce had refused it (and moved to failed/)."""
        a = td.Appliance(batch_rows=10)
        try:
            arm = os.path.join(a.root, "arm")
            env = shim_env(1)
            env.update(DG_FAULT_PATH="ledger.db", DG_FAULT_ARM=arm, DG_FAULT_STICKY="1")
            a.emu_call("config", {"delay": 1.0})
            a.start(env=env)
            a.drop("sixty.csv", csv_bytes("sku,source_code,quantity,status",
                                          ["AB-%d,default,%d,1" % (i, i) for i in range(60)]), "commerce")
            db = os.path.join(a.state, "ledger.db")

            def sent():
                c = sqlite3.connect(td.ledger_uri(db), uri=True, timeout=10)
                try:
                    return c.execute("SELECT count(*) FROM requests WHERE state = 'sent'").fetchone()[0]
                finally:
                    c.close()
            td.wait_for(sent, 30, "the first batch in flight")
            open(arm, "w").close()  # from now on every write to the ledger fails
            td.wait_for(lambda: a.daemon.poll() is not None, 30, "the daemon to stop")
            self.assertEqual(a.daemon.returncode, 1)
            self.assertIn("the ledger cannot be written", td.slurp(a.log))
            a.stop()
            os.unlink(arm)
            self.assertEqual(glob.glob(os.path.join(a.state, "failed", "*", "*", "*")), [])
            self.assertNotIn(a.files()[0][2], FINAL, td.slurp(a.log)[-3000:])
            a.emu_call("config", {"delay": 0})
            a.start()
            td.wait_for(lambda: a.finished(1), 30, "the parked file")
            self.assertEqual(a.files()[0][2], "done")
            digests = [j["digest"] for j in a.imports()]
            self.assertEqual(len(set(digests)), 6)
            self.assertLessEqual(len(digests), 7, "only the batch in flight sent twice")
        finally:
            a.close()

    def test_end_state_not_written_keeps_the_work_copy(self):
        """Issue 9 item 7: finish() archives the original, then writes the end state; when
        the ledger cannot take it, the work copy stays for the restart (it used to go)."""
        a = td.Appliance(batch_rows=10)
        try:
            # armed once finish() has made the archive directory, so every answer is recorded
            # and only finish()'s own ledger writes fail
            arm = os.path.join(a.state, "archive", "acme", "commerce")
            env = shim_env(1)
            env.update(DG_FAULT_PATH="ledger.db", DG_FAULT_ARM=arm, DG_FAULT_STICKY="1")
            a.start(env=env)
            a.drop("kept.csv", csv_bytes("sku,source_code,quantity,status",
                                         ["AB-%d,default,%d,1" % (i, i) for i in range(25)]), "commerce")
            td.wait_for(lambda: a.daemon.poll() is not None, 30, "the daemon to stop")
            log = td.slurp(a.log)
            self.assertIn("the ledger cannot be written", log)
            work = glob.glob(os.path.join(a.state, "work", "*", "kept.csv"))
            self.assertEqual(len(work), 1, "the work copy went before its end state was written:\n"
                             + log[-2000:])
            self.assertIn("event=file_not_finished", log)
            self.assertNotIn("event=file_done", log)  # the log claims no end the ledger lacks
            a.stop()
            a.start()
            td.wait_for(lambda: a.finished(1), 30, "the file after the restart")
            self.assertEqual(a.files()[0][2], "done")
            # the work copy goes right after the end state is written
            td.wait_for(lambda: not glob.glob(os.path.join(a.state, "work", "*", "kept.csv")), 10,
                        "the work copy to go once the file is done")
            td.wait_for(lambda: glob.glob(os.path.join(arm, "*-kept.csv.gz")), 10, "the archive's .gz")
            self.assertEqual(len(glob.glob(os.path.join(arm, "*-kept.csv*"))), 1)
            digests = [j["digest"] for j in a.imports()]
            self.assertEqual(len(digests), 3, "every batch answered before the fault, none again")
        finally:
            a.close()


@unittest.skipUnless(os.geteuid() == 0, "needs root: a Unix user for the daemon")
@unittest.skipUnless(os.path.exists(SHIM), "no tests/faultshim.so (make check builds it)")
class ParserFaultTest(unittest.TestCase):
    """The parser process's own disk calls fail (its batches, line indices, members, report):
    a disk fault is not the partner's, so the file is deferred, never failed, and imported
    whole once the disk is back. (The daemon's own calls: DiskFaultTest.)"""

    def test_a_failed_disk_call_in_the_parser_defers_the_file(self):
        a = td.Appliance(batch_rows=10)
        try:
            def drop(k):
                rows = ["AB-%d-%d,default,%d,1" % (k, i, i) for i in range(25)]
                a.drop("f%03d.csv" % k, csv_bytes("sku,source_code,quantity,status", rows), "commerce")
                return {"AB-%d-%d" % (k, i) for i in range(25)}

            def parse(k, at):
                """File k parsed by a parser failing its call `at`, then by one unharmed: the
                state and message it had under the fault."""
                env = shim_env(at)
                env["DG_FAULT_CHILDREN"] = "1"
                a.start(env=env)
                skus = drop(k)
                name = "f%03d.csv" % k
                got = td.wait_for(lambda: [f[2:4] for f in a.files() if f[1] == name and
                                           (f[2] in FINAL or f[2] == "deferred")], 30, name)
                a.stop()
                a.start()  # the disk is back: a deferred file goes on (and the next waits for it)
                td.wait_for(lambda: a.finished(k + 1), 60, name + " after the fault")
                a.stop()
                return got[0], skus

            (state, _), want = parse(0, 0)  # counts one parse's calls: each N below fails one
            total = max([int(n) for n in re.findall(r"^faultshim: (\d+) calls$", td.slurp(a.log), re.M)] or [0])
            self.assertGreater(total, 5, "the shim saw none of the parser's writes")
            ns = range(1, total + 1) if os.environ.get("DROPGATE_FAULT_NS") == "all" else \
                sorted(set([1, 2, total // 2, total - 1, total]))
            deferred = 0
            for k, n in enumerate(ns, start=1):
                (state, msg), skus = parse(k, n)
                want |= skus
                self.assertIn(state, ("done", "deferred"), "call %d of %d failing: %s" % (n, total, msg))
                if state == "deferred":
                    self.assertIn("a disk error", msg)
                    deferred += 1
            self.assertGreater(deferred, 0, "no fault reached the parser")
            self.assertEqual({f[2] for f in a.files()}, {"done"}, a.files())
            got = {r["sku"] for r in a.emu_call("store")["stock_sources"]}
            self.assertEqual(want - got, set(), "rows missing from Commerce")
            self.assertEqual(glob.glob(os.path.join(a.state, "failed", "*", "*", "*")), [])
        finally:
            a.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
