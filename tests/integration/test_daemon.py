#!/usr/bin/env python3
"""dropgate run with real processes: OpenSSH sftp uploads into a chroot, the
Commerce emulator over HTTP, inotify, SIGTERM, SIGHUP and kill -9.

Needs root (sshd, a partner's Unix user, sysctl, a tmpfs); the suite runs as
root in CI. Usage: test_daemon.py BUILD SRC
"""
import glob
import json
import os
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


class Appliance:
    """A spool, a state dir, the emulator and the daemon, under a root-owned path."""

    def __init__(self, batch_rows=5000, min_free="1M", state_dir=None):
        # a chroot needs root-owned components all the way: not under /tmp
        self.root = tempfile.mkdtemp(prefix="dropgate-test-", dir="/srv")
        os.chmod(self.root, 0o755)
        self.state = state_dir or os.path.join(self.root, "state")
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

    def start(self):
        self.logf = open(self.log, "a")
        self.daemon = subprocess.Popen([DROPGATE, "-c", self.conf, "run"], stderr=self.logf)
        wait_for(lambda: "event=started" in slurp(self.log), 10, "the daemon to start")

    def stop(self, sig=signal.SIGTERM):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(sig)
            self.daemon.wait(timeout=20)
        if self.daemon:
            self.logf.close()
        self.daemon = None

    def close(self):
        self.stop(signal.SIGKILL)
        if self.emu:
            self.emu.kill()
            self.emu.wait()
        subprocess.run(["umount", self.state], capture_output=True)
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
        with open(os.path.join(self.root, "spool", "acme", "outbound", "reports", name + ".result.json")) as f:
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
        a = self.app
        a.batch_rows = 20
        a.write_config()
        a.emu_call("config", {"delay": 1.0})
        a.start()
        a.drop("slow.csv", stock_file(200))
        wait_for(lambda: len(a.imports()) >= 1, 30)
        t = time.time()
        a.stop(signal.SIGTERM)
        self.assertLess(time.time() - t, 5)
        self.assertIn("event=stopped", slurp(a.log))
        self.assertIn(a.files()[0][2], ("submitting", "processing"))
        a.emu_call("config", {"delay": 0})
        a.start()
        wait_for(lambda: a.finished(1), 60)
        self.assertEqual(len(set(j["digest"] for j in a.imports())), 10)

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
