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
import glob
import grp
import json
import os
import pwd
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

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

[feed okfile]
dir = inbound/okfile
complete = ok-file
entity = stock_sources
"""


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

    def __init__(self, batch_rows=5000, min_free="1M", state_dir=None):
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
        self.start_emulator()
        self.write_config()
        self.run(["partner", "add", "acme"])

    def write_config(self, extra=""):
        self.conf = os.path.join(self.root, "dropgate.conf")
        text = CONFIG.format(root=self.root, port=self.port, token=TOKEN, batch_rows=self.batch_rows,
                             min_free=self.min_free)
        text = text.replace("state = %s/state" % self.root, "state = %s" % self.state)
        with open(self.conf, "w") as f:
            f.write(text + extra)

    def start_emulator(self):
        portfile = os.path.join(self.root, "emu.port")
        if os.path.exists(portfile):
            os.unlink(portfile)
        args = [sys.executable, EMULATOR, "--port", str(self.port or 0), "--port-file", portfile,
                "--token-file", TOKEN]
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

    def start(self, env=None):
        """The daemon as the unit runs it: its user and group, UMask=0027, a process group
        of its own (systemd's cgroup)."""
        uid, gid = daemon_user()
        self.logf = open(self.log, "a")
        started = slurp(self.log).count("event=started")
        self.daemon = subprocess.Popen([DROPGATE, "-c", self.conf, "run"], stderr=self.logf, user=uid,
                                       group=gid, extra_groups=[], umask=UMASK, process_group=0,
                                       env=env)
        wait_for(lambda: slurp(self.log).count("event=started") > started or self.daemon.poll() is not None,
                 10, "the daemon to start")
        if self.daemon.poll() is not None:
            raise AssertionError("the daemon did not start: " + slurp(self.log)[-2000:])

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

    def inbox(self, feed="stock"):
        return os.path.join(self.root, "spool", "acme", "inbound", feed)

    def drop(self, name, data, feed="stock"):
        """As an SFTP server writes: a temporary name, then a rename."""
        tmp = os.path.join(self.inbox(feed), "." + name + ".part")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.inbox(feed), name))

    def files(self, where="1=1"):
        db = sqlite3.connect(os.path.join(self.state, "ledger.db"), timeout=10)
        try:
            return db.execute("SELECT id, name, state, message, feed FROM files WHERE " + where +
                              " ORDER BY id").fetchall()
        finally:
            db.close()

    def finished(self, n):
        return len(self.files("state IN ('done','partial','failed','duplicate','stale','refused')")) >= n

    def report(self, name):
        # the ledger's state can come a moment before the report (claim_refused writes them in
        # that order); the crash loop in test_faults.py checks every report after a stop
        path = os.path.join(self.root, "spool", "acme", "outbound", "reports", name + ".result.json")
        wait_for(lambda: os.path.exists(path), 5, "the report " + path)
        with open(path) as f:
            return json.load(f)


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
        self.assertTrue(glob.glob(os.path.join(a.state, "archive/acme/stock/*-stock_full_20261127T0200.csv.gz")))
        self.assertEqual(os.listdir(a.inbox()), [])
        self.assertEqual(os.listdir(os.path.join(a.state, "work")), [])

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
        self.assertIn("symbolic link", a.report("passwd.csv")["messages"][0])
        self.assertTrue(os.path.islink(os.path.join(a.state, "failed/acme/stock/passwd.csv")))
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
        self.assertIn("batch 1 to default: HTTP 200, 5 rows processed", out)
        self.assertEqual(a.run(["show", "99"], check=False).returncode, 2)


@unittest.skipUnless(os.geteuid() == 0, "needs root")
class BurstTest(unittest.TestCase):
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
        report = os.path.join(a.root, "spool/acme/outbound/reports/rows.csv.result.json")
        self.assertEqual(os.stat(report).st_mode & 0o007, 0, "others can read the report")

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
