#!/usr/bin/env python3
"""The order loop back: operation feeds (ship, invoice, refund, comment, cancel,
hold/unhold, company) through the daemon and `dropgate submit` against the
emulator's orders, bulk API and consumer (tests/emulator/ORDERS.md).

What a WMS sees: a file of 500 shipment rows for 300 orders ends as exactly
300 shipments with the right items and tracks, in few calls (counted in the
emulator's journal); rows that cannot be right are rejected on their lines
before anything is sent; kill -9 at random moments, a lost bulk answer or a
stopped consumer never make a shipment twice.

  DROPGATE_ORDER_KILLS=N   kills during the same file (default 10; `make orders-crashloop`)
  DROPGATE_SEED=S          replay a run (every failure names its seed)
Usage: test_orders.py BUILD SRC [-k NAME]
"""
import csv
import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_daemon as td  # noqa: E402  (takes BUILD and SRC from argv, as this file does)

CONFIG = """
[dropgate]
spool = {root}/spool
state = {state}
workers = 2
settle = 1s
rescan = 2s
retry_deferred = 1s
retry_deferred_max = 2s
min_free = 1M
[commerce]
url = http://127.0.0.1:{port}
token_file = {token}
batch_rows = {batch_rows}
timeout = 10
retries = 2
backoff = 200ms
backoff_max = 1s
bulk = {bulk}
bulk_wait = {bulk_wait}
[feed shipments]
dir = inbound/shipments
match = *.csv
operation = ship
group_by = order
page_size = {page_size}
validation = skip-errors
allowed_errors = 100
map.order = OrderNo | trim
map.sku = Sku | trim | upper
map.qty = Qty | number(".")
map.track_number = Tracking | trim
map.carrier_code = Carrier | lower | default("custom")
map.title = CarrierName
map.notify = "1"
"""

FEEDS = """
[feed invoices]
dir = inbound/invoices
operation = invoice
validation = skip-errors
allowed_errors = 10
map.order = OrderNo
map.sku = Sku
map.qty = Qty
map.capture = "yes"
[feed refunds]
dir = inbound/refunds
operation = refund
validation = skip-errors
allowed_errors = 10
map.order = OrderNo
map.sku = Sku
map.qty = Qty
map.return_to_stock = Restock
[feed comments]
dir = inbound/comments
operation = comment
map.order = OrderNo
map.comment = Text
map.status = Status
map.notify = "no"
[feed cancels]
dir = inbound/cancels
operation = cancel
map.order = OrderNo
[feed holds]
dir = inbound/holds
operation = hold
map.order = OrderNo
[feed unholds]
dir = inbound/unholds
operation = unhold
map.order = OrderNo
[feed wms_xml]
dir = inbound/wms_xml
format = xml
record = /Shipments/Shipment/Line
operation = ship
validation = skip-errors
allowed_errors = 10
map.order = ../@order
map.sku = @sku | upper
map.qty = @qty | number(",")
map.track_number = Parcel/@track
map.carrier_code = Parcel/@carrier | lower
[feed companies]
dir = inbound/companies
operation = company
map.company_email = Email | trim | lower
map.company_name = Name
map.street = Street
map.city = City
map.country_id = Country
map.region_id = Region
map.postcode = Zip
map.telephone = Phone
map.customer_group_id = "1"
map.super_user_email = Admin | trim | lower
"""


def seed_of():
    s = os.environ.get("DROPGATE_SEED")
    return int(s) if s else random.randrange(1 << 30)


def increment_id(e):
    return "%09d" % (100000000 + e)


def items_of(e, k=3):
    """The emulator's generated items of order e (ORDERS.md)."""
    return [{"item_id": (e - 1) * k + i + 1, "sku": "SKU-%04d" % ((e * 7 + i) % 10000),
             "qty_ordered": 1 + (e + i) % 3} for i in range(k)]


