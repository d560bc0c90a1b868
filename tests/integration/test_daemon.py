#!/usr/bin/env python3
"""dropgate run with real processes: OpenSSH sftp uploads into a chroot, the
Commerce emulator over HTTP, inotify, SIGTERM, SIGHUP and kill -9.

Installed as the README says: the state directory belongs to the daemon's user
(DAEMON_USER, created here when missing), the spool is made by `partner add`
run as root, and the daemon runs as that user with the unit's UMask=0027 in a
process group of its own, stopped as systemd does (SIGTERM to the group, then
SIGKILL), by SIGTERM to its pid, or by kill -9.

Needs root (sshd, Unix users, sysctl, a tmpfs); the suite runs as root in CI.
Usage: test_daemon.py BUILD SRC
"""
import atexit
import csv
import glob
import grp
import io
import json
import os
import pwd
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request
import zipfile

BUILD = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 2 else os.path.abspath(".")
SRC = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else os.path.abspath(".")
DROPGATE = os.path.join(BUILD, "src", "dropgate")
SAMPLES = os.path.join(SRC, "tests", "samples")
EMULATOR = os.path.join(SRC, "tests", "emulator", "commerce_emulator.py")
TOKEN = os.path.join(SRC, "data", "demo-token")
USER = "dgpartner"
DAEMON_USER = "dropgate"  # User= and Group= in data/dropgate.service
UMASK = 0o027             # UMask= in data/dropgate.service
STOP_TIMEOUT = 20         # seconds before SIGKILL (TimeoutStopSec= is 30)
# DROPGATE_TEST_LEDGER=postgresql: every Appliance keeps its ledger in a PostgreSQL database of
# its own (issue 15), on the server DROPGATE_TEST_PG names (tests/run-suite starts one) or on
# one this process starts (tests/integration/pgserver.py)
PG = os.environ.get("DROPGATE_TEST_LEDGER") == "postgresql"
SQLITE_ONLY = "the SQLite ledger's own behaviour (its file, its write lock)"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgserver  # noqa: E402

_pg = {}


def pg_conninfo(name):
    """A new database on the test server, as a conninfo for `ledger =`."""
    if "base" not in _pg:
        if os.environ.get("DROPGATE_TEST_PG"):
            _pg["base"] = os.environ["DROPGATE_TEST_PG"]
        else:
            server = pgserver.Server().start()
            atexit.register(server.stop)
            _pg["base"] = server.conninfo()
    pgserver.query(_pg["base"], 'CREATE DATABASE "%s"' % name)
    return _pg["base"].replace("dbname=postgres", "dbname=" + name)


def sql_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, (int, float)):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def pg_value(v):
    """psql's text as sqlite3 gives it: integers as int"""
    return int(v) if v is not None and re.fullmatch(r"-?[0-9]+", v) else v

CONFIG = """
[dropgate]
spool = {root}/spool
state = {root}/state
workers = 2
settle = 1s
rescan = 2s
retry_deferred = 1s
retry_deferred_max = 2s
min_free = {min_free}

[commerce]
url = http://127.0.0.1:{port}
token_file = {token}
batch_rows = {batch_rows}
timeout = 5
retries = 1
backoff = 50ms
backoff_max = 200ms

[feed stock]
dir = inbound/stock
match = *.csv *.csv.gz *.zip
delimiter = ";"
encoding = windows-1252
entity = stock_sources
mode = full
validation = skip-errors
allowed_errors = 100
map.source_code = "default"
map.sku = ItemNo | trim | upper
map.quantity = QtyOnHand | number(",", ".")
map.status = QtyOnHand | number(",", ".") | instock

[feed commerce]
dir = inbound/commerce
entity = stock_sources
validation = skip-errors
allowed_errors = 100

[feed products]
dir = inbound/products
match = *.xml *.zip
members = *.xml
format = xml
record = /Products/Product
entity = catalog_product
validation = skip-errors
allowed_errors = 10
map.sku = @sku | trim | upper | required
map.name = Name[@lang='en'] | trim

[feed stock_src]
dir = inbound/stock_src
delimiter = ";"
entity = stock_sources
validation = skip-errors
allowed_errors = 100
map.source_code = Source | trim
map.sku = ItemNo | trim | upper
map.quantity = QtyOnHand | number(",", ".")
map.status = QtyOnHand | number(",", ".") | instock

[feed okfile]
dir = inbound/okfile
complete = ok-file
entity = stock_sources
"""


def ledger_uri(path):
    """The ledger as an SQLite URI that never creates it: a test that looks before the daemon
    made it must not leave a root-owned empty ledger.db the daemon's user cannot write."""
    return "file:%s?mode=rw" % urllib.parse.quote(path)


def slurp(path):
    with open(path) as f:
        return f.read()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(cond, timeout=20.0, what="the condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def daemon_user():
    """The daemon's user and group, made as a system user the first time (never removed: other
    runs of the suite may be using it)."""
    try:
        pw = pwd.getpwnam(DAEMON_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "-U", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin",
                        DAEMON_USER], capture_output=True)
        pw = pwd.getpwnam(DAEMON_USER)  # made by us or by a run beside us
    return pw.pw_uid, pw.pw_gid


def install_state_dir(path):
    """As the README's install steps: install -d -o dropgate -g dropgate -m 0750 STATE."""
    uid, gid = daemon_user()
    os.makedirs(path, exist_ok=True)
    os.chown(path, uid, gid)
    os.chmod(path, 0o750)


class Appliance:
    """A spool, a state dir, the emulator and the daemon, under a root-owned path."""

    def __init__(self, batch_rows=5000, min_free="1M", state_dir=None, workers=2, dropgate_keys="",
                 sources=("default",)):
        # a chroot needs root-owned components all the way: not under /tmp
        self.root = tempfile.mkdtemp(prefix="dropgate-test-", dir="/srv")
        os.chmod(self.root, 0o755)
        self.state = state_dir or os.path.join(self.root, "state")
        install_state_dir(self.state)
        self.port = None
        self.emu = None
        self.daemon = None
        self.log = os.path.join(self.root, "daemon.log")
        self.batch_rows = batch_rows
        self.min_free = min_free
        self.workers = workers
        self.dropgate_keys = dropgate_keys  # more lines for [dropgate]
        self.pg = None
        if PG:
            self.pg = pg_conninfo("dg_" + re.sub(r"[^a-z0-9]", "_", os.path.basename(self.root).lower()))
            self.dropgate_keys = "ledger = %s\n%s" % (self.pg, dropgate_keys)
        self.sources = sources  # the inventory sources Commerce has (others refuse the row)
        self.start_emulator()
        try:
            self.write_config()
            self.run(["partner", "add", "acme"])
        except BaseException:
            # a setUp that fails leaves no tearDown: an orphan emulator would hold run-suite's
            # pipe open and hang the whole suite
            self.close()
            raise

    def write_config(self, extra=""):
        self.conf = os.path.join(self.root, "dropgate.conf")
        text = CONFIG.format(root=self.root, port=self.port, token=TOKEN, batch_rows=self.batch_rows,
                             min_free=self.min_free)
        text = text.replace("state = %s/state" % self.root, "state = %s" % self.state)
        text = text.replace("workers = 2\n", "workers = %d\n%s" % (self.workers, self.dropgate_keys))
        with open(self.conf, "w") as f:
            f.write(text + extra)

    def start_emulator(self):
        portfile = os.path.join(self.root, "emu.port")
        if os.path.exists(portfile):
            os.unlink(portfile)
        args = [sys.executable, EMULATOR, "--port", str(self.port or 0), "--port-file", portfile,
                "--token-file", TOKEN]
        for code in self.sources:
            args += ["--source", code]
        self.emu = subprocess.Popen(args, stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(portfile), 10, "the emulator")
        self.port = int(slurp(portfile))

    def stop_emulator(self):
        self.emu.kill()
        self.emu.wait()

    def emu_call(self, what, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request("http://127.0.0.1:%d/__emulator/%s" % (self.port, what), data=data,
                                     method="POST" if data is not None else "GET")
        with urllib.request.urlopen(req) as r:
            return json.load(r)

    def imports(self):
        return [j for j in self.emu_call("journal") if "/V1/import/" in j["path"] and j["status"] == 200]

    def run(self, args, check=True):
        p = subprocess.run([DROPGATE, "-c", self.conf] + args, capture_output=True, text=True)
        if check and p.returncode != 0:
            raise AssertionError("dropgate %s: %s%s" % (" ".join(args), p.stdout, p.stderr))
        return p

    def start(self, env=None, crash_at=None):
        """The daemon as the unit runs it: its user and group, UMask=0027, a process group
        of its own (systemd's cgroup). crash_at: a DROPGATE_CRASH_AT point (see
        src/util/crashpoint.h): the daemon _exits(137) there."""
        uid, gid = daemon_user()
        self.logf = open(self.log, "a")
        env = dict(env or os.environ)
        env.pop("DROPGATE_CRASH_AT", None)
        if crash_at:
            env["DROPGATE_CRASH_AT"] = crash_at
        started = slurp(self.log).count("event=started")
        self.daemon = subprocess.Popen([DROPGATE, "-c", self.conf, "run"], stderr=self.logf, user=uid,
                                       group=gid, extra_groups=[], umask=UMASK, process_group=0,
                                       env=env)
        wait_for(lambda: slurp(self.log).count("event=started") > started or self.daemon.poll() is not None,
                 10, "the daemon to start")
        if self.daemon.poll() is not None and not crash_at:
            raise AssertionError("the daemon did not start: " + slurp(self.log)[-2000:])

    def crashed(self, timeout=30):
        """The daemon ended at its crash point (exit 137, as after kill -9); what is left of its
        group goes as systemd would kill it."""
        rc = self.daemon.wait(timeout=timeout)
        if self.group_left():
            os.killpg(self.daemon.pid, signal.SIGKILL)
        self.logf.close()
        self.daemon = None
        return rc

    def stop(self, sig=signal.SIGTERM, group=False):
        """sig to the daemon's pid, or with group=True as systemctl stop does: sig to every
        process of the group, SIGKILL to what is left after STOP_TIMEOUT."""
        if self.daemon and self.daemon.poll() is None:
            if group:
                os.killpg(self.daemon.pid, sig)
                try:
                    self.daemon.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    os.killpg(self.daemon.pid, signal.SIGKILL)
                    self.daemon.wait()
                    raise AssertionError("the daemon ignored %s for %d s" % (sig.name, STOP_TIMEOUT))
            else:
                self.daemon.send_signal(sig)
                self.daemon.wait(timeout=STOP_TIMEOUT)
        if self.daemon:
            left = self.group_left()
            if left:  # what systemd does to the rest of the cgroup
                os.killpg(self.daemon.pid, signal.SIGKILL)
            self.logf.close()
            if left and sig != signal.SIGKILL:
                raise AssertionError("processes %s outlived the daemon stopped by %s" % (left, sig.name))
        self.daemon = None

    def group_left(self):
        """The live processes of the daemon's group: after a clean stop, none may be left."""
        left = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                stat = slurp("/proc/%s/stat" % pid)
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) == self.daemon.pid and fields[0] != "Z":
                left.append(int(pid))
        return left

    def group_stop(self):
        self.stop(signal.SIGTERM, group=True)

    def close(self):
        try:
            self.stop(signal.SIGKILL, group=True)
        except AssertionError:
            pass
        if self.emu:
            self.emu.kill()
            self.emu.wait()
        subprocess.run(["umount", self.state], capture_output=True)
        if os.environ.get("DROPGATE_KEEP"):  # to look at a failure
            print("kept " + self.root, file=sys.stderr)
            return
        shutil.rmtree(self.root, ignore_errors=True)

    def inbox(self, feed="stock", partner="acme"):
        return os.path.join(self.root, "spool", partner, "inbound", feed)

    def drop(self, name, data, feed="stock", partner="acme"):
        """As an SFTP server writes: a temporary name, then a rename."""
        tmp = os.path.join(self.inbox(feed, partner), "." + name + ".part")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.inbox(feed, partner), name))

    def ledger(self, sql, params=()):
        """The rows of a statement on the ledger, whichever the backend ([] before it is made)."""
        if self.pg:
            for p in params:
                sql = sql.replace("?", sql_literal(p), 1)
            try:
                return [tuple(pg_value(v) for v in r) for r in pgserver.query(self.pg, sql)]
            except RuntimeError as e:
                if 'relation "files" does not exist' in str(e):
                    return []  # the daemon has not made it yet
                raise
        if not os.path.exists(os.path.join(self.state, "ledger.db")):
            return []  # the daemon has not made it yet
        db = sqlite3.connect(ledger_uri(os.path.join(self.state, "ledger.db")), uri=True, timeout=10)
        try:
            rows = db.execute(sql, params).fetchall()
            db.commit()
            return rows
        finally:
            db.close()

    def ledger_many(self, sql, rows):
        """One statement for each row of parameters, in one transaction."""
        if not self.pg:
            db = sqlite3.connect(ledger_uri(os.path.join(self.state, "ledger.db")), uri=True, timeout=10)
            db.executemany(sql, rows)
            db.commit()
            db.close()
            return
        head, values = sql.split(" VALUES ", 1)
        lits = []
        for r in rows:
            v = values
            for p in r:
                v = v.replace("?", sql_literal(p), 1)
            lits.append(v)
        self.ledger(head + " VALUES " + ",".join(lits))

    def files(self, where="1=1"):
        return self.ledger("SELECT id, name, state, message, feed FROM files WHERE " + where + " ORDER BY id")

    def finished(self, n):
        return len(self.files("state IN ('done','partial','failed','duplicate','stale','refused')")) >= n

    def report_written(self, name):
        """A refusal's state is written before its report: wait for what the partner reads."""
        path = os.path.join(self.root, "spool", "acme", "outbound", "reports", name + ".result.json")
        return wait_for(lambda: os.path.exists(path), 10, "the report of " + name)

    def report(self, name):
        # the ledger's state can come a moment before the report (claim_refused writes them in
        # that order); the crash loop in test_faults.py checks every report after a stop
        path = os.path.join(self.root, "spool", "acme", "outbound", "reports", name + ".result.json")
        wait_for(lambda: os.path.exists(path), 5, "the report " + path)
        with open(path) as f:
            return json.load(f)


