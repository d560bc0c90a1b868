#!/usr/bin/env python3
"""The parser child's sandbox and configuration, with the daemon running as an
unprivileged throwaway user (as the shipped unit runs it as `dropgate`), never
as root: root's capabilities would hide what the sandbox has to hold.

- the child, probed from inside its sandbox (DROPGATE_SANDBOX_PROBE), cannot
  read the token or the configuration, open a socket, connect to 127.0.0.1,
  write beside its out dir or exec; it still reads its input and writes its out
  dir;
- cp1252 CSV, an XML file declaring windows-1252 against an XSD that includes
  another, a lookup() table and a zip archive are all imported with the
  sandbox on;
- the child parses with the running configuration: after a refused reload,
  and after an edit on disk without SIGHUP.

Needs root to create the user (useradd) and to drop to it (setpriv).
Usage: test_sandbox.py BUILD SRC
"""
import io
import json
import os
import pwd
import re
import shutil
import signal
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
EMULATOR = os.path.join(SRC, "tests", "emulator", "commerce_emulator.py")
USER = "dgsandbox%d" % os.getpid()

CONFIG = """
[dropgate]
spool = {root}/spool
state = {root}/state
workers = 2
settle = 1s
rescan = 2s
retry_deferred = 1s
retry_deferred_max = 2s
min_free = 1M

[commerce]
url = http://127.0.0.1:{port}
token_file = {root}/token
timeout = 5
retries = 1
backoff = 50ms
backoff_max = 200ms

[feed stock]
dir = inbound/stock
match = *.csv *.zip
members = *.csv
delimiter = ";"
encoding = windows-1252
entity = stock_sources
validation = skip-errors
allowed_errors = 100
map.source_code = Warehouse | lookup(sources.csv)
map.sku = ItemNo | trim | upper
map.quantity = QtyOnHand | number(",", ".")
map.status = QtyOnHand | number(",", ".") | instock

[feed products]
dir = inbound/products
match = *.xml
format = xml
record = /Products/Product
schema = xsd/products.xsd
entity = catalog_product
map.sku = @sku | trim | upper | required
map.name = Name[@lang='en'] | trim
"""

# The schema includes a second file: what it includes must be read before the sandbox closes.
PRODUCTS_XSD = """<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:include schemaLocation="product-type.xsd"/>
  <xs:element name="Products">
    <xs:complexType><xs:sequence>
      <xs:element name="Product" type="ProductType" maxOccurs="unbounded"/>
    </xs:sequence></xs:complexType>
  </xs:element>
</xs:schema>
"""
PRODUCT_TYPE_XSD = """<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:complexType name="ProductType">
    <xs:sequence>
      <xs:element name="Name" maxOccurs="unbounded">
        <xs:complexType><xs:simpleContent><xs:extension base="xs:string">
          <xs:attribute name="lang" type="xs:string"/>
        </xs:extension></xs:simpleContent></xs:complexType>
      </xs:element>
    </xs:sequence>
    <xs:attribute name="sku" type="xs:string" use="required"/>
  </xs:complexType>
</xs:schema>
"""


def ledger_uri(path):
    """The ledger as an SQLite URI that never creates it: a test that looks before the daemon
    made it must not leave a root-owned empty ledger.db the daemon's user cannot write."""
    return "file:%s?mode=rw" % urllib.parse.quote(path)


def slurp(path):
    with open(path, errors="replace") as f:
        return f.read()


