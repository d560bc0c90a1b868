#!/usr/bin/env python3
"""Two appliances, one spool (issue 15): two daemons share the spool, the state directory and
a PostgreSQL ledger, as two machines mounting the same storage would. Each file is claimed
and imported once, each partner's feed in order; a node killed with kill -9 loses its lease
and the other finishes its files; a database restarted mid-run pauses both and loses nothing;
an export due while both run is written once.

A PostgreSQL server of the test's own (pgserver.py) so that it can be restarted; skipped with
one line when the PostgreSQL binaries are missing. The daemons run as the unit runs them
(tests/integration/test_daemon.py's appliance). DROPGATE_NODES_FILES sets the big run's
count (default 1000: `make check-nodes-long` runs it again with more).
Usage: test_nodes.py BUILD SRC
"""
import collections
import json
import os
import signal
import subprocess
import sys
import time
import unittest

import test_daemon as td  # noqa: E402  (takes BUILD and SRC from argv)
import pgserver  # noqa: E402
_argv, sys.argv = sys.argv, sys.argv[:1]
from test_exports import order  # noqa: E402
sys.argv = _argv

FILES = int(os.environ.get("DROPGATE_NODES_FILES", "1000"))
PARTNERS = 20
LEASE = 3  # seconds: a dead node's files move on within a few seconds

_server = {}


def server():
    if "s" not in _server:
        _server["s"] = pgserver.Server().start()
    return _server["s"]


def commerce_file(i):
    return ("sku,source_code,quantity,status\nND-%05d,default,%d,1\n" % (i, i % 90)).encode()


class Pair:
    """Node a is an appliance of test_daemon (the spool, the state, the emulator, the ledger);
    node b runs the same program on the same configuration but for its node name."""

    def __init__(self, extra="", workers=2):
        td.PG = True
        td._pg["base"] = server().conninfo()
        make = td.Appliance
        self.a = make(workers=workers, dropgate_keys="node = a\nlease = %ds\n" % LEASE)
        if extra:
            self.a.write_config(extra)
        self.conf_b = self.a.conf.replace(".conf", "-b.conf")
        with open(self.a.conf) as f:
            text = f.read()
        with open(self.conf_b, "w") as f:
            f.write(text.replace("node = a\n", "node = b\n"))
        self.b_proc = None
        self.b_log = os.path.join(self.a.root, "daemon-b.log")

    def partners(self, n):
        names = ["acme"] + ["p%02d" % i for i in range(1, n)]
        for p in names[1:]:
            self.a.run(["partner", "add", p])
        return names

    def start(self):
        self.a.start()
        self.start_b()

    def start_b(self):
        uid, gid = td.daemon_user()
        self.b_logf = open(self.b_log, "a")
        started = td.slurp(self.b_log).count("event=started")
        self.b_proc = subprocess.Popen([td.DROPGATE, "-c", self.conf_b, "run"], stderr=self.b_logf, user=uid,
                                       group=gid, extra_groups=[], umask=td.UMASK, process_group=0)
        td.wait_for(lambda: td.slurp(self.b_log).count("event=started") > started or self.b_proc.poll() is not None,
                    10, "node b to start")
        if self.b_proc.poll() is not None:
            raise AssertionError("node b did not start: " + td.slurp(self.b_log)[-2000:])

    def stop_b(self, sig=signal.SIGTERM):
        if self.b_proc and self.b_proc.poll() is None:
            os.killpg(self.b_proc.pid, sig)
            self.b_proc.wait(timeout=td.STOP_TIMEOUT)
        if self.b_proc:
            self.b_logf.close()
        self.b_proc = None

    def close(self):
        try:
            self.stop_b(signal.SIGKILL)
        finally:
            self.a.close()

    def merged_log(self):
        """Both nodes' lines in one file, by time: the order checks see one appliance."""
        lines = td.slurp(self.a.log).splitlines() + td.slurp(self.b_log).splitlines()
        lines = sorted(l for l in lines if l.startswith("ts="))
        path = os.path.join(self.a.root, "both.log")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def digests(self):
        return collections.Counter(j["digest"] for j in self.a.imports())