def wms_file(orders=300, split=200):
    """500 rows for 300 orders: orders 1..split ship items 0 and 1 on two rows (every fourth
    of those in two parcels, with a track each), the rest item 0 on one row. Returns the CSV
    bytes and what each order's shipment must hold: {increment_id: (items, tracks)}."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["OrderNo", "Sku", "Qty", "Tracking", "Carrier", "CarrierName"])
    want = {}
    rows = []
    for e in range(1, orders + 1):
        its = items_of(e)
        take = its[:2] if e <= split else its[:1]
        tracks = []
        for n, it in enumerate(take):
            track = "TRK%06d%s" % (e, "B" if n and e % 4 == 0 else "")
            rows.append([" %s " % increment_id(e), it["sku"].lower(), str(it["qty_ordered"]), track,
                         "DHL", "DHL Express"])
            if track not in tracks:
                tracks.append(track)
        want[increment_id(e)] = ({it["item_id"]: it["qty_ordered"] for it in take}, sorted(tracks))
    rng = random.Random(7)
    rng.shuffle(rows)  # rows of one order need not be consecutive
    for r in rows:
        w.writerow(r)
    return out.getvalue().encode(), want


class OrdersAppliance(td.Appliance):
    """The daemon suite's appliance with the emulator holding generated orders."""

    def __init__(self, emu_args=(), batch_rows=100, page_size=100, bulk="yes", bulk_wait="5s"):
        self.emu_args = list(emu_args)
        self.page_size, self.bulk, self.bulk_wait = page_size, bulk, bulk_wait
        super().__init__(batch_rows=batch_rows)
        self.write_config()
        self.run(["partner", "add", "acme"])

    def start_emulator(self):
        portfile = os.path.join(self.root, "emu.port")
        if os.path.exists(portfile):
            os.unlink(portfile)
        self.emu = subprocess.Popen([sys.executable, td.EMULATOR, "--port", str(self.port or 0),
                                     "--port-file", portfile, "--token-file", td.TOKEN] + self.emu_args,
                                    stderr=subprocess.DEVNULL)
        td.wait_for(lambda: os.path.exists(portfile), 10, "the emulator")
        self.port = int(td.slurp(portfile))

    def write_config(self, extra=""):
        self.conf = os.path.join(self.root, "dropgate.conf")
        with open(self.conf, "w") as f:
            f.write(CONFIG.format(root=self.root, state=self.state, port=self.port, token=td.TOKEN,
                                  batch_rows=self.batch_rows, page_size=getattr(self, "page_size", 100),
                                  bulk=getattr(self, "bulk", "yes"),
                                  bulk_wait=getattr(self, "bulk_wait", "5s")).replace(
                                      "workers = 2\n", "workers = 2\n" + self.dropgate_keys) + FEEDS + extra)

    def journal(self, op=None):
        return [j for j in self.emu_call("journal") if op is None or j.get("op") == op]

    def shipments(self):
        return self.emu_call("documents")["shipments"]

    def one_file(self, name, data, feed="shipments", timeout=120):
        self.drop(name, data, feed)
        td.wait_for(lambda: self.finished(1), timeout, "the file to end")
        return self.files()[-1]

    def errors(self, name):
        path = os.path.join(self.root, "spool", "acme", "outbound", "reports", name + ".errors.csv")
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8-sig") as f:
            return list(csv.DictReader(f))


def rest(a, method, path, body=None):
    """A REST call to the emulator as another system makes it: (status, answer)."""
    req = td.urllib.request.Request("http://127.0.0.1:%d%s" % (a.port, path), method=method,
                                    data=None if body is None else json.dumps(body).encode(),
                                    headers={"Authorization": "Bearer " + td.slurp(td.TOKEN).strip(),
                                             "Content-Type": "application/json"})
    try:
        with td.urllib.request.urlopen(req) as r:
            return r.status, json.load(r)
    except td.urllib.error.HTTPError as e:
        return e.code, json.load(e)


