#!/usr/bin/env python3
"""A sequence's files (issue 12): stock that stays right whatever order the
files arrive in, and only what changed sent to Commerce.

The daemon as test_daemon.py runs it (its user, UMask, process group, the
emulator over HTTP, kill -9); the ERP drops a full snapshot each night and
deltas between, all in inbound/stock, one sequence `stock`.

Usage: test_sequence.py BUILD SRC
"""
import glob
import itertools
import json
import os
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_daemon as td  # noqa: E402  (takes BUILD and SRC from argv)

FEEDS = """
[feed stock_full]
dir = inbound/stock
match = stock_full_*.csv
delimiter = ";"
entity = stock_sources
mode = full
sequence = stock
stamp = name:%Y%m%dT%H%M
diff = yes
absent.quantity = 0
absent.status = 0
max_absent = {max_absent}
validation = skip-errors
allowed_errors = 100
targets = {targets}
map.source_code = Source | trim | default("default")
map.sku = ItemNo | trim | upper
map.quantity = Qty | number(",", ".")
map.status = Qty | number(",", ".") | instock

[feed stock_delta]
dir = inbound/stock
match = stock_delta_*.csv
delimiter = ";"
entity = stock_sources
mode = delta
sequence = stock
stamp = name:%Y%m%dT%H%M
diff = yes
validation = skip-errors
allowed_errors = 100
targets = {targets}
map.source_code = Source | trim | default("default")
map.sku = ItemNo | trim | upper
map.quantity = Qty | number(",", ".")
map.status = Qty | number(",", ".") | instock
"""

OURS = "feed IN ('stock_full', 'stock_delta')"  # test_daemon's own [feed stock] reads the dir too
ENDED = OURS + " AND state IN ('done','partial','failed','duplicate','stale','refused')"


def stock_csv(rows):
    """rows: {sku: qty} or [(sku, qty, source)]"""
    items = rows.items() if isinstance(rows, dict) else [(s, q) for s, q, *_ in rows]
    sources = {} if isinstance(rows, dict) else {r[0]: r[2] for r in rows if len(r) > 2}
    lines = ["ItemNo;Qty;Source"]
    for sku, qty in items:
        lines.append("%s;%s;%s" % (sku.lower(), str(qty).replace(".", ","), sources.get(sku, "")))
    return ("\r\n".join(lines) + "\r\n").encode()


class Sequence:
    def __init__(self, batch_rows=5000, targets="default", sources=("default",), extra="",
                 max_absent="5%"):
        self.max_absent = max_absent
        self.metrics = td.free_port()
        self.app = td.Appliance(batch_rows=batch_rows, sources=sources,
                                dropgate_keys="metrics = 127.0.0.1:%d\n" % self.metrics)
        self.targets = targets
        self.extra = extra
        self.configure()

    def configure(self):
        self.app.write_config(self.extra + FEEDS.format(targets=self.targets, max_absent=self.max_absent))

    def drop(self, name, data):
        self.app.drop(name, data, feed="stock")

    def wait_ended(self, n, timeout=60):
        td.wait_for(lambda: len(self.app.files(ENDED)) >= n, timeout, "%d files to end" % n)

    def final_stock(self, port=None):
        """(source, sku) -> (quantity, status) after applying Commerce's imports in order;
        a key Commerce never had counts as (0, 0): no stock either way."""
        store = self.app.emu_call("store") if port is None else emu_get(port, "store")
        out = {}
        for r in store.get("stock_sources", []):
            out[(r["source_code"], r["sku"])] = (float(r["quantity"]), int(r["status"]))
        return {k: v for k, v in out.items() if v != (0.0, 0)}

    def keystore(self, target="default"):
        rows = self.app.ledger("SELECT k.key, k.header, k.row FROM keys_now k JOIN key_scopes s ON "
                               "s.id = k.scope WHERE s.target = ?", (target,))
        out = {}
        for key, header, row in rows:
            rec = dict(zip(header.split(","), row.split(",")))
            out[tuple(key.split(","))] = (float(rec["quantity"]), int(rec["status"]))
        return {k: v for k, v in out.items() if v != (0.0, 0)}

    def report(self, name):
        """Feeds sharing inbound/stock report under outbound/reports/FEED/."""
        feed = "stock_full" if name.startswith("stock_full") else "stock_delta"
        path = os.path.join(self.app.root, "spool", "acme", "outbound", "reports", feed,
                            name + ".result.json")
        td.wait_for(lambda: os.path.exists(path), 5, "the report " + path)
        with open(path) as f:
            return json.load(f)

    def import_rows(self):
        return sum(j.get("rows", 0) or 0 for j in self.app.imports())

    def close(self):
        self.app.close()