def wait_for(cond, timeout=30.0, what="the condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def stock_file(rows, start=0, warehouse="LAGER-01"):
    lines = ["ItemNo;Bezeichnung;QtyOnHand;Unit;Warehouse"]
    for i in range(start, start + rows):
        lines.append("ab-%07d;D\xfcbel \u20ac;%d,000;ST;%s" % (i, i % 50 + 1, warehouse))
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def products_xml():
    return ('<?xml version="1.0" encoding="windows-1252"?>\n<Products>\n'
            '  <Product sku="p-1"><Name lang="en">D\xfcbel \u20ac 6</Name></Product>\n'
            '  <Product sku="p-2"><Name lang="en">Schraube</Name></Product>\n'
            '</Products>\n').encode("cp1252")


class Box:
    """The emulator (as root) and the daemon as USER, on a tree USER owns."""

    def __init__(self):
        pw = pwd.getpwnam(USER)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.root = tempfile.mkdtemp(prefix="dropgate-sandbox-")
        os.chmod(self.root, 0o755)
        self.log = os.path.join(self.root, "daemon.log")
        self.daemon = None
        self.token = os.path.join(self.root, "token")
        with open(self.token, "w") as f:
            f.write("sandbox-test-token-0123456789\n")
        os.chmod(self.token, 0o600)
        os.chown(self.token, self.uid, self.gid)  # the daemon's secret, readable by it alone
        with open(os.path.join(self.root, "sources.csv"), "w") as f:
            f.write("LAGER-01,default\nLAGER-02,east\n")
        os.mkdir(os.path.join(self.root, "xsd"))
        for name, text in (("products.xsd", PRODUCTS_XSD), ("product-type.xsd", PRODUCT_TYPE_XSD)):
            with open(os.path.join(self.root, "xsd", name), "w") as f:
                f.write(text)
        for d in ("spool/acme/inbound/stock", "spool/acme/inbound/products",
                  "spool/acme/outbound/reports", "state"):
            os.makedirs(os.path.join(self.root, d))
        for top, dirs, files in os.walk(os.path.join(self.root, "spool")):
            os.chown(top, self.uid, self.gid)
        os.chown(os.path.join(self.root, "state"), self.uid, self.gid)
        self.start_emulator()
        self.conf = os.path.join(self.root, "dropgate.conf")
        self.write_config(CONFIG.format(root=self.root, port=self.port))

    def write_config(self, text):
        tmp = self.conf + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.conf)

    def start_emulator(self):
        portfile = os.path.join(self.root, "emu.port")
        # the sources the lookup table names (sources.csv, and west once the test edits it)
        sources = [a for code in ("default", "east", "west") for a in ("--source", code)]
        self.emu = subprocess.Popen([sys.executable, EMULATOR, "--port", "0", "--port-file", portfile,
                                     "--token-file", self.token] + sources, stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(portfile) and slurp(portfile).strip(), 10, "the emulator")
        self.port = int(slurp(portfile))

    def emu_call(self, what):
        with urllib.request.urlopen("http://127.0.0.1:%d/__emulator/%s" % (self.port, what)) as r:
            return json.load(r)

    def start(self, env=None, wrap=()):
        self.logf = open(self.log, "a")
        self.daemon = subprocess.Popen(
            ["setpriv", "--reuid=%d" % self.uid, "--regid=%d" % self.gid, "--clear-groups", "--"] +
            list(wrap) + [DROPGATE, "-c", self.conf, "run"],
            stderr=self.logf, cwd="/", env=dict(os.environ, **(env or {})))
        wait_for(lambda: "event=started" in slurp(self.log), 10, "the daemon to start")
        with open("/proc/%d/status" % self.daemon.pid) as f:
            uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)", f.read(), re.M)
        assert uids and uids.group(1) == uids.group(2) == str(self.uid), "the daemon is not %s" % USER

    def stop(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            self.daemon.wait(timeout=20)
        if self.daemon:
            self.logf.close()
        self.daemon = None

    def close(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.kill()
            self.daemon.wait()
        self.stop()
        self.emu.kill()
        self.emu.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def drop(self, name, data, feed="stock"):
        inbox = os.path.join(self.root, "spool", "acme", "inbound", feed)
        tmp = os.path.join(inbox, "." + name + ".part")
        with open(tmp, "wb") as f:
            f.write(data)
        os.chown(tmp, self.uid, self.gid)
        os.rename(tmp, os.path.join(inbox, name))

    def files(self):
        db = sqlite3.connect(ledger_uri(os.path.join(self.root, "state", "ledger.db")), uri=True, timeout=10)
        try:
            return db.execute("SELECT id, name, state, message FROM files ORDER BY id").fetchall()
        finally:
            db.close()

    def finished(self, n):
        done = [f for f in self.files() if f[2] in ("done", "partial", "failed", "refused")]
        return len(done) >= n

    def states(self):
        return {f[1]: (f[2], f[3]) for f in self.files()}


@unittest.skipUnless(os.geteuid() == 0, "needs root to create a throwaway user and drop to it")
class SandboxTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                       check=True)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["userdel", USER], check=False)

    def setUp(self):
        self.box = Box()

    def tearDown(self):
        self.box.close()

    def probes(self):
        """{attempt: [(target, result, error)]} from the child's probe lines."""
        seen = {}
        for line in slurp(self.box.log).splitlines():
            if "event=sandbox_probe" not in line:
                continue
            kv = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', line))
            kv = {k: v.strip('"') for k, v in kv.items()}
            seen.setdefault(kv["attempt"], []).append((kv["target"], kv["result"], kv.get("error", "")))
        return seen

    def test_parser_child_cannot_read_the_token_connect_write_outside_or_exec(self):
        b = self.box
        b.start({"DROPGATE_SANDBOX_PROBE": str(b.port)})
        b.drop("stock.csv", stock_file(5))
        wait_for(lambda: b.finished(1), what="the file")
        seen = self.probes()
        for attempt in ("read_secret", "read_config", "read_ledger", "read_daemon_memory", "connect",
                        "socket_unix", "write_outside", "exec"):
            self.assertIn(attempt, seen, "the probe did not try %s" % attempt)
            for target, result, error in seen[attempt]:
                self.assertEqual(result, "denied", "%s %s was allowed" % (attempt, target))
        self.assertEqual(seen["read_secret"][0][0], b.token)
        self.assertEqual(seen["connect"][0][0], "127.0.0.1:%d" % b.port)
        # the controls: the probe ran inside a parser that still works
        self.assertEqual([r for _, r, _ in seen["read_input"] + seen["write_out"]], ["allowed", "allowed"])
        self.assertEqual(len(seen["write_outside"]), 3)  # beside its out dir, in the state, in the spool
        for where in ("state/work/1", "state", "spool"):
            self.assertFalse(os.path.exists(os.path.join(b.root, where, "sandbox-probe-escape")))
        self.assertEqual(b.states()["stock.csv"][0], "done")
        self.assertEqual(len(b.emu_call("store")["stock_sources"]), 5)
        # which layers held it, said once at the start
        layers = [l for l in slurp(b.log).splitlines() if "event=parser_sandbox" in l]
        self.assertEqual(len(layers), 1, layers)
        self.assertIn("landlock", layers[0])
        self.assertIn("seccomp", layers[0])

    def test_a_layer_the_system_refuses_is_named_once_and_the_others_still_hold(self):
        b = self.box
        # in a user namespace with no uid map, the kernel refuses a nested one: no netns layer
        b.start({"DROPGATE_SANDBOX_PROBE": str(b.port)}, wrap=["unshare", "--user", "--"])
        b.drop("stock.csv", stock_file(3))
        wait_for(lambda: b.finished(1), what="the file")
        layers = [l for l in slurp(b.log).splitlines() if "event=parser_sandbox" in l]
        self.assertEqual(len(layers), 1, layers)
        self.assertIn("level=warn", layers[0])
        self.assertIn('layers="no_new_privs landlock seccomp"', layers[0])
        self.assertIn('missing="netns (', layers[0])
        seen = self.probes()
        for attempt in ("read_secret", "read_daemon_memory", "connect", "write_outside", "exec"):
            self.assertEqual({r for _, r, _ in seen[attempt]}, {"denied"}, attempt)
        self.assertEqual(b.states()["stock.csv"][0], "done")

    def test_every_kind_of_feed_is_parsed_inside_the_sandbox(self):
        b = self.box
        b.start()
        zbuf = io.BytesIO()
        with zipfile.ZipFile(zbuf, "w") as z:
            z.writestr("part1.csv", stock_file(3, 100, "LAGER-02"))
            z.writestr("part2.csv", stock_file(3, 103, "LAGER-02"))
        b.drop("stock.csv", stock_file(4))
        b.drop("parts.zip", zbuf.getvalue())
        b.drop("products.xml", products_xml(), "products")
        b.drop("unknown-warehouse.csv", stock_file(2, 200, "LAGER-99"))
        wait_for(lambda: b.finished(4), 60, "the four files")
        states = b.states()
        self.assertEqual(states["stock.csv"][0], "done", states)
        self.assertEqual(states["parts.zip"][0], "done", states)
        self.assertEqual(states["products.xml"][0], "done", states)
        # the lookup table was read: an unknown key is a row error, not a parser failure
        self.assertIn(states["unknown-warehouse.csv"][0], ("partial", "failed"), states)
        store = b.emu_call("store")
        stock = {r["sku"]: r for r in store["stock_sources"]}
        self.assertEqual(stock["AB-0000000"]["source_code"], "default")
        self.assertEqual(stock["AB-0000101"]["source_code"], "east")
        self.assertEqual(len(stock), 10)
        names = {r["sku"]: r["name"] for r in store["catalog_product"]}
        self.assertEqual(names["P-1"], "D\xfcbel \u20ac 6")  # windows-1252 decoded by iconv's module

    def test_a_refused_reload_keeps_parsing_with_the_running_configuration(self):
        b = self.box
        b.start()
        good = slurp(b.conf)
        b.write_config(good + "\nthis line is not a key\n")
        b.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "event=reload_refused" in slurp(b.log), 10, "the refused reload")
        b.drop("after-refused-reload.csv", stock_file(3))
        wait_for(lambda: b.finished(1), what="the file")
        state, message = b.states()["after-refused-reload.csv"]
        self.assertEqual(state, "done", message)
        self.assertEqual(len(b.emu_call("store")["stock_sources"]), 3)

    def test_an_edit_on_disk_without_sighup_does_not_apply(self):
        b = self.box
        b.start()
        good = slurp(b.conf)
        edited = good.replace("map.sku = ItemNo | trim | upper", "map.sku = ItemNo | trim")
        self.assertNotEqual(good, edited)
        b.write_config(edited)
        with open(os.path.join(b.root, "sources.csv"), "w") as f:
            f.write("LAGER-01,west\n")  # the lookup table too
        b.drop("after-edit.csv", stock_file(2))
        wait_for(lambda: b.finished(1), what="the file")
        state, message = b.states()["after-edit.csv"]
        self.assertEqual(state, "done", message)
        # the running `upper` and table, not the edits
        self.assertEqual(sorted((r["sku"], r["source_code"]) for r in b.emu_call("store")["stock_sources"]),
                         [("AB-0000000", "default"), ("AB-0000001", "default")])
        b.daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "event=reloaded" in slurp(b.log), 10, "the reload")
        b.drop("after-reload.csv", stock_file(1, 7))
        wait_for(lambda: b.finished(2), what="the second file")
        self.assertIn(("ab-0000007", "west"),
                      [(r["sku"], r["source_code"]) for r in b.emu_call("store")["stock_sources"]])


class UnitFileTest(unittest.TestCase):
    def test_the_unit_lets_the_parser_child_make_its_namespaces_and_no_others(self):
        with open(os.path.join(SRC, "data", "dropgate.service")) as f:
            lines = [l.strip() for l in f if l.startswith("RestrictNamespaces=")]
        self.assertEqual(len(lines), 1, lines)
        # the child unshares CLONE_NEWUSER | CLONE_NEWNET: "net" alone refuses it under systemd
        self.assertEqual(sorted(lines[0].split("=", 1)[1].split()), ["net", "user"])
        if shutil.which("systemd-analyze"):
            with tempfile.TemporaryDirectory() as d:
                unit = os.path.join(d, "dropgate.service")
                with open(os.path.join(SRC, "data", "dropgate.service")) as f:
                    text = f.read().replace("/usr/local/bin/dropgate", DROPGATE)
                with open(unit, "w") as f:
                    f.write(text)
                p = subprocess.run(["systemd-analyze", "verify", "--man=no", unit], capture_output=True,
                                   text=True)
                self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))


if __name__ == "__main__":
    unittest.main(verbosity=2)
