#!/usr/bin/env python3
"""Operating dropgate: the metrics endpoint and /healthz, late feeds and the alert program,
progress in `status --json`, and systemd's notifications, against the daemon run as its unit
runs it (test_daemon.py's Appliance: its user, UMask, a process group, the emulator).

Needs root, like test_daemon.py. Usage: test_ops.py BUILD SRC
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_daemon as td  # noqa: E402  (takes BUILD and SRC off sys.argv)

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(test, text):
    """The exposition held to promtool's rules: HELP/TYPE before a family's samples, one TYPE a
    family, every sample in a declared family (histograms: _bucket, _sum, _count), labels
    well formed, no series twice. {(name, frozenset(labels)): value}."""
    types, series, seen_samples = {}, {}, set()
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            test.assertNotIn(name, types, "line %d: a second TYPE for %s" % (n, name))
            test.assertNotIn(name, seen_samples, "line %d: TYPE of %s after its samples" % (n, name))
            test.assertIn(kind, ("counter", "gauge", "histogram", "summary", "untyped"))
            types[name] = kind
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE_RE.match(line)
        test.assertTrue(m, "line %d is no sample: %r" % (n, line))
        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
        family = name
        if name not in types:
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            test.assertEqual(types.get(family), "histogram", "line %d: %s has no TYPE" % (n, name))
        seen_samples.add(family)
        pairs = LABEL_RE.findall(labels)
        test.assertEqual(",".join('%s="%s"' % p for p in pairs), labels, "line %d: labels" % n)
        key = (name, frozenset(pairs))
        test.assertNotIn(key, series, "line %d: series %s given twice" % (n, line))
        series[key] = float(value)
        if types.get(family) == "counter":
            test.assertTrue(name.endswith("_total"), "counter %s without _total" % name)
    return series


def value(series, name, **labels):
    return series.get((name, frozenset(labels.items())), 0.0)


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def alert_script(root):
    """An alert program that appends its DROPGATE_ variables, one JSON line a call."""
    uid, gid = td.daemon_user()
    d = os.path.join(root, "alerts")
    os.makedirs(d)
    os.chown(d, uid, gid)
    script = os.path.join(root, "alert.sh")
    with open(script, "w") as f:
        f.write("#!/usr/bin/python3\nimport json, os\n"
                "with open(%r, 'a') as f:\n"
                "    f.write(json.dumps({k: v for k, v in os.environ.items()"
                " if k.startswith('DROPGATE_')}) + '\\n')\n" % os.path.join(d, "calls"))
    os.chmod(script, 0o755)
    return os.path.join(d, "calls")


def calls(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


@unittest.skipUnless(os.geteuid() == 0, "needs root: a Unix user for the daemon")
class OpsTest(unittest.TestCase):
    def tearDown(self):
        try:
            self.app.stop()  # SIGTERM: a clean stop, where a sanitizer build reports what it found
            log = td.slurp(self.app.log)
            self.assertNotRegex(log, r"(Sanitizer|runtime error)", "the daemon's log: " + log[-3000:])
            self.assertIn("event=stopped", log)
        finally:
            self.app.close()

    def appliance(self, keys="", **kw):
        self.mport = td.free_port()
        self.app = td.Appliance(dropgate_keys="metrics = 127.0.0.1:%d\n%s" % (self.mport, keys), **kw)
        return self.app

    def metrics(self):
        status, text = get("http://127.0.0.1:%d/metrics" % self.mport)
        self.assertEqual(status, 200)
        return parse_metrics(self, text)

    def test_metrics_move_by_exactly_the_files_rows(self):
        app = self.appliance()
        app.start()
        before = td.wait_for(lambda: self.metrics(), 10, "/metrics")
        # a PostgreSQL ledger's size is its server's to tell: no dropgate_ledger_bytes there
        for family in ("dropgate_files_total", "dropgate_rows_total", "dropgate_queue_files",
                       "dropgate_disk_free_bytes") + (() if td.PG else ("dropgate_ledger_bytes",)):
            self.assertTrue(any(k[0] == family for k in before) or family in ("dropgate_files_total",
                            "dropgate_rows_total"), family)
        app.drop("m1.csv", td.stock_file(1234))
        td.wait_for(lambda: app.finished(1), 30, "the file")
        after = self.metrics()
        sent = dict(partner="acme", feed="stock", outcome="sent")
        self.assertEqual(value(after, "dropgate_rows_total", **sent) - value(before, "dropgate_rows_total", **sent),
                         1234)
        done = dict(partner="acme", feed="stock", state="done")
        self.assertEqual(value(after, "dropgate_files_total", **done) -
                         value(before, "dropgate_files_total", **done), 1)
        req = dict(target="default", outcome="done")
        self.assertEqual(value(after, "dropgate_commerce_requests_total", **req) -
                         value(before, "dropgate_commerce_requests_total", **req), 1)
        self.assertEqual(value(after, "dropgate_commerce_request_duration_seconds_count", target="default"), 1)
        self.assertEqual(value(after, "dropgate_batches_total", target="default", state="done"), 1)
        self.assertGreater(value(after, "dropgate_last_success_timestamp_seconds", partner="acme", feed="stock"),
                           time.time() - 60)
        self.assertGreater(value(after, "dropgate_disk_free_bytes", volume="state", path=app.state), 0)
        self.assertEqual(value(after, "dropgate_queue_files", state="received"), 0)
        status, _ = get("http://127.0.0.1:%d/nothing" % self.mport)
        self.assertEqual(status, 404)

    @unittest.skipIf(td.PG, td.SQLITE_ONLY)
    def test_healthz_turns_503_while_the_ledger_cannot_be_written(self):
        app = self.appliance()
        app.start()
        url = "http://127.0.0.1:%d/healthz" % self.mport
        td.wait_for(lambda: get(url)[0] == 200, 10, "/healthz 200")
        db = os.path.join(app.state, "ledger.db")
        os.chmod(db, 0o440)
        try:
            status, body = get(url)
            self.assertEqual(status, 503)
            self.assertIn("cannot be written", body)
        finally:
            os.chmod(db, 0o640)
        self.assertEqual(get(url), (200, "ok\n"))

    def test_a_late_feed_alerts_once_then_recovers_and_failed_files_alert(self):
        app = self.appliance()
        out = alert_script(app.root)
        app.write_config("expect = every 3s\n")  # the last section: [feed okfile]
        with open(app.conf) as f:
            text = f.read()
        with open(app.conf, "w") as f:
            f.write(text.replace("[dropgate]\n", "[dropgate]\nalert = %s\n" % os.path.join(app.root, "alert.sh")))
        app.start()
        late = td.wait_for(lambda: [c for c in calls(out) if c["DROPGATE_EVENT"] == "late"], 15, "the late alert")
        self.assertEqual(late[0]["DROPGATE_PARTNER"], "acme")
        self.assertEqual(late[0]["DROPGATE_FEED"], "okfile")
        self.assertRegex(late[0]["DROPGATE_SINCE"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertIn("late since", late[0]["DROPGATE_MESSAGE"])
        status = app.run(["status"]).stdout
        self.assertRegex(status, r"acme/okfile late since \d")
        metrics = self.metrics()
        self.assertEqual(value(metrics, "dropgate_feed_late", partner="acme", feed="okfile"), 1)
        time.sleep(3.5)  # late for longer: still told once
        self.assertEqual([c["DROPGATE_EVENT"] for c in calls(out)], ["late"])
        app.drop("ok1.csv", b"source_code,sku,quantity,status\ndefault,SKU-1,5,1\n", feed="okfile")
        app.drop("ok1.csv.ok", b"", feed="okfile")
        td.wait_for(lambda: len(calls(out)) >= 2, 15, "the recovery alert")
        c = calls(out)
        self.assertEqual([x["DROPGATE_EVENT"] for x in c[:2]], ["late", "recovered"])
        self.assertEqual(c[1]["DROPGATE_FEED"], "okfile")
        self.assertEqual(c[1]["DROPGATE_SINCE"], late[0]["DROPGATE_SINCE"])
        # a file that fails whole is told too, once
        app.drop("bad.csv", b"nothing;useful\n1;2\n", feed="commerce")
        failed = td.wait_for(lambda: [x for x in calls(out) if x["DROPGATE_EVENT"] == "failed"], 20,
                             "the failed alert")
        self.assertEqual(failed[0]["DROPGATE_FILE"], "bad.csv")
        self.assertEqual(failed[0]["DROPGATE_FEED"], "commerce")
        self.assertTrue(failed[0]["DROPGATE_FILE_ID"].isdigit())
        time.sleep(2)
        self.assertEqual(len([x for x in calls(out) if x["DROPGATE_EVENT"] == "failed"]), 1)

    def test_status_json_shows_rising_progress_of_a_file_in_flight(self):
        app = self.appliance(batch_rows=5000)
        app.emu_call("config", {"delay": 0.5})
        app.start()
        app.drop("big.csv", td.stock_file(50000))
        seen = []
        end = time.time() + 60
        while time.time() < end:
            p = app.run(["status", "--json"])
            doc = json.loads(p.stdout)
            self.assertEqual(doc["schema"], 1)
            for f in doc["in_flight"]:
                if f["file"] == "big.csv" and f["progress"]["phase"] == "submitting":
                    seen.append(f["progress"])
            if app.finished(1):
                break
            time.sleep(0.3)
        self.assertTrue(app.finished(1))
        done = [s["rows_done"] for s in seen]
        self.assertGreaterEqual(len(set(done)), 3, "progress seen: %s" % seen)
        self.assertEqual(done, sorted(done), "progress went back: %s" % done)
        self.assertEqual(seen[-1]["rows_total"], 50000)
        self.assertEqual(seen[-1]["targets"][0]["target"], "default")
        self.assertEqual(seen[-1]["targets"][0]["batches"], 10)
        self.assertTrue(any(s["eta_seconds"] is not None and s["rows_per_second"] > 0 for s in seen))
        text = app.run(["status"]).stdout
        self.assertIn("big.csv", text)

    def test_a_file_deferred_longer_than_alert_deferred_is_told_once(self):
        app = self.appliance()
        out = alert_script(app.root)
        with open(app.conf) as f:
            text = f.read()
        with open(app.conf, "w") as f:
            f.write(text.replace("[dropgate]\n", "[dropgate]\nalert = %s\nalert_deferred = 2s\n"
                                 % os.path.join(app.root, "alert.sh")))
        app.stop_emulator()  # Commerce unreachable: the file is deferred
        app.start()
        app.drop("d1.csv", td.stock_file(3))
        told = td.wait_for(lambda: [c for c in calls(out) if c["DROPGATE_EVENT"] == "deferred"], 30,
                           "the deferred alert")
        self.assertEqual(told[0]["DROPGATE_FILE"], "d1.csv")
        self.assertIn("deferred", told[0]["DROPGATE_MESSAGE"])
        time.sleep(3)
        self.assertEqual(len([c for c in calls(out) if c["DROPGATE_EVENT"] == "deferred"]), 1)
        text = app.run(["status"]).stdout
        self.assertIn("d1.csv", text)

    def test_status_watch_redraws_every_second_in_plain_blocks_off_a_terminal(self):
        app = self.appliance()
        app.start()
        p = subprocess.run(["timeout", "-s", "INT", "3.5", td.DROPGATE, "-c", app.conf, "status", "--watch"],
                           capture_output=True, text=True)
        self.assertGreaterEqual(p.stdout.count("dropgate: running as pid"), 3, p.stdout)
        self.assertNotIn("\033", p.stdout)

    def test_sd_notify_ready_status_watchdog_reloading_stopping(self):
        app = self.appliance()
        path = os.path.join(app.root, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        os.chmod(path, 0o777)
        sock.settimeout(10)
        got = []

        def until(word):
            end = time.time() + 15
            while time.time() < end:
                msg = sock.recv(4096).decode()
                got.append(msg)
                if word in msg.split("\n"):
                    return msg
            raise AssertionError("no %s in %s" % (word, got))
        try:
            env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="1000000")
            app.start(env=env)
            ready = until("READY=1")
            self.assertRegex(ready, r"STATUS=\d+ files? in flight")
            until("WATCHDOG=1")
            until("WATCHDOG=1")
            app.daemon.send_signal(signal.SIGHUP)
            until("RELOADING=1")
            until("READY=1")
            app.stop()
            until("STOPPING=1")
        finally:
            sock.close()


class ProgressBarTest(unittest.TestCase):
    """check on a terminal: a bar on stderr for a file over 4 MB; none with --quiet, none off a
    terminal, none for a small file."""

    def run_check(self, path, args=(), tty=True, command="check", port=1):
        import pty
        conf = os.path.join(self.d, "dropgate.conf")
        with open(conf, "w") as f:
            f.write("[dropgate]\n[commerce]\nurl = http://127.0.0.1:%d\ntoken_file = %s\n"
                    "[feed stock]\ndir = inbound/stock\ndelimiter = \";\"\nencoding = windows-1252\n"
                    "entity = stock_sources\nmap.source_code = \"default\"\nmap.sku = ItemNo | trim | upper\n"
                    "map.quantity = QtyOnHand | number(\",\", \".\")\n"
                    "map.status = QtyOnHand | number(\",\", \".\") | instock\n" % (port, td.TOKEN))
        cmd = [td.DROPGATE, "-c", conf, command, "--feed", "stock", "--out", self.d] + list(args) + [path]
        if not tty:
            p = subprocess.run(cmd, capture_output=True)
            return p.returncode, p.stderr.decode()
        master, slave = pty.openpty()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        got = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            got += chunk
        os.close(master)
        return p.wait(), got.decode(errors="replace")

    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="dropgate-bar-")
        self.big = os.path.join(self.d, "big.csv")
        with open(self.big, "wb") as f:
            f.write(td.stock_file(120000))  # about 5 MB

    def tearDown(self):
        shutil.rmtree(self.d, ignore_errors=True)

    def test_a_bar_on_a_terminal_for_a_big_file_only(self):
        self.assertGreater(os.path.getsize(self.big), 4 * 1024 * 1024)
        rc, err = self.run_check(self.big)
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, r"\rbig\.csv \[[#.]{30}\] +\d+% \d+ rows \d+ rows/s")
        rc, err = self.run_check(self.big, ["--quiet"])
        self.assertEqual(rc, 0)
        self.assertNotIn("rows/s", err)
        rc, err = self.run_check(self.big, tty=False)
        self.assertEqual(rc, 0)
        self.assertNotIn("rows/s", err)
        small = os.path.join(self.d, "small.csv")
        with open(small, "wb") as f:
            f.write(td.stock_file(10))
        rc, err = self.run_check(small)
        self.assertEqual(rc, 0)
        self.assertNotIn("rows/s", err)

    def test_submit_draws_the_reading_then_the_sending(self):
        portfile = os.path.join(self.d, "emu.port")
        emu = subprocess.Popen([sys.executable, td.EMULATOR, "--port", "0", "--port-file", portfile,
                                "--token-file", td.TOKEN], stderr=subprocess.DEVNULL)
        try:
            td.wait_for(lambda: os.path.exists(portfile) and td.slurp(portfile), 10, "the emulator")
            rc, err = self.run_check(self.big, command="submit", port=int(td.slurp(portfile)))
        finally:
            emu.kill()
            emu.wait()
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, r"\rbig\.csv \[[#.]{30}\]")
        self.assertRegex(err, r"\rsending \[#{30}\] 100% 120000 rows")


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("unshare"), "needs root: a mount namespace")
class SyslogTest(unittest.TestCase):
    def test_log_syslog_sends_the_key_value_lines_to_dev_log(self):
        """`log = info syslog`: the lines go to syslog(3), which writes to /dev/log; here that is
        our socket, bound over /dev/log in a mount namespace of the command's own."""
        with tempfile.TemporaryDirectory() as d:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(os.path.join(d, "log"))
            sock.settimeout(10)
            conf = os.path.join(d, "dropgate.conf")
            with open(conf, "w") as f:
                f.write("[dropgate]\nlog = info syslog\n[commerce]\nurl = http://127.0.0.1:1\n"
                        "token_file = %s\n[feed stock]\ndir = inbound/stock\nentity = stock_sources\n"
                        % td.TOKEN)
            data = os.path.join(d, "s.csv")
            with open(data, "w") as f:
                f.write("source_code,sku,quantity,status\ndefault,A-1,3,1\n")
            # /dev/log need not exist: a tmpfs /dev of the namespace's own holds it and /dev/null
            script = ("set -e; mkdir %(d)s/dev; mount --bind /dev %(d)s/dev; mount -t tmpfs none /dev; "
                      "touch /dev/null /dev/log; mount --bind %(d)s/dev/null /dev/null; "
                      "mount --bind %(d)s/log /dev/log; exec \"$@\"" % {"d": d})
            p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
                                td.DROPGATE, "-c", conf, "check", "--feed", "stock", "--out", d, data],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertNotIn("event=", p.stderr, "a log line went to stderr")
            lines = []
            try:
                while True:
                    lines.append(sock.recv(8192).decode())
                    if "event=file_finished" in lines[-1]:
                        break
            finally:
                sock.close()
            line = [l for l in lines if "event=file_finished" in l][0]
            self.assertRegex(line, r"^<30>")  # facility daemon (3), priority info (6)
            self.assertRegex(line, r"dropgate\[\d+\]: ts=\S+ level=info event=file_finished .*rows=1 ")


if __name__ == "__main__":
    unittest.main(verbosity=2)