def emu_get(port, what):
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/__emulator/%s" % (port, what)) as r:
        return json.load(r)


def skus(n, start=0):
    return ["SKU-%04d" % i for i in range(start, start + n)]


@unittest.skipUnless(os.geteuid() == 0, "needs root: sshd, a Unix user, sysctl, tmpfs")
class SequenceTest(unittest.TestCase):
    def setUp(self):
        self.seq = Sequence()
        self.app = self.seq.app

    def tearDown(self):
        self.seq.close()

    def test_any_arrival_order_ends_in_the_state_of_time_order(self):
        # arriving first, full2 finds only the deltas' few keys in the store: its one lacking
        # key is a third of them, past any sensible max_absent (tested on its own below)
        self.seq.max_absent = "100%"
        self.seq.configure()
        base = {s: (i % 7) + 1 for i, s in enumerate(skus(40))}
        full1 = dict(base)
        delta1 = {"SKU-0001": 50, "SKU-0002": 0, "SKU-0100": 9}  # SKU-0100: a key full2 lacks
        delta2 = {"SKU-0001": 60, "SKU-0003": 33}
        full2 = {s: q + 10 for s, q in base.items() if s != "SKU-0039"}  # one of 41 lacks: 2.4 %
        files = [("stock_full_20261127T0200.csv", stock_csv(full1)),
                 ("stock_delta_20261127T1015.csv", stock_csv(delta1)),
                 ("stock_delta_20261127T1630.csv", stock_csv(delta2)),
                 ("stock_full_20261128T0200.csv", stock_csv(full2))]
        expected = None
        for order in itertools.permutations(range(4)):
            self.reset()
            self.app.start()
            for n, i in enumerate(order, 1):
                self.seq.drop(*files[i])
                self.seq.wait_ended(n)
            self.app.stop()
            got = self.seq.final_stock()
            if expected is None:  # (0, 1, 2, 3) comes first: time order
                expected = got
                self.assertEqual(got[("default", "SKU-0001")], (11.0 + 1, 1))
                self.assertNotIn(("default", "SKU-0039"), got)
                self.assertNotIn(("default", "SKU-0100"), got)
            self.assertEqual(got, expected, "arrival order %s" % (order,))
            self.assertEqual(self.seq.keystore(), got, "store vs Commerce, order %s" % (order,))
            states = [r[2] for r in self.app.files(OURS)]
            self.assertNotIn("failed", states, "order %s: %s" % (order, self.app.files()))

    def metric_rows(self, feed):
        """dropgate_rows_total{partner="acme",feed=FEED,outcome=...} from GET /metrics"""
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.seq.metrics) as r:
            text = r.read().decode()
        out = {}
        for m in re.finditer(r'^dropgate_rows_total\{([^}]*)\} (\d+)$', text, re.M):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            if labels.get("feed") == feed:
                out[labels["outcome"]] = int(m.group(2))
        return out

    def reset(self):
        self.app.stop()
        if self.app.pg:  # the ledger emptied: the daemon makes its schema again
            self.app.ledger("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        for sub in ("ledger.db", "ledger.db-wal", "ledger.db-shm"):
            p = os.path.join(self.app.state, sub)
            if os.path.exists(p):
                os.unlink(p)
        for sub in ("work", "archive", "failed"):
            td.shutil.rmtree(os.path.join(self.app.state, sub), ignore_errors=True)
        self.app.emu_call("reset", {})

    def full(self, name, rows):
        self.seq.drop(name, stock_csv(rows))

    def test_an_identical_snapshot_sends_nothing_and_a_missing_3_percent_is_zeroed(self):
        rows = {s: 5 for s in skus(100)}
        self.app.start()
        self.full("stock_full_20261201T0200.csv", rows)
        self.seq.wait_ended(1)
        sent = self.seq.import_rows()
        self.assertEqual(sent, 100)
        # the same stock the next night, rows in another order: nothing goes
        self.full("stock_full_20261202T0200.csv", dict(reversed(list(rows.items()))))
        self.seq.wait_ended(2)
        self.assertEqual(self.seq.import_rows(), sent)
        r = self.seq.report("stock_full_20261202T0200.csv")
        self.assertEqual((r["state"], r["rows_sent"], r["rows_unchanged"]), ("done", 0, 100))
        # three of the hundred missing: exactly those three set to 0
        lacking = {"SKU-0007", "SKU-0042", "SKU-0099"}
        self.full("stock_full_20261203T0200.csv", {s: q for s, q in rows.items() if s not in lacking})
        self.seq.wait_ended(3)
        r = self.seq.report("stock_full_20261203T0200.csv")
        self.assertEqual((r["state"], r["rows_sent"], r["rows_absent"]), ("done", 0, 3))
        self.assertEqual(r["targets"]["default"]["rows_absent"], 3)
        stock = self.seq.final_stock()
        self.assertEqual(len(stock), 97)
        self.assertFalse(lacking & {k[1] for k in stock})
        self.assertEqual(self.seq.import_rows(), sent + 3)
        self.assertEqual(self.seq.keystore(), stock)
        out = self.app.run(["show", str(self.app.files(OURS + " AND name = 'stock_full_20261203T0200.csv'")[0][0])])
        self.assertIn("default: sent 0, unchanged 97, superseded 0, absent 3, rejected 0", out.stdout)
        # the metrics say what no target was sent: 100 unchanged, 3 zeroed of 97 + 3 sent
        rows = self.metric_rows("stock_full")
        self.assertEqual((rows["unchanged"], rows["sent"]), (100 + 97, 100 + 3))
        status = json.loads(self.app.run(["status", "--json"]).stdout)
        mine = [f for f in status["recent"] if f["file"] == "stock_full_20261203T0200.csv"
                and f["feed"] == "stock_full"]
        self.assertEqual((mine[0]["rows_absent"], mine[0]["targets"]["default"]["rows_unchanged"]), (3, 97))

    def test_a_snapshot_missing_40_percent_fails_unsent_and_force_applies_it(self):
        rows = {s: 5 for s in skus(100)}
        self.app.start()
        self.full("stock_full_20261201T0200.csv", rows)
        self.seq.wait_ended(1)
        sent = self.seq.import_rows()
        self.full("stock_full_20261202T0200.csv", dict(list(rows.items())[:60]))
        self.seq.wait_ended(2)
        fid, _, state, message, _ = self.app.files(OURS + " AND name = 'stock_full_20261202T0200.csv'")[0]
        self.assertEqual(state, "failed")
        self.assertIn("would set 40 % of the known keys (40 of 100)", message)
        self.assertIn("quantity = 0, status = 0", message)
        self.assertIn("40 %", " ".join(self.seq.report("stock_full_20261202T0200.csv")["messages"]))
        self.assertEqual(self.seq.import_rows(), sent, "nothing sent")
        self.app.run(["redrop", str(fid), "--force"])
        self.seq.wait_ended(3)
        self.assertEqual(self.app.files(OURS + " AND id > %d" % fid)[0][2], "done")
        self.assertEqual(len(self.seq.final_stock()), 60)
        self.assertEqual(self.seq.import_rows(), sent + 40)

    def test_a_name_without_the_stamp_fails_quoting_the_pattern(self):
        self.app.start()
        self.full("stock_full_latest.csv", {"SKU-1": 1})
        self.seq.wait_ended(1)
        state, message = self.app.files(OURS)[0][2:4]
        self.assertEqual(state, "failed")
        self.assertIn("'%Y%m%dT%H%M'", message)


@unittest.skipUnless(os.geteuid() == 0, "needs root: sshd, a Unix user, sysctl, tmpfs")
class SequenceCommerceTest(unittest.TestCase):
    def test_rows_commerce_refused_are_sent_again_the_next_night(self):
        seq = Sequence(sources=("default",))
        self.addCleanup(seq.close)
        app = seq.app
        rows = [(s, 4, "default") for s in skus(20)] + [("SKU-E1", 3, "east"), ("SKU-E2", 2, "east")]
        app.start()
        seq.drop("stock_full_20261201T0200.csv", stock_csv(rows))
        seq.wait_ended(1)
        r = seq.report("stock_full_20261201T0200.csv")
        self.assertEqual((r["state"], r["rows_rejected"]), ("partial", 2))
        app.emu_call("config", {"sources": ["default", "east"]})  # the source exists now
        seq.drop("stock_full_20261202T0200.csv", stock_csv(rows[::-1]))  # same stock, other bytes
        seq.wait_ended(2)
        r = seq.report("stock_full_20261202T0200.csv")
        self.assertEqual((r["state"], r["rows_sent"], r["rows_unchanged"]), ("done", 2, 20))
        self.assertEqual(seq.final_stock()[("east", "SKU-E1")], (3.0, 1))
        self.assertEqual(seq.keystore(), seq.final_stock())

    def test_kill9_mid_snapshot_then_the_store_and_commerce_agree(self):
        seq = Sequence(batch_rows=20)
        self.addCleanup(seq.close)
        app = seq.app
        rows = {s: 1 for s in skus(400)}
        app.start()
        seq.drop("stock_full_20261201T0200.csv", stock_csv(rows))
        seq.wait_ended(1)
        app.emu_call("config", {"delay": 0.05})
        changed = {s: (2 if i % 2 else 1) for i, s in enumerate(skus(400))}
        seq.drop("stock_full_20261202T0200.csv", stock_csv(changed))
        td.wait_for(lambda: len(app.imports()) >= 20 + 4, 30, "some batches of the second file")
        app.stop(signal.SIGKILL, group=True)
        self.assertLess(len(app.imports()), 20 + 10, "killed before the end")
        app.emu_call("config", {"delay": 0})
        app.start()
        seq.wait_ended(2)
        self.assertEqual(app.files(OURS)[-1][2], "done")
        self.assertEqual(seq.final_stock(), {("default", s): (float(q), 1) for s, q in changed.items()})
        self.assertEqual(seq.keystore(), seq.final_stock())
        # at most the batch in flight went twice
        self.assertLessEqual(seq.import_rows(), 400 + 200 + 20)

    def test_a_crash_before_the_sift_is_saved_parses_the_file_again(self):
        """A sequence's parse is not made durable (the sift reads it straight after): a
        restart before sift.json exists parses the original again, never the old parse."""
        seq = Sequence(batch_rows=20)
        self.addCleanup(seq.close)
        app = seq.app
        rows = {s: 1 for s in skus(100)}
        app.start()
        seq.drop("stock_full_20261201T0200.csv", stock_csv(rows))
        seq.wait_ended(1)
        changed = {s: (7 if i % 4 == 0 else 1) for i, s in enumerate(skus(100))}
        app.stop()
        app.start(crash_at="sift-before-save")
        seq.drop("stock_full_20261202T0200.csv", stock_csv(changed))
        td.wait_for(lambda: app.daemon.poll() is not None, 30, "the daemon to die at the crash point")
        work = glob.glob(os.path.join(app.state, "work", "*", ".out", "sift.default"))
        self.assertEqual(len(work), 1, "the sequence's file, sifted")
        work = [os.path.dirname(work[0])]
        self.assertFalse(glob.glob(os.path.join(work[0], "*.batch-*.csv")), "the parse's batches went")
        self.assertFalse(os.path.exists(os.path.join(work[0], "sift.json")))
        def parses():
            return len(re.findall(r"event=file_finished file=\S*stock_full_20261202T0200\.csv feed=stock_full ",
                                  td.slurp(app.log)))
        parsed = parses()
        self.assertEqual(parsed, 1)
        app.start()
        seq.wait_ended(2)
        self.assertEqual(app.files(OURS)[-1][2], "done")
        self.assertEqual(parses(), 2, "parsed again")
        self.assertEqual(seq.report("stock_full_20261202T0200.csv")["rows_sent"], 25)
        self.assertEqual(seq.final_stock(), {("default", s): (float(q), 1) for s, q in changed.items()})
        self.assertEqual(seq.keystore(), seq.final_stock())
        # every ended file's work dir gone, its targets' sift dirs too (one level was removed)
        td.wait_for(lambda: len(app.files("state NOT IN ('done','failed')")) == 0 and
                    not os.listdir(os.path.join(app.state, "work")), 10, "the work dirs to go")

    def test_two_targets_one_down_the_other_completes(self):
        port = td.free_port()
        extra = ("\n[commerce us]\nurl = http://127.0.0.1:%d\ntoken_file = %s\ntimeout = 2\n"
                 "retries = 0\n" % (port, td.TOKEN))
        seq = Sequence(targets="default us", extra=extra)
        self.addCleanup(seq.close)
        app = seq.app
        app.start()
        seq.drop("stock_full_20261201T0200.csv", stock_csv({s: 3 for s in skus(30)}))
        td.wait_for(lambda: app.files(OURS + " AND state = 'deferred'"), 30, "the file deferred for us")
        self.assertEqual(len(seq.final_stock()), 30, "the default target has it all")
        self.assertEqual(seq.keystore("default"), seq.final_stock())
        self.assertEqual(seq.keystore("us"), {})
        emu = td.subprocess.Popen([sys.executable, td.EMULATOR, "--port", str(port), "--token-file",
                                   td.TOKEN], stderr=td.subprocess.DEVNULL)
        self.addCleanup(lambda: (emu.kill(), emu.wait()))
        seq.wait_ended(1)
        r = seq.report("stock_full_20261201T0200.csv")
        self.assertEqual(r["state"], "done")
        self.assertEqual(r["targets"]["us"]["rows_sent"], 30)
        self.assertEqual(r["targets"]["default"]["rows_sent"], 30)
        self.assertEqual(len(seq.final_stock(port)), 30)
        # default's batches went once: its answers were kept while us was down
        self.assertEqual(seq.import_rows(), 30)


if __name__ == "__main__":
    unittest.main(verbosity=2)