@unittest.skipUnless(os.geteuid() == 0, "needs root: the daemon's user, chroots")
@unittest.skipIf(pgserver.find_bin() is None, "PostgreSQL's initdb and pg_ctl are not installed")
class TwoNodesTest(unittest.TestCase):
    def setUp(self):
        self.pair = Pair()

    def tearDown(self):
        self.pair.close()

    def drop_many(self, names, n, start=0):
        for i in range(start, start + n):
            self.pair.a.drop("f%05d.csv" % i, commerce_file(i), "commerce", partner=names[i % len(names)])

    def assert_each_once(self, n):
        a = self.pair.a
        files = a.files()
        self.assertEqual(len(files), n, "one ledger row per file")
        self.assertEqual([f for f in files if f[2] != "done"], [])
        names = [f[1] for f in files]
        self.assertEqual(len(set(names)), n)
        td.check_each_once_in_order(self, self.pair.merged_log())

    def test_two_nodes_take_each_file_once_in_order(self):
        names = self.pair.partners(PARTNERS)
        self.pair.start()
        t0 = time.time()
        self.drop_many(names, FILES)
        td.wait_for(lambda: self.pair.a.finished(FILES), 600, "%d files" % FILES)
        took = time.time() - t0
        self.assert_each_once(FILES)
        d = self.pair.digests()
        self.assertEqual(len(d), FILES)
        self.assertEqual([k for k, v in d.items() if v != 1], [], "a file imported twice")
        owners = dict(self.pair.a.ledger("SELECT owner, count(*) FROM files GROUP BY owner"))
        self.assertEqual(set(owners), {"a", "b"}, "both nodes worked: %s" % owners)
        print("\n%d files, %d partners, two nodes: %.1f s (%s)" % (FILES, PARTNERS, took, owners),
              file=sys.stderr)
        # status shows both nodes and their leases
        out = self.pair.a.run(["status"]).stdout
        self.assertRegex(out, r"(?m)^node a .*lease")
        self.assertRegex(out, r"(?m)^node b .*lease")
        st = json.loads(self.pair.a.run(["status", "--json"]).stdout)
        self.assertEqual([n["name"] for n in st["nodes"]], ["a", "b"])
        self.assertTrue(all(n["alive"] and n["lease"] == LEASE and n["lease_age"] <= LEASE
                            and n["files_held"] == 0 for n in st["nodes"]), st["nodes"])

    def test_kill9_one_node_the_other_finishes_its_files(self):
        n = 120
        names = self.pair.partners(6)
        # answers that take a while: node a has files in hand when it dies
        self.pair.a.emu_call("faults", [{"match": "/V1/import", "delay": 0.2, "times": 10000}])
        # node a claims them all, then b joins: a certainly holds files when it dies
        self.pair.a.start()
        self.drop_many(names, n)
        td.wait_for(lambda: len(self.pair.a.files("owner = 'a'")) == n, 60, "node a to claim all")
        self.pair.start_b()
        td.wait_for(lambda: len(self.pair.a.files("state = 'done' AND owner = 'a'")) >= 3, 120,
                    "node a to finish a few")
        os.killpg(self.pair.a.daemon.pid, signal.SIGKILL)
        killed = time.time()
        self.pair.a.daemon.wait()
        self.pair.a.logf.close()
        self.pair.a.daemon = None
        held = [r[0] for r in self.pair.a.ledger(
            "SELECT id FROM files WHERE owner = 'a' AND state NOT IN ('done')")]
        self.assertTrue(held, "node a held files when it died")
        td.wait_for(lambda: self.pair.a.finished(n), 240, "node b to finish all %d" % n)
        # a's files went to b, and not before a's lease had expired
        rows = self.pair.a.ledger("SELECT id, owner, finished FROM files WHERE id IN (%s)"
                                  % ",".join(map(str, held)))
        self.assertEqual({r[1] for r in rows}, {"b"})
        self.assertGreaterEqual(min(r[2] for r in rows), int(killed) + LEASE - 1)
        files = self.pair.a.files()
        self.assertEqual(len(files), n)
        self.assertEqual([f for f in files if f[2] != "done"], [])
        d = self.pair.digests()
        self.assertEqual(len(d), n, "every file imported")
        twice = [k for k, v in d.items() if v > 1]
        # at most the batch in flight when a died, once per file a held (2 workers)
        self.assertLessEqual(len(twice), 2)
        self.assertEqual([k for k, v in d.items() if v > 2], [])
        self.assertIn("event=node_registered", td.slurp(self.pair.b_log))

    def test_database_restarted_mid_run_both_pause_and_resume(self):
        n = 200
        names = self.pair.partners(8)
        self.pair.start()
        self.drop_many(names, n)
        td.wait_for(lambda: len(self.pair.a.files("state = 'done'")) >= 20, 120, "20 files done")
        server().restart(down=2)
        td.wait_for(lambda: self.pair.a.finished(n), 300, "all %d files after the restart" % n)
        self.assertEqual([f for f in self.pair.a.files() if f[2] != "done"], [])
        d = self.pair.digests()
        self.assertEqual(len(d), n, "nothing lost")
        self.assertEqual([k for k, v in d.items() if v > 2], [])
        for log in (self.pair.a.log, self.pair.b_log):
            text = td.slurp(log)
            self.assertIn("event=ledger_lost", text)
            self.assertIn("event=ledger_back", text)
            self.assertNotIn("event=stopped", text)
        self.assertIsNone(self.pair.a.daemon.poll(), "node a runs on")
        self.assertIsNone(self.pair.b_proc.poll(), "node b runs on")

    def test_an_export_due_while_both_run_is_written_once(self):
        self.pair.close()
        self.pair = Pair(extra="\n[export orders]\nkind = orders\npartners = acme\n"
                               "dir = outbound/orders\nevery = 1h\npage_size = 20\n")
        self.pair.a.emu_call("orders", [order(i) for i in range(1, 101)])
        # a slow Commerce: the first node's run is still going when the second looks
        self.pair.a.emu_call("faults", [{"match": "/V1/orders", "delay": 0.3, "times": 50}])
        self.pair.start()
        out = os.path.join(self.pair.a.root, "spool", "acme", "outbound", "orders")
        td.wait_for(lambda: os.path.isdir(out) and [f for f in os.listdir(out) if not f.startswith(".")],
                    60, "the orders export")
        time.sleep(3 + 2)  # the other node's exporter ticks every second
        files = [f for f in os.listdir(out) if not f.startswith(".")]
        self.assertEqual(len(files), 1, files)
        runs = [l for l in (td.slurp(self.pair.a.log) + td.slurp(self.pair.b_log)).splitlines()
                if "event=export_written" in l]
        self.assertEqual(len(runs), 1, runs)
        pages = [j for j in self.pair.a.emu_call("journal") if j["path"].endswith("/V1/orders")]
        self.assertLessEqual(len(pages), 7, "one run's pages only")


def main():
    if pgserver.find_bin() is None:
        print("SKIP postgresql: initdb and pg_ctl are not installed (scripts/install-deps)")
    try:
        prog = unittest.main(exit=False, verbosity=2)
        return 0 if prog.result.wasSuccessful() else 1
    finally:
        if "s" in _server:
            _server["s"].stop()


if __name__ == "__main__":
    sys.exit(main())