def log_events(path, event):
    """The log lines of one event, as dicts (ts, file_id, ...)."""
    out = []
    for line in slurp(path).splitlines():
        if " event=%s " % event not in line + " ":
            continue
        out.append({k: v.strip('"') for k, v in re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)', line)})
    return out


def check_each_once_in_order(test, log):
    """Invariants: a file is taken by a worker once (no file_processing after its file_done), and
    the files of one partner and feed run one at a time, in ledger order."""
    starts, ends = {}, {}
    for e in log_events(log, "file_processing"):
        starts.setdefault(int(e["file_id"]), []).append((e["ts"], e))
    for e in log_events(log, "file_done"):
        ends.setdefault(int(e["file_id"]), []).append((e["ts"], e))
    for fid, done in ends.items():
        test.assertEqual(len(done), 1, "file %d ended twice: %s" % (fid, done))
        test.assertFalse([s for s in starts.get(fid, []) if s[0] > done[0][0]],
                         "file %d taken again after it ended" % fid)
    keys = {}
    for fid, s in starts.items():
        keys.setdefault((s[0][1]["partner"], s[0][1]["feed"]), []).append(fid)
    for key, ids in keys.items():
        ids.sort()
        for x, y in zip(ids, ids[1:]):
            test.assertIn(x, ends, "file %d of %s never ended" % (x, key))
            test.assertGreaterEqual(starts[y][0][0], ends[x][-1][0],
                                    "%s: file %d started before file %d had finished" % (key, y, x))


def sample(path):
    with open(os.path.join(SAMPLES, path), "rb") as f:
        return f.read()


def stock_file(rows, start=0):
    lines = ["ItemNo;Bezeichnung;QtyOnHand;Unit;Warehouse"]
    for i in range(start, start + rows):
        lines.append("ab-%07d;D\xfcbel;%d,000;ST;LAGER-01" % (i, i % 50))
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


@unittest.skipUnless(os.geteuid() == 0, "needs root: sshd, a Unix user, sysctl, tmpfs")
class DaemonTest(unittest.TestCase):
    def setUp(self):
        self.app = Appliance()

    def tearDown(self):
        self.app.close()

    def test_file_done_reported_archived(self):
        a = self.app
        a.start()
        a.drop("stock_full_20261127T0200.csv", sample("erp/stock_full_20261127T0200.csv"))
        wait_for(lambda: a.finished(1), what="the file")
        self.assertEqual(a.files()[0][2], "done")
        r = a.report("stock_full_20261127T0200.csv")
        self.assertEqual((r["state"], r["rows"], r["rows_ok"], r["batches"]), ("done", 200, 200, 1))
        self.assertEqual(len(a.emu_call("store")["stock_sources"]), 200)
        # compressed once the file is done, the plain copy gone when the ledger names the .gz
        archived = os.path.join(a.state, "archive/acme/stock/*-stock_full_20261127T0200.csv")
        wait_for(lambda: glob.glob(archived + ".gz") and not glob.glob(archived), what="the archive's .gz")
        self.assertEqual(os.listdir(a.inbox()), [])
        # the work copy goes right after the end state is written
        wait_for(lambda: os.listdir(os.path.join(a.state, "work")) == [], 10, "work/ emptied")

    def test_redrop_same_bytes_is_duplicate_and_redrop_command_forces(self):
        a = self.app
        a.start()
        data = sample("erp/stock_delta_20261127T1015.csv")
        a.drop("delta.csv", data)
        wait_for(lambda: a.finished(1))
        a.drop("delta.csv", data)
        wait_for(lambda: a.finished(2))
        self.assertEqual([f[2] for f in a.files()], ["done", "duplicate"])
        self.assertIn("the same bytes as file 1", a.report("delta.csv")["messages"][0])
        out = a.run(["redrop", "1", "--force"]).stdout
        self.assertIn("queued again as file 3", out)
        wait_for(lambda: a.finished(3))
        self.assertEqual(a.files("id = 3")[0][2], "done")
        self.assertEqual(len(a.imports()), 2)

    def test_a_duplicate_whose_report_cannot_be_written_waits_and_stays_a_duplicate(self):
        """No end state without the partner's report: the duplicate is deferred while its
        report cannot be written, then screened again and ends a duplicate, nothing sent."""
        a = self.app
        a.start()
        data = sample("erp/stock_delta_20261127T1015.csv")
        a.drop("delta.csv", data)
        wait_for(lambda: a.finished(1))
        reports = os.path.join(a.root, "spool", "acme", "outbound", "reports")
        mode = os.stat(reports).st_mode & 0o7777
        os.chmod(reports, 0o550)  # the daemon's user can no longer create a report there
        try:
            a.drop("delta.csv", data)
            wait_for(lambda: [f for f in a.files() if f[0] == 2 and f[2] == "deferred"], 20,
                     "the duplicate deferred")
            self.assertIn("report could not be written", a.files("id = 2")[0][3])
        finally:
            os.chmod(reports, mode)
        wait_for(lambda: a.finished(2), 20, "the duplicate after the disk is back")
        self.assertEqual([f[2] for f in a.files()], ["done", "duplicate"])
        self.assertIn("the same bytes as file 1", a.report("delta.csv")["messages"][0])
        self.assertEqual(len(a.imports()), 1)

    def test_files_dropped_while_stopped_are_processed_at_start(self):
        a = self.app
        a.drop("a.csv", stock_file(10))
        a.drop("b.csv", stock_file(10, 10))
        time.sleep(1.2)  # older than settle
        a.start()
        wait_for(lambda: a.finished(2))
        self.assertEqual([f[2] for f in a.files()], ["done", "done"])

    def test_bad_samples_fail_with_their_message_and_the_daemon_lives(self):
        a = self.app
        a.start()
        cases = {"commerce": ["empty.csv", "missing_sku_column.csv", "invalid_utf8.csv", "row_errors.csv",
                              "path_traversal.zip", "zip_bomb.zip"],
                 "stock": ["truncated_upload.csv"],
                 "products": ["xxe.xml", "billion_laughs.xml", "not_xml.xml"]}
        n = 0
        for feed, names in cases.items():
            for name in names:
                a.drop(name, sample("bad/" + name), feed)
                n += 1
        wait_for(lambda: a.finished(n), 60, "every bad sample")
        states = {f[1]: f[2] for f in a.files()}
        want = {"empty.csv": "failed", "missing_sku_column.csv": "failed", "invalid_utf8.csv": "partial",
                "row_errors.csv": "partial", "path_traversal.zip": "failed", "zip_bomb.zip": "failed",
                "truncated_upload.csv": "failed", "xxe.xml": "failed", "billion_laughs.xml": "failed",
                "not_xml.xml": "failed"}
        self.assertEqual(states, want)
        msgs = {name: " ".join(a.report(name)["messages"]) for name in want}
        self.assertIn("the file is empty", msgs["empty.csv"])
        self.assertIn("required column 'sku' is missing", msgs["missing_sku_column.csv"])
        self.assertIn("has '..' in its path", msgs["path_traversal.zip"])
        self.assertIn("zip bomb", msgs["zip_bomb.zip"])
        self.assertIn("was the upload cut off?", msgs["truncated_upload.csv"])
        self.assertIn("DOCTYPE declares entities", msgs["xxe.xml"])
        self.assertIn("not well-formed XML", msgs["not_xml.xml"])
        with open(os.path.join(a.root, "spool/acme/outbound/reports/row_errors.csv.errors.csv"),
                  encoding="utf-8-sig") as f:
            errors = f.read().splitlines()
        self.assertEqual(len(errors), 8)
        self.assertFalse(os.path.exists("/tmp/dropgate-escape.csv"))
        self.assertIsNone(a.daemon.poll())
        self.assertTrue(os.path.exists(os.path.join(a.state, "failed/acme/products/xxe.xml")))

    def test_an_older_full_snapshot_is_stale(self):
        a = self.app
        a.start()
        a.drop("stock_20261127T0200.csv", stock_file(5))
        wait_for(lambda: a.finished(1))
        a.drop("stock_20261126T0200.csv", stock_file(5, 100))
        wait_for(lambda: a.finished(2))
        self.assertEqual(a.files("id = 2")[0][2], "stale")
        self.assertIn("older than the full snapshot stock_20261127T0200.csv",
                      a.report("stock_20261126T0200.csv")["messages"][0])
        self.assertEqual(len(a.imports()), 1)

    def test_symlink_to_etc_passwd_is_refused_unread(self):
        a = self.app
        a.start()
        os.symlink("/etc/passwd", os.path.join(a.inbox(), "passwd.csv"))
        wait_for(lambda: a.finished(1))
        self.assertEqual(a.files()[0][2], "refused")
        a.report_written("passwd.csv")
        self.assertIn("symbolic link", a.report("passwd.csv")["messages"][0])
        wait_for(lambda: os.path.islink(os.path.join(a.state, "failed/acme/stock/passwd.csv")), 10,
                 "the link moved aside (after its report)")
        self.assertEqual(a.imports(), [])

    def test_okfile_half_upload_never_imported_then_whole_once(self):
        a = self.app
        a.start()
        data = sample("bad/row_errors.csv").replace(b",=1+2,", b",8,")
        a.drop("half.csv", data[: len(data) // 2], "okfile")
        time.sleep(3)
        self.assertEqual(a.files(), [])
        a.drop("half.csv", data, "okfile")
        a.drop("half.csv.ok", b"", "okfile")
        wait_for(lambda: a.finished(1))
        self.assertEqual(len(a.files()), 1)
        self.assertFalse(os.path.exists(os.path.join(a.inbox("okfile"), "half.csv.ok")))

    def test_commerce_down_deferred_then_done(self):
        a = self.app
        a.stop_emulator()
        a.start()
        a.drop("down.csv", stock_file(20))
        wait_for(lambda: a.files("state = 'deferred'"), 20, "the file to be deferred")
        a.start_emulator()
        wait_for(lambda: a.finished(1), 30, "the deferred file")
        self.assertEqual(a.files()[0][2], "done")
        self.assertEqual(len(a.emu_call("store")["stock_sources"]), 20)
        self.assertIn("next try in", slurp(a.log))

    def test_kill9_mid_file_resumes_at_the_first_unconfirmed_batch(self):
        a = self.app
        a.batch_rows = 20
        a.write_config()
        a.emu_call("config", {"delay": 0.3})
        a.start()
        a.drop("big.csv", stock_file(200))  # 10 batches
        wait_for(lambda: len(a.imports()) >= 3, 30, "three batches")
        a.stop(signal.SIGKILL)
        applied = len(a.imports())
        a.start()
        try:
            wait_for(lambda: a.finished(1), 60, "the resumed file")
        except AssertionError:
            print(slurp(a.log)[-3000:])
            raise
        got = a.imports()
        digests = [j["digest"] for j in got]
        self.assertEqual(len(set(digests)), 10, "every batch applied")
        self.assertLessEqual(len(digests) - 10, 1, "at most the batch in flight sent twice")
        self.assertGreaterEqual(applied, 3)
        self.assertEqual(a.files()[0][2], "done")

    def test_a_row_commerce_refuses_ends_partial_with_the_row_in_errors_csv(self):
        a = self.app
        a.start()
        a.drop("repro.csv", sample("refusals/stock_10_line8.csv"), feed="stock_src")
        wait_for(lambda: a.finished(1), what="the file")
        self.assertEqual(a.files()[0][2], "partial")
        r = a.report("repro.csv")
        self.assertEqual((r["state"], r["rows"], r["rows_ok"], r["rows_rejected"]), ("partial", 10, 9, 1))
        errors = slurp(os.path.join(a.root, "spool/acme/outbound/reports/repro.csv.errors.csv"))
        self.assertEqual(errors.lstrip("\ufeff").splitlines()[1:],
                         ['8,Source,warehouse_xx,"Commerce rejected the row: Source code ""warehouse_xx"" does not exists"'])
        self.assertEqual(len(a.emu_call("store")["stock_sources"]), 9)
        out = a.run(["show", "1"]).stdout
        self.assertIn("batch 1 to default (rows 1-10): HTTP 200, 0 rows processed, 1 rows rejected", out)
        self.assertIn("batch 1 to default, request 2 (rows 1-6,8-10): HTTP 200, 9 rows processed", out)

    def test_kill9_after_a_refusal_sends_no_answered_request_again(self):
        # issue 9 item 6: requests Commerce refused were sent again on resume
        a = self.app
        a.batch_rows = 20
        a.write_config()
        a.emu_call("config", {"delay": 0.3, "answers": "earlier"})
        lines = ["Source;ItemNo;QtyOnHand"] + ["%s;AB-%05d;%d" % ("warehouse_xx" if i == 25 else "default", i, i % 9)
                                              for i in range(200)]
        a.start()
        a.drop("halved.csv", ("\n".join(lines) + "\n").encode(), feed="stock_src")

        def refused_then_more():
            got = a.imports()
            firsts = [i for i, j in enumerate(got) if "Data validation failed" in " ".join(j["answer"] or [])]
            return firsts and len(got) >= firsts[0] + 3
        wait_for(refused_then_more, 60, "a refusal and two requests after it")
        a.stop(signal.SIGKILL)
        before = a.imports()
        a.start()
        wait_for(lambda: a.finished(1), 60, "the resumed file")
        after = a.imports()[len(before):]
        answered = {j["digest"] for j in before[:-1]}  # the last may have been in flight
        again = [j for j in after if j["digest"] in answered]
        self.assertEqual(again, [], "requests answered before the kill were sent again")
        self.assertEqual(a.files()[0][2], "partial")
        errors = slurp(os.path.join(a.root, "spool/acme/outbound/reports/halved.csv.errors.csv"))
        self.assertIn("27,,,Commerce refused this row without saying why", errors)
        self.assertEqual(len(a.emu_call("store")["stock_sources"]), 199)

    def test_sigterm_stops_within_seconds_and_parks_the_file(self):
        """SIGTERM to the daemon's pid, then (systemctl stop) to its whole group."""
        a = self.app
        a.batch_rows = 20
        a.write_config()
        a.emu_call("config", {"delay": 1.0})
        a.drop("slow.csv", stock_file(200))
        for group in (False, True):
            a.start()
            seen = len(a.imports())
            wait_for(lambda: len(a.imports()) > seen, 30)
            t = time.time()
            a.stop(signal.SIGTERM, group=group)
            self.assertLess(time.time() - t, 5)
            self.assertEqual(slurp(a.log).count("event=stopped"), 1 + group)
            self.assertIn(a.files()[0][2], ("submitting", "processing"))
        a.emu_call("config", {"delay": 0})
        a.start()
        wait_for(lambda: a.finished(1), 60)
        self.assertEqual(len(set(j["digest"] for j in a.imports())), 10)

    def parser_running(self):
        """The daemon's parser child (`dropgate ... check`), once it runs."""
        for pid in self.app.group_left():
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    if pid != self.app.daemon.pid and b"check" in f.read():
                        return pid
            except OSError:
                pass
        return None

    def test_group_stop_or_ctrl_c_while_parsing_parks_the_file(self):
        """systemctl stop and Ctrl-C signal the whole group: the parser child dies of the same
        signal as the daemon, which must park the file, not fail it."""
        a = self.app
        a.drop("huge.csv", ("sku,source_code,quantity,status\n" +
                            "".join("AB-%d,default,%d,1\n" % (i, i % 90) for i in range(1500000))).encode(),
               "commerce")
        for sig in (signal.SIGINT, signal.SIGTERM):
            a.start()
            wait_for(self.parser_running, 30, "the parser to run")
            a.stop(sig, group=True)
            self.assertNotIn("the parser process died", slurp(a.log))
            self.assertEqual([f[2] for f in a.files()], ["processing"], sig.name)
            self.assertFalse(os.path.exists(os.path.join(a.state, "failed/acme/commerce/huge.csv")))
        a.start()
        wait_for(lambda: a.finished(1), 120, "the parked file")
        self.assertEqual(a.files()[0][2], "done")
        self.assertEqual(sum(j["rows"] for j in a.imports()), 1500000)

    def test_sighup_reloads_and_a_bad_config_keeps_the_old(self):
        a = self.app
        a.start()
        good = slurp(a.conf)
        with open(a.conf, "a") as f:
            f.write("\n[feed broken]\ndir = x\nentity = nonsense\n")
        a.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "event=reload_refused" in slurp(a.log), 10)
        self.assertIn("unknown entity 'nonsense'", slurp(a.log))
        a.drop("after.csv", stock_file(5))
        wait_for(lambda: a.finished(1))
        with open(a.conf, "w") as f:
            f.write(good)
        a.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "event=reloaded" in slurp(a.log), 10)
        self.assertIsNone(a.daemon.poll())

    def test_status_and_show(self):
        a = self.app
        a.start()
        a.drop("s.csv", stock_file(5))
        wait_for(lambda: a.finished(1))
        st = json.loads(a.run(["status", "--json"]).stdout)
        self.assertEqual(st["recent"][0]["file"], "s.csv")
        self.assertEqual(st["recent"][0]["state"], "done")
        self.assertTrue(st["daemon_pid"])
        out = a.run(["show", "1"]).stdout
        self.assertIn("file 1: s.csv", out)
        self.assertIn("processing", out)
        self.assertIn("batch 1 to default (rows 1-5): HTTP 200, 5 rows processed", out)
        self.assertEqual(a.run(["show", "99"], check=False).returncode, 2)


    def test_reports_of_feeds_sharing_a_directory_never_meet(self):
        a = self.app
        a.write_config("\n[feed shared_a]\ndir = inbound/shared\nentity = stock_sources\n"
                       "\n[feed shared_b]\ndir = inbound/shared\nentity = stock_sources\n")
        a.run(["partner", "add", "acme"])  # the new feed's inbound directory, as the README says
        a.start()
        a.drop("p.csv", b"sku,source_code,quantity,status\nAB-1,default,1,1\n", "shared")
        # a name that F.<feed> would have made of p.csv
        a.drop("p.csv.shared_a", b"sku,source_code,quantity,status\nAB-2,default,2,1\n", "commerce")
        wait_for(lambda: a.finished(3), 30, "three files")
        reports = os.path.join(a.root, "spool/acme/outbound/reports")
        got = {}
        for path in glob.glob(reports + "/**/*.result.json", recursive=True):
            with open(path) as f:
                r = json.load(f)
            got[os.path.relpath(path, reports)] = (r["file"], r["feed"], r["state"])
        self.assertEqual(got, {"shared_a/p.csv.result.json": ("p.csv", "shared_a", "done"),
                               "shared_b/p.csv.result.json": ("p.csv", "shared_b", "done"),
                               "p.csv.shared_a.result.json": ("p.csv.shared_a", "commerce", "done")})

    def test_a_file_named_out_and_a_255_byte_name_are_processed_and_reported(self):
        a = self.app
        a.start()
        long_name = "x" * 251 + ".csv"
        a.drop("out", b"sku,source_code,quantity,status\nAB-1,default,1,1\n", "commerce")
        tmp = os.path.join(a.inbox("commerce"), ".long.part")
        with open(tmp, "wb") as f:
            f.write(b"sku,source_code,quantity,status\nAB-2,default,2,1\nAB-3,default,x,1\n")
        os.rename(tmp, os.path.join(a.inbox("commerce"), long_name))
        wait_for(lambda: a.finished(2), 30, "both files")
        self.assertEqual(sorted((f[1], f[2]) for f in a.files()), [("out", "done"), (long_name, "partial")])
        self.assertEqual(a.report("out")["state"], "done")
        reports = glob.glob(os.path.join(a.root, "spool/acme/outbound/reports/x*.result.json"))
        self.assertEqual(len(reports), 1)
        with open(reports[0]) as f:
            r = json.load(f)
        self.assertEqual((r["file"], r["state"], r["rows_rejected"]), (long_name, "partial", 1))
        self.assertTrue(glob.glob(os.path.join(a.root, "spool/acme/outbound/reports/x*.errors.csv")))
        # the .gz is published before the plain copy goes (src/outcome/finish.c): wait for both
        wait_for(lambda: len(glob.glob(os.path.join(a.state, "archive/acme/commerce/*.gz"))) == 2 and
                 len(glob.glob(os.path.join(a.state, "archive/acme/commerce/*"))) == 2,
                 what="both archives compressed, the plain copies gone")

    def stopped_mid_submission(self, name, sig, group=False):
        """A 200-row file in batches of 20, stopped once its first batch was imported, with
        more batches to go (Commerce answers a second after each arrives)."""
        a = self.app
        a.batch_rows = 20
        a.write_config()
        a.emu_call("config", {"delay": 1.0})
        a.start()
        a.drop(name, stock_file(200))
        wait_for(lambda: len(a.imports()) >= 1, 30)
        a.stop(sig, group=group)

    def test_a_damaged_line_index_fails_the_batch_not_the_daemon(self):
        # what a power loss left before batch files were fsync'd: an empty .lines sidecar
        a = self.app
        self.stopped_mid_submission("cut.csv", signal.SIGTERM)
        done = a.ledger("SELECT count(*) FROM batches WHERE state = 'done'")[0][0]
        lines = glob.glob(os.path.join(a.state, "work/1/.out/.cut.csv.batch-%04d.lines" % (done + 1)))
        self.assertEqual(len(lines), 1)
        open(lines[0], "w").close()
        a.emu_call("config", {"delay": 0})
        a.emu_call("faults", [{"match": "/V1/import/csv", "status": 400, "times": 100}])
        a.start()
        wait_for(lambda: a.finished(1) or a.daemon.poll() is not None, 30, "the file")
        self.assertIsNone(a.daemon.poll(), "the daemon died:\n" + slurp(a.log)[-2000:])
        self.assertEqual(a.files()[0][2], "failed")
        self.assertIn("batch %d not sent" % (done + 1), " ".join(a.report("cut.csv")["messages"]))

    def test_a_link_planted_as_a_batch_is_never_read(self):
        """be0a269: the parser child writes the batches the daemon (which holds the token)
        sends. A child taken over could plant a link named like a batch: a symbolic link or a
        hard link to the token must not be read and sent to Commerce."""
        a = self.app
        self.stopped_mid_submission("planted.csv", signal.SIGKILL, group=True)
        out = os.path.join(a.state, "work", "1", ".out")
        last = a.ledger("SELECT max(seq) FROM requests")[0][0]  # answered or in flight
        n = last + 1  # the next batch to go
        for k, plant in ((n, os.symlink), (n + 1, os.link)):
            batch = os.path.join(out, "planted.csv.batch-%04d.csv" % k)
            self.assertTrue(os.path.exists(batch), sorted(os.listdir(out)))
            os.unlink(batch)
            plant(TOKEN, batch)
        a.emu_call("config", {"delay": 0})
        a.start()
        wait_for(lambda: a.finished(1), 30, "the file")
        token = slurp(TOKEN).strip()
        self.assertNotIn(token, json.dumps(a.emu_call("journal")) + json.dumps(a.emu_call("store")))
        self.assertEqual(a.files()[0][2], "failed")
        self.assertIn("batch %d not sent" % n, " ".join(a.report("planted.csv")["messages"]))

    def scans_in(self, seconds):
        """How many times the daemon opens a feed directory in that long (strace)."""
        trace = os.path.join(self.app.root, "scans.trace")
        p = subprocess.Popen(["strace", "-f", "-p", str(self.app.daemon.pid), "-e", "trace=openat",
                              "-o", trace], stderr=subprocess.DEVNULL)
        time.sleep(seconds)
        p.send_signal(signal.SIGINT)
        p.wait()
        return sum(1 for l in slurp(trace).splitlines() if "/inbound/" in l and "O_DIRECTORY" in l)

    @unittest.skipUnless(shutil.which("strace"), "no strace")
    def test_leftover_events_and_settling_files_do_not_keep_it_rescanning(self):
        a = self.app
        a.write_config("\n[feed quiet]\ndir = inbound/quiet\ncomplete = quiet:60\nentity = stock_sources\n")
        text = slurp(a.conf).replace("rescan = 2s", "rescan = 1h")  # only leftovers would scan
        with open(a.conf, "w") as f:
            f.write(text)
        a.run(["partner", "add", "acme"])  # the new feed's inbound directory, as the README says
        a.start()
        # an SFTP client's upload: NAME.filepart written and closed, then renamed
        part = os.path.join(a.inbox(), "up.csv.filepart")
        with open(part, "wb") as f:
            f.write(stock_file(3))
        os.rename(part, os.path.join(a.inbox(), "up.csv"))
        # a file waiting to be quiet, then taken back by the partner
        with open(os.path.join(a.inbox("quiet"), "gone.csv"), "wb") as f:
            f.write(stock_file(3))
        # a name no feed takes, closed, then removed
        with open(os.path.join(a.inbox(), "notes.txt"), "w") as f:
            f.write("x")
        # an ok-file upload whose marker has not come yet
        with open(os.path.join(a.inbox("okfile"), "later.csv"), "wb") as f:
            f.write(b"sku,source_code,quantity,status\nAB-1,default,1,1\n")
        wait_for(lambda: a.finished(1), 20, "the upload")
        wait_for(lambda: "notes.txt matches no feed" in slurp(a.log), 10, "the unmatched name")
        time.sleep(1)
        os.unlink(os.path.join(a.inbox("quiet"), "gone.csv"))
        os.unlink(os.path.join(a.inbox(), "notes.txt"))
        time.sleep(1.5)  # a scan sees them gone
        n = self.scans_in(3)
        self.assertLessEqual(n, 1, "%d feed directory scans in 3 s of quiet" % n)
        # a name dropped again is looked at again (and logged again): nothing is kept of the old one
        with open(os.path.join(a.inbox(), "notes.txt"), "w") as f:
            f.write("y")
        wait_for(lambda: slurp(a.log).count("notes.txt matches no feed") == 2, 10, "the name logged again")

    def test_dispatch_loads_only_what_it_can_start(self):
        a = self.app
        a.start()
        a.stop()
        # 20,000 deferred files of one partner and feed, the oldest not due for years
        a.ledger_many("INSERT INTO files (partner, feed, name, state, path, received, next_try) "
                      "VALUES ('acme', 'stock', ?, 'deferred', ?, 0, 4102444800)",
                      [("f%05d.csv" % i, "/nonexistent/f%05d.csv" % i) for i in range(20000)])
        a.start()
        time.sleep(1)
        with open("/proc/%d/stat" % a.daemon.pid) as f:
            t0 = sum(int(x) for x in f.read().rsplit(")", 1)[1].split()[11:13])
        time.sleep(3)
        with open("/proc/%d/stat" % a.daemon.pid) as f:
            t1 = sum(int(x) for x in f.read().rsplit(")", 1)[1].split()[11:13])
        cpu = (t1 - t0) / os.sysconf("SC_CLK_TCK")
        self.assertLess(cpu, 0.5, "%.2f s of CPU in 3 s with nothing to start" % cpu)

    def test_an_archive_linked_from_an_old_upload_is_not_pruned_at_once(self):
        a = self.app
        a.start()
        data = __import__("gzip").compress(stock_file(3))
        path = os.path.join(a.inbox(), ".old.part")
        with open(path, "wb") as f:
            f.write(data)
        old = time.time() - 100 * 86400  # the partner's clock, or a file kept a while
        os.utime(path, (old, old))
        os.rename(path, os.path.join(a.inbox(), "old_20261127.csv.gz"))
        wait_for(lambda: a.finished(1), 20, "the file")
        archived = glob.glob(os.path.join(a.state, "archive/acme/stock/*old_20261127.csv.gz"))
        self.assertEqual(len(archived), 1)
        a.stop()
        a.start()  # prune runs at start
        time.sleep(1.5)
        self.assertNotIn("event=archive_pruned", slurp(a.log))
        self.assertTrue(os.path.exists(archived[0]), "archived a minute ago, pruned as 100 days old")

    def test_status_and_show_escape_control_characters_of_names(self):
        a = self.app
        a.start()
        name = "evil\x1b]2;owned\x07\x1b[2J.csv"
        a.drop(name, b"sku,source_code,quantity,status\nAB-1,default,1,1\n", "commerce")
        wait_for(lambda: a.finished(1), 20, "the file")
        for out in (a.run(["status"]).stdout, a.run(["show", "1"]).stdout):
            self.assertNotIn("\x1b", out)
            self.assertNotIn("\x07", out)
            self.assertIn("evil\\x1b]2;owned\\x07\\x1b[2J.csv", out)

    def test_a_member_name_with_a_newline_keeps_commerce_answers_on_their_member(self):
        a = self.app
        a.write_config("\n[feed prices]\ndir = inbound/prices\nmatch = *.zip\nmembers = *.csv\n"
                       "entity = advanced_pricing\nvalidation = skip-errors\nallowed_errors = 10\n")
        a.run(["partner", "add", "acme"])  # the new feed's inbound directory, as the README says
        a.emu_call("products", [{"id": 1, "sku": "AB-1"}, {"id": 2, "sku": "AB-2"}])
        head = "sku,tier_price_website,tier_price_customer_group,tier_price_qty,tier_price,tier_price_value_type\n"
        z = io.BytesIO()
        with zipfile.ZipFile(z, "w") as zf:
            zf.writestr("a\nb.csv", head + "AB-1,All Websites [USD],ALL GROUPS,1,9.5,Fixed\n")
            zf.writestr("c.csv", head + "AB-2,All Websites [USD],ALL GROUPS,1,9.5,Fixed\n"
                        "NOPE-3,All Websites [USD],ALL GROUPS,1,9.5,Fixed\n")
        a.start()
        a.drop("p.zip", z.getvalue(), "prices")
        wait_for(lambda: a.finished(1), 20, "the file")
        self.assertEqual(a.files()[0][2], "partial")
        with open(os.path.join(a.root, "spool/acme/outbound/reports/p.zip.errors.csv"), encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
        self.assertEqual([r[0] for r in rows[1:]], ["c.csv:3"])

    def lock_ledger(self):
        """Another process holding the ledger's write lock, as an operator's sqlite3 shell can."""
        db = sqlite3.connect(ledger_uri(os.path.join(self.app.state, "ledger.db")), uri=True, timeout=10, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        return db

    @unittest.skipIf(PG, SQLITE_ONLY)
    def test_stop_after_a_ledger_failure_finishes_and_sigterm_is_heard(self):
        a = self.app
        # an export stuck on a silent Commerce keeps a thread busy through the stop
        a.write_config("\n[commerce slow]\nurl = http://127.0.0.1:%d\ntoken_file = %s\ntimeout = 300\n"
                       "retries = 0\n[export orders]\nkind = orders\npartners = acme\n"
                       "dir = outbound/orders\nevery = 1h\ntarget = slow\n" % (a.port, TOKEN))
        a.emu_call("faults", [{"match": "/V1/orders", "delay": 120}])
        a.start()
        time.sleep(1.5)  # the export is under way
        db = self.lock_ledger()
        try:
            a.drop("locked.csv", stock_file(5))
            wait_for(lambda: "event=stopping" in slurp(a.log), 30, "the daemon to give up on the ledger")
            t = time.time()
            a.daemon.send_signal(signal.SIGTERM)
            try:
                a.daemon.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.fail("the daemon ignored SIGTERM while stopping:\n" + slurp(a.log)[-2000:])
            self.assertLess(time.time() - t, 5)
            self.assertNotEqual(a.daemon.returncode, 0)
            self.assertIn("event=stop_forced", slurp(a.log))
        finally:
            db.execute("COMMIT")
            db.close()
        a.stop()
        a.emu_call("faults", [])
        a.start()
        wait_for(lambda: a.finished(1), 30, "the file after the restart")
        self.assertEqual([(f[1], f[2]) for f in a.files()], [("locked.csv", "done")])

    def test_sigterm_during_an_export_on_a_silent_commerce_stops_cleanly(self):
        a = self.app
        a.write_config("\n[commerce slow]\nurl = http://127.0.0.1:%d\ntoken_file = %s\ntimeout = 300\n"
                       "retries = 0\n[export orders]\nkind = orders\npartners = acme\n"
                       "dir = outbound/orders\nevery = 1h\ntarget = slow\n" % (a.port, TOKEN))
        a.emu_call("faults", [{"match": "/V1/orders", "delay": 120}])
        a.start()
        time.sleep(1.5)  # the export is under way
        t = time.time()
        a.daemon.send_signal(signal.SIGTERM)
        a.daemon.wait(timeout=30)
        self.assertLess(time.time() - t, 5, slurp(a.log)[-1500:])
        self.assertEqual(a.daemon.returncode, 0)
        self.assertIn("event=stopped", slurp(a.log))

    @unittest.skipIf(PG, SQLITE_ONLY)
    def test_ledger_locked_mid_batch_stops_the_daemon_and_keeps_the_work_copy(self):
        # (the end state itself not written: test_faults.py LedgerFaultTest)
        a = self.app
        a.emu_call("config", {"delay": 3})
        a.start()
        a.drop("kept.csv", stock_file(7))
        wait_for(lambda: self.sent(), 20, "the batch to be in flight")
        db = self.lock_ledger()
        try:
            try:
                a.daemon.wait(timeout=90)  # the ledger fails: the daemon stops by itself
            except subprocess.TimeoutExpired:
                self.fail("the daemon did not stop:\n" + slurp(a.log)[-2000:])
            work = glob.glob(os.path.join(a.state, "work", "*", "kept.csv"))
            self.assertEqual(len(work), 1, "the work copy went before its end state was written:\n"
                             + slurp(a.log)[-2000:])
        finally:
            db.execute("COMMIT")
            db.close()
        a.stop()
        a.emu_call("config", {"delay": 0})
        a.start()
        wait_for(lambda: a.finished(1), 30, "the file after the restart")
        self.assertEqual(a.files()[0][2], "done")
        digests = [j["digest"] for j in a.imports()]
        self.assertEqual((len(set(digests)), len(digests) <= 2), (1, True), "only the batch in flight twice")

    def sent(self):
        # a request in flight (a batch's requests are recorded one by one: settle.c)
        return self.app.ledger("SELECT count(*) FROM requests WHERE state = 'sent'")[0][0]

@unittest.skipUnless(os.geteuid() == 0, "needs root")
class BurstTest(unittest.TestCase):
    def test_200_files_at_start_each_taken_once_in_order(self):
        """Issue 9 items 18-19: with files waiting at start, a worker took a stale queue entry
        of a file already done (second pass: exit 2, report 'failed' though imported)."""
        a = Appliance(workers=4)
        try:
            partners = ["acme", "p2", "p3", "p4"]
            for p in partners[1:]:
                a.run(["partner", "add", p])
            for i in range(200):
                p = partners[i % 4]
                if i % 8 < 4:
                    a.drop("f%03d.csv" % i, stock_file(3, i * 3), partner=p)
                else:
                    a.drop("f%03d.csv" % i, ("sku,source_code,quantity,status\nAB-%d,default,%d,1\n"
                                             % (i, i)).encode(), "commerce", partner=p)
            time.sleep(1.2)  # older than settle
            a.start()
            wait_for(lambda: a.finished(200), 480, "200 files")  # sanitizer builds are slow
            time.sleep(1)
            bad = [f for f in a.files() if f[2] != "done"]
            self.assertEqual(bad, [])
            check_each_once_in_order(self, a.log)
            self.assertEqual(len(a.imports()), 200)
        finally:
            a.close()

    def test_500_files_with_a_tiny_inotify_queue(self):
        knob = "/proc/sys/fs/inotify/max_queued_events"
        old = slurp(knob).strip()
        a = Appliance()
        try:
            with open(knob, "w") as f:
                f.write("16")
            a.start()  # the daemon's inotify instance gets the small queue
            for i in range(500):
                a.drop("f%03d.csv" % i, ("sku,source_code,quantity,status\nAB-%d,default,%d,1\n"
                                         % (i, i)).encode(), "commerce")
            wait_for(lambda: a.finished(500), 240, "500 files")
            bad = [f for f in a.files() if f[2] != "done"]
            self.assertEqual(bad, [], "\n".join(l for l in slurp(a.log).splitlines() if bad and bad[0][1] in l))
            self.assertEqual(len(a.files("state = 'done'")), 500)
            self.assertEqual(len(a.imports()), 500)
            self.assertIn("event=inotify_overflow", slurp(a.log))
        finally:
            with open(knob, "w") as f:
                f.write(old)
            a.close()


def mount_tmpfs(test, size="64m"):
    """A state disk of its own: claims cross filesystems (the spool is under /srv)."""
    root = tempfile.mkdtemp(prefix="dropgate-state-", dir="/srv")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", root]).returncode != 0:
        os.rmdir(root)
        test.skipTest("no tmpfs here")
    return root


def umount_tmpfs(root):
    subprocess.run(["umount", root], capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


SHARED_DIR_FEED = """
[feed mirror]
dir = inbound/commerce
entity = stock_sources
validation = skip-errors
allowed_errors = 100
"""


def commerce_file(rows, start=0):
    return ("sku,source_code,quantity,status\n" +
            "".join("AB-%d,default,%d,1\n" % (i, i % 90) for i in range(start, start + rows))).encode()


@unittest.skipUnless(os.geteuid() == 0, "needs root: tmpfs, chattr")
class ClaimTest(unittest.TestCase):
    """Issue 9: a file is never lost and never taken twice, wherever a claim is cut.
    Crash points: DROPGATE_CRASH_AT (src/util/crashpoint.h) makes the daemon _exit(137) at one
    step of a claim, as kill -9 there would."""

    def setUp(self):
        self.app = None
        self.tmpfs = None

    def tearDown(self):
        if self.app:
            self.app.close()
        if self.tmpfs:
            umount_tmpfs(self.tmpfs)

    def appliance(self, cross_fs=False, **kw):
        if cross_fs:
            self.tmpfs = mount_tmpfs(self, kw.pop("tmpfs_size", "64m"))
            kw["state_dir"] = self.tmpfs
        self.app = Appliance(**kw)
        return self.app

    def crash_then_restart(self, point, name, data, feed="stock"):
        a = self.app
        a.start(crash_at=point)
        a.drop(name, data, feed)
        self.assertEqual(a.crashed(), 137, "the daemon did not reach " + point)
        a.start()

    def test_feed_removed_leaves_the_file_deferred_untouched(self):
        """Item 1: was set failed, and clean_work deleted its work copy at the next start."""
        a = self.appliance()
        a.stop_emulator()
        a.start()
        a.drop("kept.csv", commerce_file(20), "commerce")
        wait_for(lambda: a.files("state = 'deferred'"), 20, "the file to be deferred")
        a.stop()
        good = slurp(a.conf)
        with open(a.conf, "w") as f:
            f.write(good.replace("[feed commerce]\ndir = inbound/commerce\n", "[feed renamed]\ndir = inbound/renamed\n"))
        work = os.path.join(a.state, "work", "1", "kept.csv")
        a.start()
        wait_for(lambda: "no longer configured" in slurp(a.log), 15, "the unknown feed noticed")
        self.assertEqual(a.files()[0][2], "deferred")
        self.assertIn("the feed 'commerce' is no longer configured", a.files()[0][3])
        a.stop()
        a.start()  # clean_work runs at start
        time.sleep(1)
        self.assertTrue(os.path.exists(work), "the work copy was deleted")
        a.stop()
        with open(a.conf, "w") as f:
            f.write(good)
        a.start_emulator()
        a.write_config()
        a.start()
        wait_for(lambda: a.finished(1), 30, "the file once its feed is back")
        self.assertEqual(a.files()[0][2], "done")
        self.assertEqual(len(a.emu_call("store")["stock_sources"]), 20)

    def test_two_feeds_one_dir_claim_cut_after_first_move(self):
        """Item 2: the second feed's row failed 'cannot move ...: No such file or directory'."""
        a = self.appliance()
        a.write_config(SHARED_DIR_FEED)
        self.crash_then_restart("claim-after-move", "both.csv", commerce_file(10), "commerce")
        wait_for(lambda: a.finished(2), 30, "both feeds' files")
        self.assertEqual(sorted((f[4], f[2]) for f in a.files()), [("commerce", "done"), ("mirror", "done")])
        self.assertEqual(len(a.imports()), 2)
        self.assertEqual(os.listdir(a.inbox("commerce")), [])

    def test_cross_fs_claim_killed_mid_copy_takes_the_whole_file_once(self):
        """Item 3: the truncated copy was taken as claimed and the original claimed again."""
        a = self.appliance(cross_fs=True)
        data = commerce_file(5000)  # several 64 KiB blocks
        self.crash_then_restart("copy-mid-write", "big.csv", data, "commerce")
        wait_for(lambda: a.finished(1), 30, "the file")
        time.sleep(2.5)  # a rescan: the original is not taken again
        self.assertEqual([(f[1], f[2]) for f in a.files()], [("big.csv", "done")])
        self.assertEqual(sum(j["rows"] for j in a.imports()), 5000)

    def test_cross_fs_claim_killed_before_unlink_takes_the_file_once(self):
        """Item 3: a whole copy renamed, the original not yet unlinked: the original came back as a new file."""
        a = self.appliance(cross_fs=True)
        self.crash_then_restart("move-before-unlink", "once.csv", commerce_file(30), "commerce")
        wait_for(lambda: a.finished(1), 30, "the file")
        time.sleep(2.5)
        self.assertEqual([(f[1], f[2]) for f in a.files()], [("once.csv", "done")])
        self.assertEqual(os.listdir(a.inbox("commerce")), [])
        self.assertEqual(len(a.imports()), 1)

    def test_claim_cut_after_the_ledger_rows_makes_no_second_row(self):
        """Item 4: a second row for the same file (the first failed 'cannot move'). An ok-file
        feed: its marker makes the file ready at the first scan after the restart."""
        a = self.appliance()
        a.start(crash_at="claim-after-add")
        a.drop("one.csv", commerce_file(10), "okfile")
        a.drop("one.csv.ok", b"", "okfile")
        self.assertEqual(a.crashed(), 137)
        a.start()
        wait_for(lambda: a.finished(1), 30, "the file")
        time.sleep(2.5)
        self.assertEqual([(f[1], f[2]) for f in a.files()], [("one.csv", "done")])
        self.assertEqual(os.listdir(a.inbox("okfile")), [])

    def test_unmovable_file_has_one_row_retried_with_backoff(self):
        """Item 4: a directory the daemon cannot take files out of gave a new failed row every scan."""
        a = self.appliance()
        inbox = a.inbox("commerce")
        a.drop("stuck.csv", commerce_file(10), "commerce")
        subprocess.run(["chattr", "+i", inbox], check=True)  # rename out fails, even for root
        try:
            a.start()
            wait_for(lambda: slurp(a.log).count("event=claim_failed") >= 3, 30, "three tries")
            rows = a.files()
            self.assertEqual([(f[1], f[2]) for f in rows], [("stuck.csv", "received")], rows)
            self.assertIn("next try in", rows[0][3])
        finally:
            subprocess.run(["chattr", "-i", inbox])
        wait_for(lambda: a.finished(1), 30, "the file once the directory is writable")
        self.assertEqual([(f[1], f[2]) for f in a.files()], [("stuck.csv", "done")])

    def test_refused_symlink_across_filesystems_is_moved_not_deleted(self):
        """Item 5: moving the link aside failed (EXDEV, then a copy refusing the link) and it was unlinked."""
        a = self.appliance(cross_fs=True)
        a.start()
        os.symlink("/etc/passwd", os.path.join(a.inbox(), "passwd.csv"))
        wait_for(lambda: a.finished(1))
        self.assertEqual(a.files()[0][2], "refused")
        wait_for(lambda: os.path.islink(os.path.join(a.state, "failed/acme/stock/passwd.csv")), 10,
                 "the link moved aside (after its report)")
        self.assertEqual(os.readlink(os.path.join(a.state, "failed/acme/stock/passwd.csv")), "/etc/passwd")

    def test_huge_refused_file_is_not_copied_past_min_free(self):
        """Item 5: a refused file was copied to the state disk whatever min_free said, and
        unlinked from the inbound directory when the copy failed."""
        a = self.appliance(cross_fs=True, tmpfs_size="8m", min_free="2M", dropgate_keys="max_file_size = 1M\n")
        a.start()
        big = commerce_file(400000)[: 7 * 1024 * 1024]
        a.drop("huge.csv", big, "commerce")
        wait_for(lambda: a.finished(1), 20, "the refusal")
        time.sleep(2.5)  # more scans: refused once
        a.report_written("huge.csv")
        self.assertEqual([(f[1], f[2]) for f in a.files()], [("huge.csv", "refused")])
        self.assertEqual(os.path.getsize(os.path.join(a.inbox("commerce"), "huge.csv")), len(big))
        self.assertFalse(os.path.exists(os.path.join(a.state, "failed/acme/commerce/huge.csv")))
        self.assertIn("larger than max_file_size", a.report("huge.csv")["messages"][0])

    def test_stale_ok_marker_does_not_release_a_half_upload(self):
        """Item 9: a NAME.ok older than NAME (left by a crash) let a half upload be claimed."""
        a = self.appliance()
        a.start()
        ok = os.path.join(a.inbox("okfile"), "late.csv.ok")
        with open(ok, "w"):
            pass
        os.utime(ok, (time.time() - 3600, time.time() - 3600))
        data = commerce_file(50)
        a.drop("late.csv", data[: len(data) // 2], "okfile")
        time.sleep(3)
        self.assertEqual(a.files(), [], "a half upload with a stale marker was taken")
        a.drop("late.csv", data, "okfile")
        a.drop("late.csv.ok", b"", "okfile")
        wait_for(lambda: a.finished(1), 20, "the whole upload")
        self.assertEqual([(f[1], f[2]) for f in a.files()], [("late.csv", "done")])
        self.assertEqual(sum(j["rows"] for j in a.imports()), 50)
        self.assertFalse(os.path.exists(ok))

    @unittest.skipUnless(shutil.which("strace"), "no strace")
    def test_the_markers_removal_is_made_durable(self):
        """Item 9: a removed NAME.ok that comes back after a power loss would release the next
        upload of NAME half-written: its directory is fsync'd after the unlink."""
        a = self.appliance()
        a.start()
        trace = os.path.join(a.root, "marker.trace")
        p = subprocess.Popen(["strace", "-f", "-y", "-p", str(a.daemon.pid), "-e", "trace=unlink,unlinkat,fsync",
                              "-o", trace], stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # strace attached (it writes nothing before the first call)
        a.drop("synced.csv", commerce_file(5), "okfile")
        a.drop("synced.csv.ok", b"", "okfile")
        wait_for(lambda: a.finished(1), 20, "the file")
        p.send_signal(signal.SIGINT)
        p.wait()
        calls = [l.split(None, 1)[1] for l in slurp(trace).splitlines() if "(" in l]
        gone = [i for i, c in enumerate(calls) if c.startswith(("unlink(", "unlinkat(")) and "synced.csv.ok" in c]
        self.assertEqual(len(gone), 1, calls)
        inbox = os.path.realpath(a.inbox("okfile"))
        self.assertTrue(any(c.startswith("fsync(") and "<%s>" % inbox in c for c in calls[gone[0]:]),
                        "the inbound directory is not fsync'd after the marker's unlink")

    def test_redrop_killed_mid_copy_leaves_no_row_and_the_archive(self):
        """Item 10: redrop wrote a received row naming the archive before its copy existed."""
        a = self.appliance()
        a.start()
        data = commerce_file(20000)
        a.drop("again.csv", data, "commerce")
        wait_for(lambda: a.finished(1), 30)
        wait_for(lambda: glob.glob(os.path.join(a.state, "archive/acme/commerce/*-again.csv.gz")), what="the .gz")
        archive = glob.glob(os.path.join(a.state, "archive/acme/commerce/*-again.csv.gz"))
        self.assertEqual(len(archive), 1)
        env = dict(os.environ, DROPGATE_CRASH_AT="redrop-mid-copy")
        p = subprocess.run([DROPGATE, "-c", a.conf, "redrop", "1", "--force"], env=env, capture_output=True)
        self.assertEqual(p.returncode, 137)
        time.sleep(3)  # the daemon looks at the ledger meanwhile
        self.assertEqual([(f[0], f[2]) for f in a.files()], [(1, "done")])
        self.assertTrue(os.path.exists(archive[0]))
        a.run(["redrop", "1", "--force"])
        wait_for(lambda: a.finished(2), 30)
        self.assertEqual([f[2] for f in a.files()], ["done", "done"])
        self.assertEqual(sum(j["rows"] for j in a.imports()), 40000)
        self.assertTrue(os.path.exists(archive[0]))
        a.stop()
        a.start()  # a cut redrop's staging copy goes at start
        wait_for(lambda: [d for d in os.listdir(os.path.join(a.state, "work")) if d.startswith("redrop.")] == [],
                 10, "the staging copy removed")

    def test_young_file_at_start_claimed_once_settled_not_at_rescan(self):
        """Item 17: a file younger than settle at start waited for the full rescan (60 s here)."""
        a = self.appliance()
        text = slurp(a.conf).replace("rescan = 2s", "rescan = 60s")
        with open(a.conf, "w") as f:
            f.write(text)
        a.drop("young.csv", commerce_file(5), "commerce")
        a.start()
        wait_for(lambda: a.finished(1), 10, "the file once settled")

    def test_a_file_settling_at_start_goes_before_a_later_name_closed_after(self):
        """Item 19: a file dropped while the daemon was down waits out settle at start; a later
        name whose close event comes meanwhile must not go first (order per partner and feed)."""
        a = self.appliance()
        text = slurp(a.conf).replace("settle = 1s", "settle = 3s")
        with open(a.conf, "w") as f:
            f.write(text)
        a.drop("a_01.csv", commerce_file(5), "commerce")
        a.start()
        a.drop("a_02.csv", commerce_file(5, 100), "commerce")  # closed now: ready at once
        wait_for(lambda: a.finished(2), 20, "both files")
        self.assertEqual([(f[1], f[2]) for f in a.files()], [("a_01.csv", "done"), ("a_02.csv", "done")])


@unittest.skipUnless(os.geteuid() == 0, "needs root to mount a tmpfs")
class DiskFullTest(unittest.TestCase):
    def test_full_disk_pauses_claiming_and_resumes(self):
        root = tempfile.mkdtemp(prefix="dropgate-state-", dir="/srv")
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", root]).returncode != 0:
            self.skipTest("no tmpfs here")
        a = Appliance(min_free="2M", state_dir=root)
        try:
            a.start()
            filler = os.path.join(root, "filler")
            subprocess.run(["dd", "if=/dev/zero", "of=" + filler, "bs=1M", "count=7"], capture_output=True)
            a.drop("waits.csv", stock_file(10))
            wait_for(lambda: "event=claiming_paused" in slurp(a.log), 15)
            time.sleep(1.5)
            self.assertEqual(os.listdir(a.inbox()), ["waits.csv"])
            self.assertIn("less than min_free", json.loads(a.run(["status", "--json"]).stdout)["paused"])
            os.unlink(filler)
            wait_for(lambda: a.finished(1), 20, "the file after the disk is back")
            self.assertIn("event=claiming_resumed", slurp(a.log))
        finally:
            a.close()
            subprocess.run(["umount", root], capture_output=True)
            shutil.rmtree(root, ignore_errors=True)


@unittest.skipUnless(os.geteuid() == 0 and os.path.exists("/usr/sbin/sshd"), "needs root and sshd")
class SftpTest(unittest.TestCase):
    """A chrooted partner uploading with OpenSSH's sftp, as data/sshd-dropgate.conf sets up."""

    @classmethod
    def setUpClass(cls):
        subprocess.run(["userdel", USER], capture_output=True)
        subprocess.run(["useradd", "-M", "-d", "/", "-s", "/usr/sbin/nologin", USER], check=True)
        # sshd without PAM refuses a locked account ("!"); "*" has no password and is not locked
        subprocess.run(["usermod", "-p", "*", USER], check=True)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["userdel", USER], capture_output=True)

    def setUp(self):
        self.app = a = Appliance()
        a.run(["partner", "add", "acme", "--user", USER])
        self.keys = os.path.join(a.root, "keys")
        os.mkdir(self.keys, 0o755)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(a.root, "host_key")], check=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(a.root, "user_key")], check=True)
        shutil.copy(os.path.join(a.root, "user_key.pub"), os.path.join(self.keys, USER))
        os.chmod(os.path.join(self.keys, USER), 0o644)
        self.sshd_port = free_port()
        conf = os.path.join(a.root, "sshd_config")
        snippet = slurp(os.path.join(SRC, "data", "sshd-dropgate.conf"))
        snippet = (snippet.replace("Match Group dropgate-partners", "Match User " + USER)
                   .replace("/srv/dropgate/spool/%u", os.path.join(a.root, "spool", "acme"))
                   .replace("/etc/ssh/dropgate-keys/%u", os.path.join(self.keys, "%u")))
        with open(conf, "w") as f:
            f.write("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s\nUsePAM no\n"
                    "PasswordAuthentication no\nKbdInteractiveAuthentication no\nStrictModes yes\n"
                    "AuthorizedKeysFile %s\nSubsystem sftp internal-sftp\n%s"
                    % (self.sshd_port, os.path.join(a.root, "host_key"), os.path.join(a.root, "sshd.pid"),
                       os.path.join(self.keys, "%u"), snippet))
        os.makedirs("/run/sshd", exist_ok=True)
        self.sshd_log = open(os.path.join(a.root, "sshd.log"), "w")
        self.sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", conf], stderr=self.sshd_log)
        wait_for(lambda: self.port_open(), 10, "sshd")

    def port_open(self):
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.sshd_port)) == 0

    def tearDown(self):
        self.sshd.kill()
        self.sshd.wait()
        self.sshd_log.close()
        self.app.close()

    def sftp(self, commands):
        batch = os.path.join(self.app.root, "batch")
        with open(batch, "w") as f:
            f.write(commands)
        return subprocess.run(["sftp", "-b", batch, "-i", os.path.join(self.app.root, "user_key"),
                               "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                               "-o", "BatchMode=yes", "-P", str(self.sshd_port), USER + "@127.0.0.1"],
                              capture_output=True, text=True)

    def test_upload_to_final_name_and_to_filepart_each_imported_once(self):
        a = self.app
        a.start()
        src = os.path.join(SAMPLES, "erp", "stock_full_20261127T0200.csv")
        delta = os.path.join(SAMPLES, "erp", "stock_delta_20261127T1015.csv")
        p = self.sftp("put %s inbound/stock/stock_20261127T0200.csv\n"
                      "put %s inbound/stock/stock_20261127T1015.csv.filepart\n"
                      "rename inbound/stock/stock_20261127T1015.csv.filepart inbound/stock/stock_20261127T1015.csv\n"
                      % (src, delta))
        self.assertEqual(p.returncode, 0, p.stderr + slurp(os.path.join(a.root, "sshd.log")))
        wait_for(lambda: a.finished(2), 30, "both uploads")
        self.assertEqual(sorted((f[1], f[2]) for f in a.files()),
                         [("stock_20261127T0200.csv", "done"), ("stock_20261127T1015.csv", "done")])
        self.assertEqual(len(a.imports()), 2)
        # the partner reads its reports over SFTP too
        p = self.sftp("ls outbound/reports\n")
        self.assertIn("stock_20261127T0200.csv.result.json", p.stdout)

    def test_sftp_upload_killed_halfway_never_imported_then_whole_with_ok_once(self):
        a = self.app
        a.start()
        big = os.path.join(a.root, "big.csv")
        with open(big, "w") as f:
            f.write("sku,source_code,quantity,status\n")
            for i in range(20000):
                f.write("AB-%d,default,%d,1\n" % (i, i % 90))
        batch = os.path.join(a.root, "slow")
        with open(batch, "w") as f:
            f.write("put %s inbound/okfile/big.csv\n" % big)
        # 400 Kbit/s: the upload takes several seconds; kill it halfway
        p = subprocess.Popen(["sftp", "-b", batch, "-l", "400", "-i", os.path.join(a.root, "user_key"),
                              "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                              "-o", "BatchMode=yes", "-P", str(self.sshd_port), USER + "@127.0.0.1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        part = os.path.join(a.inbox("okfile"), "big.csv")
        wait_for(lambda: os.path.exists(part) and os.path.getsize(part) > 0, 20, "the upload to begin")
        time.sleep(1)
        p.kill()
        p.wait()
        self.assertLess(os.path.getsize(part), os.path.getsize(big))
        time.sleep(3)
        self.assertEqual(a.files(), [], "a half upload without its .ok was taken")
        empty = os.path.join(a.root, "empty")
        open(empty, "w").close()
        r = self.sftp("put %s inbound/okfile/big.csv\nput %s inbound/okfile/big.csv.ok\n" % (big, empty))
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: a.finished(1), 30, "the whole upload")
        self.assertEqual([(f[1], f[2]) for f in a.files()], [("big.csv", "done")])
        self.assertEqual(sum(j["rows"] for j in a.imports()), 20000)

    def test_partner_reads_its_reports_and_cannot_write_them(self):
        """As installed by the README: partner add under sudo, the daemon its own user with
        UMask=0027; the partner fetches its reports over sftp, and no one else reads them."""
        a = self.app
        a.start()
        p = self.sftp("put %s inbound/commerce/rows.csv\n" % os.path.join(SAMPLES, "bad", "row_errors.csv"))
        self.assertEqual(p.returncode, 0, p.stderr)
        wait_for(lambda: a.finished(1), 30, "the upload")
        self.assertEqual(a.files()[0][2], "partial", slurp(a.log)[-2000:])
        got = os.path.join(a.root, "got")
        os.mkdir(got)
        os.chmod(got, 0o777)
        p = self.sftp("get outbound/reports/rows.csv.result.json %s/\nget outbound/reports/rows.csv.errors.csv %s/\n"
                      % (got, got))
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(got, "rows.csv.result.json")) as f:
            self.assertEqual(json.load(f)["state"], "partial")
        self.assertTrue(slurp(os.path.join(got, "rows.csv.errors.csv")).startswith("\ufeffline,column"))
        p = self.sftp("put %s outbound/reports/rows.csv.result.json\n" % os.path.join(SAMPLES, "bad", "empty.csv"))
        self.assertNotEqual(p.returncode, 0, "the partner overwrote its report")
        reports = os.path.join(a.root, "spool/acme/outbound/reports")
        self.assertEqual(os.stat(reports).st_mode & 0o007, 0, "others can reach the reports")

    def test_partner_reads_an_export_run_by_root(self):
        """sudo dropgate export: the files are the daemon's user's, the partner's to read."""
        a = self.app
        a.write_config("[export orders]\nkind = orders\npartners = acme\ndir = outbound/orders\nevery = 2m\n")
        a.run(["partner", "add", "acme", "--user", USER])
        a.emu_call("orders", [{"entity_id": 1, "increment_id": "100000001", "status": "pending",
                               "created_at": "2026-11-26 09:00:00", "updated_at": "2026-11-26 10:00:00",
                               "customer_email": "c@example.com", "grand_total": 10.5,
                               "items": [{"item_id": 10, "sku": "AB-1", "name": "Item 1", "qty_ordered": 1,
                                          "price": 10.5, "row_total": 10.5, "parent_item_id": None}]}])
        a.run(["export", "orders"])
        [made] = glob.glob(os.path.join(a.root, "spool/acme/outbound/orders/orders-*.csv"))
        self.assertEqual(os.stat(made).st_uid, daemon_user()[0])
        got = os.path.join(a.root, "got")
        os.mkdir(got)
        p = self.sftp("get outbound/orders/%s %s/\n" % (os.path.basename(made), got))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("100000001", slurp(os.path.join(got, os.path.basename(made))))

    def test_partner_cannot_make_links_or_leave_the_chroot(self):
        p = self.sftp("symlink /etc/passwd inbound/stock/passwd.csv\n")
        self.assertNotEqual(p.returncode, 0)
        p = self.sftp("ls /etc\n")
        self.assertNotEqual(p.returncode, 0)


PIDS_CGROUP = "/sys/fs/cgroup/pids"


@unittest.skipUnless(os.geteuid() == 0 and os.access(PIDS_CGROUP, os.W_OK), "needs root and a pids cgroup")
class ForkFailureTest(unittest.TestCase):
    def test_a_parser_that_cannot_be_forked_defers_the_file(self):
        a = Appliance()
        group = os.path.join(PIDS_CGROUP, "dropgate-test-%d" % os.getpid())
        os.mkdir(group)
        try:
            a.start()
            with open(os.path.join(group, "cgroup.procs"), "w") as f:
                f.write(str(a.daemon.pid))
            # no room for one more process: the parser's fork fails with EAGAIN
            with open(os.path.join(group, "pids.max"), "w") as f:
                f.write(str(len(os.listdir("/proc/%d/task" % a.daemon.pid))))
            a.drop("nofork.csv", stock_file(4))
            wait_for(lambda: a.files("state = 'deferred'") or a.finished(1), 20, "the file")
            self.assertEqual(a.files()[0][2], "deferred", slurp(a.log)[-1500:])
            self.assertIn("could not be started", a.files()[0][3])
            with open(os.path.join(group, "pids.max"), "w") as f:
                f.write("max")
            wait_for(lambda: a.finished(1), 30, "the file once processes can start")
            self.assertEqual(a.files()[0][2], "done")
        finally:
            if a.daemon:
                with open(os.path.join(PIDS_CGROUP, "cgroup.procs"), "w") as f:
                    f.write(str(a.daemon.pid))
            a.close()
            os.rmdir(group)


@unittest.skipUnless(shutil.which("strace"), "no strace")
class DurabilityTest(unittest.TestCase):
    def test_the_workers_batches_are_durable_before_the_result_that_says_so(self):
        """What the daemon resumes from after a power loss is on disk before the worker ends:
        the batches and indices are written, then one syncfs makes them durable at once (one
        fsync each cost a 1M-row file 400 waits), and only then is the result, which says the
        parcel is whole, fsync'd and renamed in, and the directory fsync'd. A power loss before
        the result leaves a parse that is done again (the daemon removes the out dir first)."""
        with tempfile.TemporaryDirectory() as d:
            conf = os.path.join(d, "dropgate.conf")
            with open(conf, "w") as f:
                f.write("[dropgate]\nspool = %s/spool\nstate = %s/state\n[commerce]\n"
                        "url = http://127.0.0.1:9\ntoken_file = %s\nbatch_rows = 20\n"
                        "[feed stock]\ndir = inbound/stock\ndelimiter = \";\"\nencoding = windows-1252\n"
                        "entity = stock_sources\nmap.source_code = \"default\"\nmap.sku = ItemNo\n"
                        "map.quantity = QtyOnHand | number(\",\", \".\")\n" % (d, d, TOKEN))
            src = os.path.join(d, "f.csv")
            with open(src, "wb") as f:
                f.write(stock_file(50))
            out = os.path.join(d, "out")
            os.mkdir(out)
            trace = os.path.join(d, "trace")
            env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")  # LeakSanitizer cannot run under ptrace
            p = subprocess.run(["strace", "-f", "-y", "-o", trace, "-e", "trace=fsync,fdatasync,syncfs,rename",
                                DROPGATE, "-c", conf, "check", "--feed", "stock", "--out", out, "--origins", src],
                               capture_output=True, text=True, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            calls = [l.split(None, 1)[1] for l in slurp(trace).splitlines() if "(" in l]
            batches = [i for i, c in enumerate(calls) if c.startswith("rename(") and ".batch-" in c]
            self.assertEqual(len(batches), 6, "three batches, each with its line index")
            syncs = [i for i, c in enumerate(calls) if c.startswith("syncfs(") and "= 0" in c]
            result = [i for i, c in enumerate(calls) if c.startswith("rename(") and ".result.json" in c]
            self.assertEqual(len(result), 1, calls)
            self.assertTrue([i for i in syncs if batches[-1] < i < result[0]],
                            "no syncfs between the last batch and the result: %s" % calls)
            tmp = os.path.realpath(calls[result[0]].split('"')[1])
            self.assertTrue(any(c.startswith("fsync(") and "<%s>" % tmp in c for c in calls[:result[0]]),
                            "the result renamed before its fsync")
            self.assertTrue(any(c.startswith("fsync(") and "<%s>" % os.path.realpath(out) in c
                                for c in calls[result[0]:]), "the directory is not fsync'd after the result")


class UnitFileTest(unittest.TestCase):
    @unittest.skipUnless(shutil.which("systemd-analyze"), "no systemd-analyze")
    def test_systemd_unit_verifies(self):
        with tempfile.TemporaryDirectory() as d:
            unit = os.path.join(d, "dropgate.service")
            with open(os.path.join(SRC, "data", "dropgate.service")) as f:
                text = f.read().replace("/usr/local/bin/dropgate", DROPGATE)
            with open(unit, "w") as f:
                f.write(text)
            p = subprocess.run(["systemd-analyze", "verify", "--man=no", unit], capture_output=True, text=True)
            self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))


if __name__ == "__main__":
    unittest.main(verbosity=2)