def sanitizer_report(text):
    """Under --enable-sanitizers: the first report in a log or stderr, else None."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "Sanitizer" in line and "ERROR" in line or "runtime error:" in line:
            return " | ".join(lines[i:i + 12])
    return None


def shipped_per_order(test, shipments, want):
    """Each order of want has exactly one shipment, with its items and tracks."""
    by_order = {}
    for s in shipments:
        by_order.setdefault(s["order_id"], []).append(s)
    problems = []
    for inc, (items, tracks) in want.items():
        e = int(inc) - 100000000
        got = by_order.get(e, [])
        if len(got) != 1:
            problems.append("order %s: %d shipments" % (inc, len(got)))
            continue
        s = got[0]
        its = {int(i["order_item_id"]): float(i["qty"]) for i in s.get("items", [])}
        if its != {k: float(v) for k, v in items.items()}:
            problems.append("order %s: items %s, want %s" % (inc, its, items))
        trk = sorted(t["track_number"] for t in s.get("tracks", []))
        if trk != tracks:
            problems.append("order %s: tracks %s, want %s" % (inc, trk, tracks))
    extra = set(by_order) - {int(i) - 100000000 for i in want}
    if extra:
        problems.append("shipments for orders not in the file: %s" % sorted(extra)[:10])
    test.assertEqual(problems[:20], [], "%d problems" % len(problems))


@unittest.skipUnless(os.geteuid() == 0, "needs root: a Unix user for the daemon")
class ShipmentsTest(unittest.TestCase):
    def setUp(self):
        self.a = None

    def tearDown(self):
        if self.a:
            report = sanitizer_report(td.slurp(self.a.log)) if os.path.exists(self.a.log) else None
            self.a.close()
            self.assertIsNone(report, "the daemon's log")

    def test_500_rows_for_300_orders_are_300_shipments_in_few_calls(self):
        self.a = a = OrdersAppliance(["--orders", "300"])
        data, want = wms_file()
        a.start()
        _, _, state, message, _ = a.one_file("wms-0001.csv", data)
        a.group_stop()
        self.assertEqual(state, "done", message)
        shipped_per_order(self, a.shipments(), want)
        searches, posts = a.journal("orders.search"), a.journal("bulk")
        polls = a.journal("bulk.status")
        self.assertEqual(len(searches), 3, "ceil(300 orders / page_size 100)")
        self.assertEqual(len(posts), 3, "ceil(300 operations / batch_rows 100)")
        self.assertEqual(sum(p.get("rows", 0) for p in posts), 300)
        self.assertLessEqual(len(polls), 9, "a few status polls: 3 bulks, each asked a few times")
        self.assertEqual(len(a.journal()), len(searches) + len(posts) + len(polls),
                         "no other call to Commerce")
        r = a.report("wms-0001.csv")
        self.assertEqual((r["state"], r["rows"], r["rows_rejected"]), ("done", 500, 0))
        self.assertIn("operations: done 300\n", a.run(["show", str(r["id"])]).stdout)

    def test_unknown_order_foreign_sku_and_overshipping_are_rejected_on_their_lines(self):
        self.a = a = OrdersAppliance(["--orders", "10"])
        i1, i2, i3 = items_of(1), items_of(2), items_of(3)
        text = ("OrderNo,Sku,Qty,Tracking,Carrier,CarrierName\r\n"
                "%s,%s,%d,T1,ups,UPS\r\n" % (increment_id(1), i1[0]["sku"], i1[0]["qty_ordered"]) +
                "999999999,%s,1,T9,ups,UPS\r\n" % i1[0]["sku"] +                     # line 3: no such order
                "%s,NOT-IN-ORDER,1,T2,ups,UPS\r\n" % increment_id(2) +               # line 4: foreign SKU
                "%s,%s,%d,T2,ups,UPS\r\n" % (increment_id(2), i2[1]["sku"], i2[1]["qty_ordered"]) +
                "%s,%s,%d,T3,ups,UPS\r\n" % (increment_id(3), i3[0]["sku"], i3[0]["qty_ordered"]) +
                "%s,%s,1,T3,ups,UPS\r\n" % (increment_id(3), i3[0]["sku"]))        # line 7: more than left
        a.start()
        _, _, state, message, _ = a.one_file("mixed.csv", text.encode())
        a.group_stop()
        self.assertEqual(state, "partial", message)
        errs = {e["line"]: e for e in a.errors("mixed.csv")}
        self.assertEqual(sorted(errs), ["3", "4", "7"])
        self.assertIn("not in Commerce", errs["3"]["message"])
        self.assertEqual(errs["3"]["column"], "OrderNo")
        self.assertIn("not an item of order", errs["4"]["message"])
        self.assertEqual(errs["4"]["column"], "Sku")
        self.assertIn("more than is left to ship", errs["7"]["message"])
        self.assertIn("operations: done 3 rejected 1\n", a.run(["show", "1"]).stdout)
        shipped_per_order(self, a.shipments(), {
            increment_id(1): ({i1[0]["item_id"]: i1[0]["qty_ordered"]}, ["T1"]),
            increment_id(2): ({i2[1]["item_id"]: i2[1]["qty_ordered"]}, ["T2"]),
            increment_id(3): ({i3[0]["item_id"]: i3[0]["qty_ordered"]}, ["T3"])})

    def test_kill9_at_random_moments_never_ships_twice(self):
        seed = seed_of()
        rng = random.Random(seed)
        kills = int(os.environ.get("DROPGATE_ORDER_KILLS") or 10)
        # each bulk taken by the consumer 0.3 s after it was accepted, answers 20 ms late:
        # the kills land in searches, posts, polls and between them
        self.a = a = OrdersAppliance(["--orders", "300", "--bulk-delay", "0.3", "--latency", "0.02"],
                                     batch_rows=50, page_size=50, bulk_wait="3s")
        data, want = wms_file()
        a.drop("wms-0001.csv", data, "shipments")
        for _ in range(kills):
            a.start()
            time.sleep(rng.uniform(0.2, 3.0))
            a.stop(signal.SIGKILL, group=rng.random() < 0.5)
            twice = [s for s in a.shipments() if sum(t["order_id"] == s["order_id"]
                                                     for t in a.shipments()) > 1]
            self.assertEqual(twice[:3], [], "seed %d: an order shipped twice" % seed)
        a.start()
        td.wait_for(lambda: a.finished(1), 120, "the file to end (seed %d)" % seed)
        a.group_stop()
        _, _, state, message, _ = a.files()[-1]
        self.assertEqual(state, "done", "seed %d: %s" % (seed, message))
        shipped_per_order(self, a.shipments(), want)

    def test_cut_at_each_step_of_an_operation_never_ships_twice(self):
        # each crash point (src/util/crashpoint.h) cuts the protocol where a kill could:
        # recorded but not sent, sent but the answer not recorded, open, called but not recorded
        for point, bulk in (("ops-before-post", "yes"), ("ops-after-post", "yes"), ("ops-open", "yes"),
                            ("ops-after-call", "no")):
            with self.subTest(point=point):
                a = OrdersAppliance(["--orders", "30", "--bulk-delay", "0.2"], batch_rows=10, bulk=bulk,
                                    bulk_wait="3s")
                try:
                    data, want = wms_file(orders=30, split=20)
                    a.drop("cut.csv", data, "shipments")
                    a.start(crash_at=point)
                    self.assertEqual(a.crashed(), 137, point + ": the daemon did not reach its crash point")
                    a.start()
                    td.wait_for(lambda: a.finished(1), 60, "the file to end after " + point)
                    a.group_stop()
                    _, _, state, message, _ = a.files()[-1]
                    self.assertEqual(state, "done", "%s: %s" % (point, message))
                    shipped_per_order(self, a.shipments(), want)
                    self.assertIsNone(sanitizer_report(td.slurp(a.log)), "the daemon's log")
                finally:
                    a.close()

    def test_lost_bulk_answer_ships_nothing_twice(self):
        self.a = a = OrdersAppliance(["--orders", "60"], batch_rows=20, page_size=50, bulk_wait="4s")
        a.emu_call("faults", [{"match": "/async/bulk/", "drop": "after", "after": 1, "times": 1}])
        data, want = wms_file(orders=60, split=30)
        a.start()
        _, _, state, message, _ = a.one_file("wms-lost.csv", data)
        a.group_stop()
        self.assertEqual(state, "done", message)
        shipped_per_order(self, a.shipments(), want)
        self.assertIn("bulk_answer_lost", td.slurp(a.log))

    def test_lost_bulk_answer_with_the_consumer_stopped_waits_and_never_resends(self):
        self.a = a = OrdersAppliance(["--orders", "20", "--consumer", "stopped"], bulk_wait="2s")
        a.emu_call("faults", [{"match": "/async/bulk/", "drop": "after", "times": 1}])
        data, want = wms_file(orders=20, split=10)
        a.start()
        a.drop("wms-q.csv", data, "shipments")
        td.wait_for(lambda: a.files("state = 'deferred'"), 30, "the file to wait")
        time.sleep(6)  # several tries, each past bulk_wait
        self.assertEqual(len(a.journal("bulk")), 1, "the operations still queued were not sent again")
        self.assertGreater(len(a.journal("bulk.search")), 0, "Commerce's open operations were searched")
        a.emu_call("consumer", {"running": True})
        td.wait_for(lambda: a.finished(1), 60, "the file to end")
        a.group_stop()
        self.assertEqual(a.files()[-1][2], "done")
        shipped_per_order(self, a.shipments(), want)

    def test_another_systems_shipment_is_not_taken_for_ours(self):
        # a lost bulk answer with the consumer stopped: while ours wait in Commerce's queue,
        # another system ships order 1's same items under its own track number; ours for
        # order 1, run later, finds nothing left. dropgate looks the unknown ones up by their
        # shipments' track numbers (one shipments search per lookup of a page of orders):
        # the 19 others are found by theirs, order 1's is not taken for ours: reported on its
        # lines, never sent again
        self.a = a = OrdersAppliance(["--orders", "20", "--consumer", "stopped"], bulk_wait="2s")
        a.emu_call("faults", [{"match": "/async/bulk/", "drop": "after", "times": 1}])
        data, want = wms_file(orders=20, split=10)
        a.start()
        a.drop("wms-other.csv", data, "shipments")
        td.wait_for(lambda: a.files("state = 'deferred'"), 30, "the file to wait")
        items, tracks = want[increment_id(1)]
        self.assertEqual(tracks, ["TRK000001"])
        st, _ = rest(a, "POST", "/rest/V1/order/1/ship",
                     {"items": [{"order_item_id": i, "qty": q} for i, q in items.items()],
                      "tracks": [{"track_number": "OTHER-1", "title": "Other", "carrier_code": "custom"}]})
        self.assertEqual(st, 200)
        a.emu_call("consumer", {"running": True})
        td.wait_for(lambda: a.finished(1), 60, "the file to end")
        a.group_stop()
        _, _, state, message, _ = a.files()[-1]
        self.assertEqual(state, "partial", message)
        errs = a.errors("wms-other.csv")
        self.assertEqual(len(errs), 2, errs)  # order 1's two rows
        for e in errs:
            self.assertIn("no shipment carries track number 'TRK000001'", e["message"])
        want[increment_id(1)] = (items, ["OTHER-1"])
        shipped_per_order(self, a.shipments(), want)
        self.assertEqual(len(a.journal("bulk")), 1, "nothing sent again")
        docs, orders = len(a.journal("shipments.search")), len(a.journal("orders.search"))
        self.assertTrue(0 < docs < orders, "%d shipments searches, %d order searches" % (docs, orders))

    def test_lost_invoices_are_found_by_their_lines_and_another_split_is_not_ours(self):
        # invoices of 3 orders, the bulk answer lost, the consumer stopped; meanwhile another
        # system invoices order 1's same quantities in two invoices of one line each: ours for
        # order 1 is not there (no invoice carries both its lines), its rows are reported and
        # nothing is invoiced twice; orders 2 and 3 are found by their invoices
        self.a = a = OrdersAppliance(["--orders", "3", "--consumer", "stopped"], bulk_wait="2s")
        a.emu_call("faults", [{"match": "/async/bulk/", "drop": "after", "times": 1}])
        rows = ["OrderNo,Sku,Qty"]
        for e in (1, 2, 3):
            rows += ["%s,%s,%d" % (increment_id(e), it["sku"], it["qty_ordered"]) for it in items_of(e)[:2]]
        a.start()
        a.drop("inv.csv", ("\r\n".join(rows) + "\r\n").encode(), "invoices")
        td.wait_for(lambda: a.files("state = 'deferred'"), 30, "the file to wait")
        for it in items_of(1)[:2]:
            st, _ = rest(a, "POST", "/rest/V1/order/1/invoice",
                         {"items": [{"order_item_id": it["item_id"], "qty": it["qty_ordered"]}]})
            self.assertEqual(st, 200)
        a.emu_call("consumer", {"running": True})
        td.wait_for(lambda: a.finished(1), 60, "the file to end")
        a.group_stop()
        _, _, state, message, _ = a.files()[-1]
        self.assertEqual(state, "partial", message)
        errs = a.errors("inv.csv")
        self.assertEqual(sorted(e["line"] for e in errs), ["2", "3"], errs)
        for e in errs:
            self.assertIn("no invoice carries these lines", e["message"])
        invoices = a.emu_call("documents")["invoices"]
        self.assertEqual(sorted(i["order_id"] for i in invoices), [1, 1, 2, 3])
        for o in a.emu_call("orders"):
            for it in o["items"]:
                self.assertLessEqual(it["qty_invoiced"], it["qty_ordered"])
        self.assertEqual(len(a.journal("bulk")), 1, "nothing sent again")
        self.assertGreater(len(a.journal("invoices.search")), 0)
        self.assertEqual(a.journal("shipments.search"), [])

    def test_consumer_stopped_defers_with_the_hint_and_completes_when_it_runs(self):
        self.a = a = OrdersAppliance(["--orders", "20", "--consumer", "stopped"], bulk_wait="2s")
        data, want = wms_file(orders=20, split=10)
        a.start()
        a.drop("wms-wait.csv", data, "shipments")
        td.wait_for(lambda: a.files("state = 'deferred'"), 30, "the file to wait")
        _, _, _, message, _ = a.files()[-1]
        self.assertIn("async.operations.all", message)
        self.assertEqual(a.shipments(), [])
        posts = len(a.journal("bulk"))
        a.emu_call("consumer", {"running": True})
        td.wait_for(lambda: a.finished(1), 60, "the file to end")
        a.group_stop()
        self.assertEqual(a.files()[-1][2], "done")
        self.assertEqual(len(a.journal("bulk")), posts, "nothing posted again: the open bulk was polled")
        shipped_per_order(self, a.shipments(), want)

    def test_synchronous_calls_when_bulk_is_off(self):
        self.a = a = OrdersAppliance(["--orders", "40"], bulk="no")
        data, want = wms_file(orders=40, split=20)
        a.start()
        _, _, state, message, _ = a.one_file("wms-sync.csv", data)
        a.group_stop()
        self.assertEqual(state, "done", message)
        shipped_per_order(self, a.shipments(), want)
        self.assertEqual(len(a.journal("ship")), 40)
        self.assertEqual(a.journal("bulk"), [])


class SubmitTest(unittest.TestCase):
    """One case per operation, through `dropgate submit` (no daemon, no ledger)."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="dropgate-orders-")
        portfile = os.path.join(self.root, "port")
        self.emu = subprocess.Popen([sys.executable, td.EMULATOR, "--port", "0", "--port-file", portfile,
                                     "--token-file", td.TOKEN, "--orders", "10"], stderr=subprocess.DEVNULL)
        td.wait_for(lambda: os.path.exists(portfile), 10, "the emulator")
        self.port = int(td.slurp(portfile))
        self.conf = os.path.join(self.root, "dropgate.conf")
        with open(self.conf, "w") as f:
            f.write(CONFIG.format(root=self.root, state=self.root + "/state", port=self.port, token=td.TOKEN,
                                  batch_rows=100, page_size=100, bulk="yes", bulk_wait="10s") + FEEDS)
        self.call = td.Appliance.emu_call.__get__(self)

    def tearDown(self):
        self.emu.kill()
        self.emu.wait()
        import shutil
        shutil.rmtree(self.root, ignore_errors=True)

    def submit(self, feed, text, name="f.csv"):
        path = os.path.join(self.root, name)
        with open(path, "w") as f:
            f.write(text)
        out = os.path.join(self.root, "out")
        os.makedirs(out, exist_ok=True)
        p = subprocess.run([td.DROPGATE, "-c", self.conf, "submit", "--feed", feed, "--out", out, path],
                           capture_output=True, text=True)
        self.assertIsNone(sanitizer_report(p.stderr), "dropgate submit's stderr")
        with open(os.path.join(out, name + ".result.json")) as f:
            return p, json.load(f)

    def order(self, e):
        return [o for o in self.call("orders") if o["entity_id"] == e][0]

    def test_invoice(self):
        it = items_of(2)
        p, r = self.submit("invoices", "OrderNo,Sku,Qty\n%s,%s,%d\n%s,%s,1\n" % (
            increment_id(2), it[0]["sku"], it[0]["qty_ordered"], increment_id(2), it[1]["sku"]))
        self.assertEqual(p.returncode, 0, p.stderr)
        [inv] = self.call("documents")["invoices"]
        self.assertEqual(inv["order_id"], 2)
        got = {int(i["order_item_id"]): float(i["qty"]) for i in inv["items"]}
        self.assertEqual(got, {it[0]["item_id"]: it[0]["qty_ordered"], it[1]["item_id"]: 1.0})
        self.assertEqual(r["state"], "done")

    def test_refund_with_return_to_stock(self):
        self.call("generate", {"orders": 1, "items": 2, "invoiced": True, "first": 50})
        it = items_of(50, 2)  # qty_ordered (and invoiced) 3 and 1
        self.assertEqual([i["qty_ordered"] for i in it], [3, 1])
        p, r = self.submit("refunds", "OrderNo,Sku,Qty,Restock\n%s,%s,2,yes\n%s,%s,1,no\n%s,%s,2,no\n" % (
            increment_id(50), it[0]["sku"], increment_id(50), it[1]["sku"], increment_id(50), it[0]["sku"]))
        self.assertEqual(p.returncode, 1, p.stderr)  # line 4: 2 more of the first, only 1 left to refund
        [cm] = self.call("documents")["creditmemos"]
        got = {int(i["order_item_id"]): float(i["qty"]) for i in cm["items"]}
        self.assertEqual(got, {it[0]["item_id"]: 2.0, it[1]["item_id"]: 1.0})
        self.assertEqual(self.call("documents")["stock_returns"], {it[0]["sku"]: 2},
                         "only the row marked back to stock went back to stock")
        self.assertEqual(r["rows_rejected"], 1)

    def test_an_xml_wms_file_in_windows_1252_with_decimal_commas(self):
        it = items_of(10)
        xml = ('<?xml version="1.0" encoding="windows-1252"?>\n<Shipments>\n'
               '<Shipment order="%s">\n'
               '<Line sku="%s" qty="%d,0"><Parcel track="TRK-\xe410" carrier="UPS"/></Line>\n'
               '<Line sku="%s" qty="1,5"><Parcel track="TRK-\xe410" carrier="UPS"/></Line>\n'
               '</Shipment>\n</Shipments>\n'
               % (increment_id(10), it[0]["sku"].lower(), it[0]["qty_ordered"], it[1]["sku"]))
        path = os.path.join(self.root, "wms.xml")
        with open(path, "wb") as f:
            f.write(xml.encode("cp1252"))
        out = os.path.join(self.root, "out")
        os.makedirs(out, exist_ok=True)
        p = subprocess.run([td.DROPGATE, "-c", self.conf, "submit", "--feed", "wms_xml", "--out", out, path],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 1, p.stderr)  # line 5: half an item is not a quantity Commerce ships
        [s] = self.call("documents")["shipments"]
        self.assertEqual({int(i["order_item_id"]): float(i["qty"]) for i in s["items"]},
                         {it[0]["item_id"]: float(it[0]["qty_ordered"])})
        self.assertEqual([t["track_number"] for t in s["tracks"]], ["TRK-\xe410"])
        self.assertEqual([t["carrier_code"] for t in s["tracks"]], ["ups"])
        with open(os.path.join(out, "wms.xml.errors.csv"), encoding="utf-8-sig") as f:
            [e] = list(csv.DictReader(f))
        self.assertEqual(e["line"], "5")
        self.assertIn("not a whole number", e["message"])  # Commerce would cast 1.5 to 1 silently

    def test_comment_with_status(self):
        p, r = self.submit("comments", "OrderNo,Text,Status\n%s,Parcel handed to DHL,processing\n"
                           % increment_id(3))
        self.assertEqual(p.returncode, 0, p.stderr)
        o = self.order(3)
        self.assertEqual(o["status"], "processing")
        self.assertIn("Parcel handed to DHL", [h["comment"] for h in o.get("status_histories", [])])

    def test_cancel(self):
        p, r = self.submit("cancels", "OrderNo\n%s\n" % increment_id(4))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.order(4)["state"], "canceled")
        # again: already canceled, nothing sent
        n = len(self.call("journal"))
        p, r = self.submit("cancels", "OrderNo\n%s\n" % increment_id(4), "again.csv")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse([j for j in self.call("journal")[n:] if j.get("op") != "orders.search"])

    def test_cancel_answered_false_is_told_on_its_line(self):
        self.submit("holds", "OrderNo\n%s\n" % increment_id(6), "hold.csv")  # Order::canCancel(): not held
        p, r = self.submit("cancels", "OrderNo\n%s\n%s\n" % (increment_id(7), increment_id(6)))
        self.assertEqual(p.returncode, 3, p.stderr)  # stop-on-errors: a refused row fails the file
        with open(os.path.join(self.root, "out", "f.csv.errors.csv"), encoding="utf-8-sig") as f:
            [e] = list(csv.DictReader(f))
        self.assertEqual(e["line"], "3")
        self.assertIn("answered false", e["message"])
        self.assertEqual(self.order(7)["state"], "canceled")
        self.assertEqual(self.order(6)["state"], "holded")

    def test_consumer_failures_are_retried_or_told(self):
        it = items_of(8)
        # the consumer refuses the first operation for good, fails the second retriably once
        # (the emulator takes the first fault that applies: the second waits for the first)
        self.call("faults", [{"operation": "ship", "result": 3, "message": "Shipment Document Validation "
                              "Error(s):\nA carrier is required.\nThe tracking number is too long.",
                              "after": 0, "times": 1},
                             {"operation": "ship", "result": 2, "message": "Lock wait timeout", "after": 0,
                              "times": 1}])
        p, r = self.submit("shipments", "OrderNo,Sku,Qty,Tracking,Carrier,CarrierName\n"
                           "%s,%s,1,T8,dhl,DHL\n%s,%s,1,T9,dhl,DHL\n" % (increment_id(8), it[0]["sku"],
                                                                         increment_id(9), items_of(9)[0]["sku"]))
        self.assertEqual(p.returncode, 1, p.stderr)
        docs = self.call("documents")["shipments"]
        self.assertEqual(sorted(s["order_id"] for s in docs), [9], "the retriable failure went again, once")
        self.assertEqual(len([j for j in self.call("journal") if j.get("op") == "bulk"]), 2)
        with open(os.path.join(self.root, "out", "f.csv.errors.csv"), encoding="utf-8-sig") as f:
            [e] = list(csv.DictReader(f))
        self.assertEqual(e["line"], "2")
        self.assertIn("A carrier is required.", e["message"])
        self.assertIn("The tracking number is too long.", e["message"])

    def test_hold_then_unhold(self):
        p, _ = self.submit("holds", "OrderNo\n%s\n" % increment_id(5))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.order(5)["state"], "holded")
        p, _ = self.submit("unholds", "OrderNo\n%s\n" % increment_id(5), "unhold.csv")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotEqual(self.order(5)["state"], "holded")

    def test_company_create_then_update(self):
        self.call("customers", [{"id": 77, "email": "boss@acme.example", "firstname": "B", "lastname": "Oss",
                                 "website_id": 1}])
        p, r = self.submit("companies", "Email,Name,Street,City,Country,Region,Zip,Phone,Admin\n"
                           "Info@Acme.example,Acme,Main St 1,Berlin,DE,82,10115,+4930,boss@acme.example\n")
        self.assertEqual(p.returncode, 0, p.stderr + json.dumps(r))
        [c] = self.call("companies")
        self.assertEqual((c["company_name"], c["company_email"], c["super_user_id"]),
                         ("Acme", "info@acme.example", 77))
        # an update names only what changed: the rest is kept from what Commerce holds
        p, r = self.submit("companies", "Email,Name,Street,City,Country,Region,Zip,Phone,Admin\n"
                           "info@acme.example,Acme GmbH,,,,,,,\n", "update.csv")
        self.assertEqual(p.returncode, 0, p.stderr + json.dumps(r))
        [c] = self.call("companies")
        self.assertEqual((c["company_name"], c["city"], c["postcode"], c["super_user_id"]),
                         ("Acme GmbH", "Berlin", "10115", 77))
        self.assertEqual(len([j for j in self.call("journal") if j.get("op") == "company.update"]) +
                         len([j for j in self.call("journal") if j.get("op") == "bulk"]), 2)


if __name__ == "__main__":
    unittest.main()
