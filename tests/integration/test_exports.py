#!/usr/bin/env python3
"""dropgate export for orders against the emulator: keyset paging, watermarks,
updates between and during runs, Commerce failures, kill -9. Usage: BUILD SRC"""
import glob
import json
import os
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

BUILD = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 2 else os.path.abspath(".")
SRC = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else os.path.abspath(".")
DROPGATE = os.path.join(BUILD, "src", "dropgate")
TOKEN = os.path.join(SRC, "data", "demo-token")


def ledger_uri(path):
    """The ledger as an SQLite URI that never creates it: a test that looks before the daemon
    made it must not leave a root-owned empty ledger.db the daemon's user cannot write."""
    return "file:%s?mode=rw" % urllib.parse.quote(path)


def order(i, updated="2026-11-26 10:00:00"):
    return {"entity_id": i, "increment_id": "1%08d" % i, "status": "pending",
            "created_at": "2026-11-26 09:00:00", "updated_at": updated,
            "customer_email": "c%d@example.com" % i, "grand_total": 10.5, "order_currency_code": "EUR",
            "items": [{"item_id": i * 10, "sku": "AB-%d" % i, "name": "Item %d" % i, "qty_ordered": 1,
                       "price": 10.5, "row_total": 10.5, "parent_item_id": None},
                      {"item_id": i * 10 + 1, "sku": "AB-%d-child" % i, "name": "child", "qty_ordered": 1,
                       "price": 0, "row_total": 0, "parent_item_id": i * 10}],
            "extension_attributes": {"shipping_assignments": [{"shipping": {"address": {
                "firstname": "Zoë", "lastname": "Müller", "street": ["Hauptstr. 1"], "city": "Berlin",
                "postcode": "10115", "country_id": "DE"}}}]}}


class ExportTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="dropgate-export-")
        port_file = os.path.join(self.root, "port")
        self.emu = subprocess.Popen([sys.executable, os.path.join(SRC, "tests/emulator/commerce_emulator.py"),
                                     "--port", "0", "--port-file", port_file, "--token-file", TOKEN],
                                    stderr=subprocess.DEVNULL)
        while not os.path.exists(port_file):
            time.sleep(0.05)
        with open(port_file) as f:
            self.port = int(f.read())
        self.write_config()
        # 250 orders, several sharing one updated_at so that entity_id breaks ties
        self.call("orders", [order(i, "2026-11-26 10:%02d:00" % (i // 3 % 60)) for i in range(1, 251)])

    def tearDown(self):
        self.emu.kill()
        self.emu.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def write_config(self, fmt="csv", page=40):
        self.conf = os.path.join(self.root, "dropgate.conf")
        with open(self.conf, "w") as f:
            f.write("[dropgate]\nspool = %s/spool\nstate = %s/state\n[commerce]\nurl = http://127.0.0.1:%d\n"
                    "token_file = %s\nretries = 0\nbackoff = 50ms\n[export orders]\nkind = orders\n"
                    "partners = wms erp\ndir = outbound/orders\nevery = 2m\nformat = %s\npage_size = %d\n"
                    % (self.root, self.root, self.port, TOKEN, fmt, page))

    def call(self, what, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request("http://127.0.0.1:%d/__emulator/%s" % (self.port, what), data=data,
                                     method="POST" if data is not None else "GET")
        with urllib.request.urlopen(req) as r:
            return json.load(r)

    def export(self):
        return subprocess.run([DROPGATE, "-c", self.conf, "export", "orders"], capture_output=True, text=True)

    def files(self, partner="wms"):
        return sorted(glob.glob(os.path.join(self.root, "spool", partner, "outbound/orders/orders-*")))

    def ids(self, path):
        with open(path, encoding="utf-8") as f:
            return [int(line.split(",")[0]) - 100000000 for line in f.read().splitlines()[1:]]

    def watermark(self):
        db = sqlite3.connect(ledger_uri(os.path.join(self.root, "state/ledger.db")), uri=True)
        try:
            row = db.execute("SELECT value FROM notes WHERE key = 'export:orders'").fetchone()
            return row[0] if row else None
        finally:
            db.close()

    def order_requests(self):
        return [j for j in self.call("journal") if j["path"].endswith("/V1/orders")]

    def test_250_orders_pages_of_40_each_once_in_order(self):
        p = self.export()
        self.assertEqual(p.returncode, 0, p.stderr)
        [f] = self.files()
        ids = self.ids(f)
        self.assertEqual(len(ids), 250)
        self.assertEqual(len(set(ids)), 250)
        keyed = sorted(range(1, 251), key=lambda i: ("2026-11-26 10:%02d:00" % (i // 3 % 60), i))
        self.assertEqual(ids, keyed, "orders in (updated_at, entity_id) order")
        self.assertEqual(len(self.order_requests()), 7)  # 6 full pages and a short one
        self.assertEqual(self.watermark(), "2026-11-26 10:59:00|179")
        # every partner named gets the same file
        [g] = self.files("erp")
        with open(f, "rb") as a, open(g, "rb") as b:
            self.assertEqual(a.read(), b.read())
        # the child item of a configurable line is left out, the order's columns on each line
        with open(f, encoding="utf-8") as fh:
            self.assertIn("Zoë,Müller,Hauptstr. 1,Berlin,10115,DE,AB-1,Item 1,1,10.5,10.5", fh.read())

    def test_nothing_new_writes_nothing_and_full_pages_do_not_repeat(self):
        self.write_config(page=50)  # 250 = 5 full pages: the 6th request brings nothing past the key
        self.assertEqual(self.export().returncode, 0)
        self.assertEqual(len(self.ids(self.files()[0])), 250)
        p = self.export()
        self.assertIn("nothing new", p.stdout)
        self.assertEqual(len(self.files()), 1)

    def test_orders_updated_between_runs_appear_again(self):
        self.export()
        time.sleep(1.1)  # the next file gets its own name
        self.call("orders", [dict(order(7, "2026-11-27 08:00:00"), status="complete"),
                             dict(order(200, "2026-11-27 08:00:01"), status="canceled")])
        self.assertEqual(self.export().returncode, 0)
        second = self.files()[-1]
        self.assertEqual(self.ids(second), [7, 200])
        with open(second) as f:
            self.assertIn(",complete,", f.read())

    def test_orders_updated_while_paging_are_neither_skipped_nor_lost(self):
        # before the 3rd page, orders 5 (already sent) and 250 (not yet) change
        self.call("faults", [{"match": "/V1/orders", "after": 2, "touch": [5, 250], "times": 1,
                              "touch_at": "2026-11-27 09:00:00"}])
        self.assertEqual(self.export().returncode, 0)
        ids = self.ids(self.files()[0])
        self.assertEqual(set(ids), set(range(1, 251)))
        self.assertEqual(ids[-2:], [5, 250], "changed orders come again at the end, in their new state")

    def test_a_503_while_paging_leaves_the_watermark(self):
        self.call("faults", [{"match": "/V1/orders", "after": 2, "status": 503, "times": 1}])
        p = self.export()
        self.assertEqual(p.returncode, 4)
        self.assertIn("HTTP 503", p.stderr)
        self.assertEqual(self.files(), [])
        self.assertEqual(glob.glob(os.path.join(self.root, "spool/wms/outbound/orders/.*")), [])
        self.assertIsNone(self.watermark())
        self.assertEqual(self.export().returncode, 0)
        self.assertEqual(len(self.ids(self.files()[0])), 250)

    def test_kill9_before_the_rename_repeats_the_run_without_loss(self):
        self.call("faults", [{"match": "/V1/orders", "delay": 0.4, "times": 20}])
        p = subprocess.Popen([DROPGATE, "-c", self.conf, "export", "orders"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(1.2)
        p.send_signal(signal.SIGKILL)
        p.wait()
        self.assertEqual(self.files(), [])
        self.assertIsNone(self.watermark())
        self.call("reset", {})
        self.call("orders", [order(i, "2026-11-26 10:%02d:00" % (i // 3 % 60)) for i in range(1, 251)])
        self.assertEqual(self.export().returncode, 0)
        self.assertEqual(sorted(self.ids(self.files()[0])), list(range(1, 251)))
        self.assertEqual(glob.glob(os.path.join(self.root, "spool/wms/outbound/orders/.*")), [])

    def test_the_daemon_runs_it_on_schedule_and_status_shows_it(self):
        with open(self.conf) as f:
            text = f.read().replace("every = 2m", "every = 1s")
        with open(self.conf, "w") as f:
            f.write(text)
        log = open(os.path.join(self.root, "daemon.log"), "w")
        d = subprocess.Popen([DROPGATE, "-c", self.conf, "run"], stderr=log)
        try:
            deadline = time.time() + 20
            while time.time() < deadline and not self.files():
                time.sleep(0.2)
            self.assertEqual(len(self.ids(self.files()[0])), 250)
            time.sleep(1.1)
            self.call("orders", [order(42, "2026-11-27 12:00:00")])
            deadline = time.time() + 20
            while time.time() < deadline and len(self.files()) < 2:
                time.sleep(0.2)
            self.assertEqual(self.ids(self.files()[-1]), [42])
            st = json.loads(subprocess.run([DROPGATE, "-c", self.conf, "status", "--json"],
                                           capture_output=True, text=True).stdout)
            [x] = st["exports"]
            self.assertEqual(x["name"], "orders")
            self.assertEqual(x["watermark"], "2026-11-27 12:00:00|42")
            self.assertIn("orders", x["outcome"])
        finally:
            d.send_signal(signal.SIGTERM)
            d.wait(timeout=20)
            log.close()

    def test_at_is_the_next_local_time(self):
        # the schedule's arithmetic, through status: a run at 02:00 is due at the next 02:00
        with open(self.conf) as f:
            text = f.read().replace("every = 2m", "at = 02:00")
        with open(self.conf, "w") as f:
            f.write(text)
        self.assertEqual(self.export().returncode, 0)
        st = json.loads(subprocess.run([DROPGATE, "-c", self.conf, "status", "--json"],
                                       capture_output=True, text=True).stdout)
        nxt = st["exports"][0]["next_run"]
        due = time.mktime(time.strptime(nxt, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        self.assertEqual(time.localtime(due).tm_hour, 2)
        self.assertLess(due - time.time(), 86400 + 3600)
        self.assertGreater(due, time.time())

    def test_xml_and_jsonl_keep_the_nesting(self):
        self.write_config(fmt="jsonl")
        self.export()
        with open(self.files()[0]) as f:
            lines = [json.loads(l) for l in f]
        self.assertEqual(len(lines), 250)
        self.assertEqual(len(lines[0]["items"]), 2)
        shutil.rmtree(os.path.join(self.root, "state"))
        time.sleep(1.1)
        self.write_config(fmt="xml")
        self.export()
        xml = [p for p in self.files() if p.endswith(".xml")][0]
        out = subprocess.run(["xmllint", "--noout", xml], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(xml, encoding="utf-8") as f:
            text = f.read()
        self.assertEqual(text.count("<Order>"), 250)
        self.assertIn("<City>Berlin</City>", text)


class BiTest(unittest.TestCase):
    def setUp(self):
        ExportTest.setUp(self)
        with open(self.conf, "a") as f:
            f.write("[export bi]\nkind = bi\npartners = bi\ndir = outbound/bi\nat = 02:00\n"
                    "compress = gzip\npage_size = 7\n")
        # 30 orders on the 26th (11 created at midnight sharp), 5 the day before and after
        day = [dict(order(i), created_at="2026-11-26 %02d:%02d:00" % (0 if i < 12 else i % 24, i % 60))
               for i in range(1, 31)]
        other = [dict(order(i), created_at="2026-11-25 23:59:59") for i in range(31, 36)]
        other += [dict(order(i), created_at="2026-11-27 00:00:00") for i in range(36, 41)]
        self.call("reset", {})
        self.call("orders", day + other)
        self.call("customers", [{"id": i, "email": "c%d@example.com" % i, "firstname": "Zoë",
                                 "lastname": "M", "group_id": 1, "website_id": 1,
                                 "created_at": "2026-01-01 00:00:00",
                                 "updated_at": "2026-11-26 1%d:00:00" % (i % 10)} for i in range(1, 13)])
        self.call("products", [{"id": i, "sku": "AB-%d" % i, "name": "P %d" % i, "type_id": "simple",
                                "price": 1.5, "status": 1, "created_at": "2026-01-01 00:00:00",
                                "updated_at": "2026-11-2%d 08:00:00" % (5 + i % 3)} for i in range(1, 10)])

    tearDown = ExportTest.tearDown
    write_config = ExportTest.write_config
    call = ExportTest.call

    def bi(self, day):
        return subprocess.run([DROPGATE, "-c", self.conf, "export", "bi", "--date", day],
                              capture_output=True, text=True)

    def folder(self, day):
        return os.path.join(self.root, "spool/bi/outbound/bi", day)

    def test_a_day_folder_whose_manifest_matches_its_files(self):
        p = self.bi("2026-11-26")
        self.assertEqual(p.returncode, 0, p.stderr)
        import gzip
        import hashlib
        with open(os.path.join(self.folder("2026-11-26"), "manifest.json")) as f:
            m = json.load(f)
        self.assertEqual(m["period"], {"from": "2026-11-26 00:00:00", "to": "2026-11-27 00:00:00",
                                       "timezone": "UTC"})
        want = {"orders": 30, "order_items": 60, "customers": 12, "products": 3}
        self.assertEqual({x["entity"]: x["rows"] for x in m["files"]}, want)
        for x in m["files"]:
            path = os.path.join(self.folder("2026-11-26"), x["file"])
            with open(path, "rb") as f:
                raw = f.read()
            self.assertEqual(x["bytes"], len(raw))
            self.assertEqual(x["sha256"], hashlib.sha256(raw).hexdigest())
            lines = gzip.decompress(raw).decode().splitlines()
            self.assertEqual(len(lines) - 1, x["rows"], x["entity"])
        self.assertEqual(sorted(os.listdir(self.folder("2026-11-26"))),
                         ["customers.csv.gz", "manifest.json", "order_items.csv.gz", "orders.csv.gz",
                          "products.csv.gz"])

    def test_a_second_run_replaces_the_day_cleanly(self):
        self.assertEqual(self.bi("2026-11-26").returncode, 0)
        self.call("orders", [dict(order(99), created_at="2026-11-26 23:59:59")])
        self.assertEqual(self.bi("2026-11-26").returncode, 0)
        with open(os.path.join(self.folder("2026-11-26"), "manifest.json")) as f:
            m = json.load(f)
        self.assertEqual({x["entity"]: x["rows"] for x in m["files"]}["orders"], 31)
        self.assertEqual([n for n in os.listdir(os.path.dirname(self.folder("x"))) if n.startswith(".")], [])

    def test_a_commerce_failure_leaves_no_folder(self):
        self.call("faults", [{"match": "/V1/customers/search", "status": 503, "times": 5}])
        p = self.bi("2026-11-26")
        self.assertEqual(p.returncode, 4)
        self.assertFalse(os.path.exists(self.folder("2026-11-26")))
        self.assertEqual(os.listdir(os.path.dirname(self.folder("x"))), [])

    def test_missed_nights_are_caught_up_by_the_daemon(self):
        # a day is due once the next day's `at` (02:00) has passed: between midnight and 02:00
        # yesterday is not due yet, so the days count back from two hours ago
        due = time.time() - 2 * 3600
        y = time.gmtime(due - 86400)
        days = [time.strftime("%Y-%m-%d", time.gmtime(due - 86400 * k)) for k in (4, 3, 2, 1)]
        self.assertEqual(self.bi(days[0]).returncode, 0)
        log = open(os.path.join(self.root, "daemon.log"), "w")
        d = subprocess.Popen([DROPGATE, "-c", self.conf, "run"], stderr=log)
        try:
            deadline = time.time() + 20
            while time.time() < deadline and not os.path.exists(os.path.join(self.folder(days[3]), "manifest.json")):
                time.sleep(0.2)
            for day in days:
                self.assertTrue(os.path.exists(os.path.join(self.folder(day), "manifest.json")), day)
            self.assertEqual(time.strftime("%Y-%m-%d", y), days[3])
        finally:
            d.send_signal(signal.SIGTERM)
            d.wait(timeout=20)
            log.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
