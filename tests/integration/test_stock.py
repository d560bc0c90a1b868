#!/usr/bin/env python3
"""The key store against the emulator: `dropgate baseline` fills it from what Commerce holds,
and kind = stock exports copy its confirmed picture to the sales channels. Usage: BUILD SRC"""
import csv
import glob
import io
import json
import os
import re
import shutil
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
M64 = (1 << 64) - 1


def mix64(x):
    x ^= x >> 30
    x = (x * 0xbf58476d1ce4e5b9) & M64
    x ^= x >> 27
    x = (x * 0x94d049bb133111eb) & M64
    return x ^ (x >> 31)


def hash64(b):
    """util/keyset.c's hash64, to check the digests the store holds."""
    h = 0x9e3779b97f4a7c15 ^ ((len(b) * 0xff51afd7ed558ccd) & M64)
    while len(b) >= 8:
        h = ((h ^ mix64(int.from_bytes(b[:8], "little"))) * 0x9e3779b97f4a7c15) & M64
        h ^= h >> 29
        b = b[8:]
    if b:
        w = int.from_bytes(b, "little")
        h = ((h ^ mix64(w ^ 0x5555555555555555)) * 0x9e3779b97f4a7c15) & M64
    return mix64(h)


def digest(values):
    """lib/rowsum.h: the value columns as name=value, sorted by name, joined by 0x1f."""
    return hash64("\x1f".join("%s=%s" % kv for kv in sorted(values.items())).encode())


def signed(u):
    return u - (1 << 64) if u >= 1 << 63 else u


# what Commerce holds: quantities as MSI answers them (floats: 10, 10.5), mixed-case SKUs,
# and another source the feed does not speak for
HELD = ([{"sku": "SKU-%02d" % i, "source_code": "default", "quantity": [10, 10.5, 0, 3.25][i % 4],
          "status": 0 if i % 4 == 2 else 1} for i in range(1, 24)]
        + [{"sku": "sku-lower", "source_code": "default", "quantity": 7, "status": 1},
           {"sku": "A,B \"quoted\"", "source_code": "default", "quantity": 1, "status": 1},
           {"sku": "TINY", "source_code": "default", "quantity": 0.0001, "status": 1},
           {"sku": "HUGE", "source_code": "default", "quantity": 1000000, "status": 1},
           {"sku": "FINE", "source_code": "default", "quantity": 12345.6789, "status": 1},
           {"sku": "SKU-01", "source_code": "eu", "quantity": 99, "status": 1}])


def number(q):
    return ("%.10f" % q).rstrip("0").rstrip(".")


def csv_record(values):
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()


class Emulated(unittest.TestCase):
    conf_extra = ""

    def snapshot(self, rows):
        """rows dropped as the full snapshot of 2026-11-27 02:00 into a daemon run: its report"""
        inbound = os.path.join(self.root, "spool/acme/inbound/stock")
        os.makedirs(inbound, exist_ok=True)
        with open(os.path.join(inbound, "stock_full_20261127T0200.csv"), "w", newline="") as f:
            csv.writer(f, delimiter=";").writerows(rows)
        d = subprocess.Popen([DROPGATE, "-c", self.conf, "run"], stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 30
            report = os.path.join(self.root, "spool/acme/outbound/reports/stock_full_20261127T0200.csv.result.json")
            while time.time() < deadline and not os.path.exists(report):
                time.sleep(0.2)
            with open(report) as f:
                return json.load(f)
        finally:
            d.terminate()
            d.wait()

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="dropgate-stock-")
        port_file = os.path.join(self.root, "port")
        self.emu = subprocess.Popen([sys.executable, os.path.join(SRC, "tests/emulator/commerce_emulator.py"),
                                     "--port", "0", "--port-file", port_file, "--token-file", TOKEN,
                                     "--source", "default", "--source", "eu"],
                                    stderr=subprocess.DEVNULL)
        while not os.path.exists(port_file):
            time.sleep(0.05)
        with open(port_file) as f:
            self.port = int(f.read())
        self.conf = os.path.join(self.root, "dropgate.conf")
        with open(self.conf, "w") as f:
            f.write("[dropgate]\nspool = %s/spool\nstate = %s/state\nsettle = 1\n"
                    "[commerce]\nurl = http://127.0.0.1:%d\ntoken_file = %s\nretries = 0\nbackoff = 50ms\n"
                    "[feed stock_full]\npartners = acme\ndir = inbound/stock\nmatch = stock_full_*.csv\n"
                    "mode = full\nsequence = stock\nstamp = name:stock_full_%%Y%%m%%dT%%H%%M.csv\ndiff = yes\n"
                    "delimiter = \";\"\nentity = stock_sources\n"
                    "map.source_code = \"default\"\nmap.sku = ItemNo | trim\n"
                    "map.quantity = Qty | number(\",\")\nmap.status = Qty | number(\",\") | instock\n"
                    % (self.root, self.root, self.port, TOKEN) + self.conf_extra)

    def tearDown(self):
        self.emu.kill()
        self.emu.wait()
        if not os.environ.get("DROPGATE_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)

    def call(self, what, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request("http://127.0.0.1:%d/__emulator/%s" % (self.port, what), data=data,
                                     method="POST" if data is not None else "GET")
        with urllib.request.urlopen(req) as r:
            return json.load(r)

    def dropgate(self, *args):
        return subprocess.run([DROPGATE, "-c", self.conf] + list(args), capture_output=True, text=True)

    def db(self):
        return sqlite3.connect("file:%s?mode=rw" % urllib.parse.quote(os.path.join(self.root, "state/ledger.db")),
                               uri=True)

    def entries(self, partner="acme", sequence="stock", target="default"):
        db = self.db()
        try:
            return {r[0]: r[1:] for r in db.execute(
                "SELECT k.key, k.digest, k.stamp, k.header, k.row FROM keys_now k JOIN key_scopes s ON s.id = k.scope "
                "WHERE s.partner = ? AND s.sequence = ? AND s.target = ?", (partner, sequence, target))}
        finally:
            db.close()


class BaselineTest(Emulated):
    def test_baseline_holds_exactly_commerce_keys_with_the_sift_digests(self):
        self.call("source-items", HELD)
        p = self.dropgate("baseline", "acme", "stock", "--page-size", "4")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("28 keys of stock_sources", p.stdout)
        got = self.entries()
        want = {}
        for it in HELD:
            if it["source_code"] != "default":
                continue  # the feed speaks for source "default" only
            q, s = number(it["quantity"]), str(it["status"])
            key = csv_record(["default", it["sku"]])
            want[key] = (signed(digest({"quantity": q, "status": s})), 0, "source_code,sku,quantity,status",
                         csv_record(["default", it["sku"], q, s]))
        self.assertEqual(got, want)
        self.assertEqual(got["default,SKU-01"][3], "default,SKU-01,10.5,1")  # a float as number() writes it
        self.assertEqual(got["default,SKU-04"][3], "default,SKU-04,10,1")
        self.assertEqual(got["default,TINY"][3], "default,TINY,0.0001,1")
        self.assertEqual(got["default,HUGE"][3], "default,HUGE,1000000,1")
        self.assertEqual(got["default,FINE"][3], "default,FINE,12345.6789,1")
        # walked by key: sku, then source_code, page 1 each time, 4 a page: 7 requests, the
        # last one full and ended by its total_count
        searches = [j for j in self.call("journal") if j["path"].endswith("/V1/inventory/source-items")]
        self.assertEqual(len(searches), 7)

    def test_a_second_run_writes_the_same_and_newer_entries_stay(self):
        self.call("source-items", HELD)
        self.assertEqual(self.dropgate("baseline", "acme", "stock").returncode, 0)
        first = self.entries()
        db = self.db()
        db.execute("UPDATE keys SET stamp = 5, digest = 42 WHERE key = 'default,SKU-01'")
        db.commit()
        db.close()
        self.call("source-items", [{"sku": "SKU-01", "source_code": "default", "quantity": 1, "status": 1},
                                   {"sku": "SKU-02", "source_code": "default", "quantity": 1, "status": 1}])
        self.assertEqual(self.dropgate("baseline", "acme", "stock").returncode, 0)
        second = self.entries()
        self.assertEqual(second["default,SKU-01"][:2], (42, 5))  # a file's entry is newer than Commerce's
        self.assertEqual(second["default,SKU-02"][0], signed(digest({"quantity": "1", "status": "1"})))
        self.assertEqual(set(second), set(first))

    def test_commerce_failing_is_exit_4_and_unknown_sequence_exit_2(self):
        self.call("source-items", HELD)
        self.call("faults", [{"match": "/V1/inventory/source-items", "status": 401, "times": 5}])
        p = self.dropgate("baseline", "acme", "stock")
        self.assertEqual(p.returncode, 4, p.stderr)
        p = self.dropgate("baseline", "acme", "nosuch")
        self.assertEqual(p.returncode, 2)
        self.assertIn("no feed of partner 'acme' has sequence = nosuch", p.stderr)
        p = self.dropgate("baseline", "acme", "stock", "--target", "eu")
        self.assertEqual(p.returncode, 2)
        p = self.dropgate("baseline", "acme")
        self.assertEqual(p.returncode, 2)

    def test_then_a_snapshot_sends_only_the_differences(self):
        self.call("source-items", HELD)
        self.assertEqual(self.dropgate("baseline", "acme", "stock").returncode, 0)
        rows = [["ItemNo", "Qty"]] + [[it["sku"], number(it["quantity"]).replace(".", ",")]
                                      for it in HELD if it["source_code"] == "default"]
        rows[1] = ["SKU-01", "77"]  # one difference
        result = self.snapshot(rows)
        self.assertEqual((result.get("rows_sent"), result.get("rows_unchanged")), (1, 27), result)
        imported = self.call("store").get("stock_sources", [])
        self.assertEqual([(r["sku"], r["quantity"]) for r in imported], [("SKU-01", "77")])


class CaseTest(Emulated):
    conf_extra = "absent.quantity = 0\nabsent.status = 0\nmax_absent = 100%\n"

    def test_a_sku_in_another_case_is_the_same_key(self):
        """Commerce holds sku-lower; the ERP writes SKU-LOWER: one product (MySQL compares
        without case), so the row is unchanged and the key is not absent, never zeroed."""
        self.call("source-items", HELD)
        self.assertEqual(self.dropgate("baseline", "acme", "stock").returncode, 0)
        rows = [["ItemNo", "Qty"]] + [[it["sku"].upper(), number(it["quantity"]).replace(".", ",")]
                                      for it in HELD if it["source_code"] == "default"]
        result = self.snapshot(rows)
        self.assertEqual((result.get("rows_sent"), result.get("rows_unchanged"), result.get("rows_absent")),
                         (0, 28, 0), result)
        self.assertEqual(self.call("store").get("stock_sources", []), [])


class ProductBaselineTest(Emulated):
    conf_extra = ("[feed products]\npartners = acme\ndir = inbound/pim\nsequence = catalog\ndiff = yes\n"
                  "entity = catalog_product\nmap.sku = sku\nmap.name = Name\nmap.price = Price | number(\".\")\n"
                  "map.cost = Cost | number(\".\")\nmap.product_online = Online\nmap.color = Color\n")

    def test_top_level_fields_and_custom_attributes_by_code(self):
        products = [{"id": i, "sku": "P-%d" % i, "name": "Product %d" % i, "price": [20, 19.99][i % 2],
                     "status": 1 if i != 3 else 2, "visibility": 4, "type_id": "simple",
                     "updated_at": "2026-11-26 10:00:00",
                     "custom_attributes": [{"attribute_code": "cost", "value": "12.500000"},
                                           {"attribute_code": "color", "value": ["red", "blue"]}]}
                    for i in range(1, 6)]
        self.call("products", products)
        p = self.dropgate("baseline", "acme", "catalog", "--page-size", "2")
        self.assertEqual(p.returncode, 0, p.stderr)
        got = self.entries(sequence="catalog")
        want = {}
        for pr in products:
            price = number(pr["price"])
            online = "1" if pr["status"] == 1 else "0"
            want[pr["sku"] + ","] = (
                signed(digest({"name": pr["name"], "price": price, "cost": "12.5", "product_online": online,
                               "color": "red,blue"})), 0,
                "sku,name,price,cost,product_online,color",
                csv_record([pr["sku"], pr["name"], price, "12.5", online, "red,blue"]))
        self.assertEqual(got, want)
        searches = [j for j in self.call("journal") if j["path"].endswith("/V1/products")]
        self.assertEqual(len(searches), 3)  # 2 + 2 + 1


class ChannelCopyTest(Emulated):
    conf_extra = ("[export channels]\nkind = stock\nsequence = stock\npartners = shop market\nevery = 1h\n"
                  "[export channels_eu]\nkind = stock\nsequence = stock\npartners = shop\ndir = outbound/eu\n"
                  "target = eu\nevery = 1h\n"
                  "[commerce eu]\nurl = http://127.0.0.1:1\ntoken_file = %s\n" % TOKEN)

    def copies(self, partner="shop", where="outbound/stock"):
        return sorted(glob.glob(os.path.join(self.root, "spool", partner, where, "stock-stock-*.csv")))

    def read(self, path):
        with open(path, encoding="utf-8", newline="") as f:
            return list(csv.reader(f))

    def put(self, partner, key, row, stamp, target="default", header="source_code,sku,quantity,status"):
        """An entry as the sift writes one once Commerce confirmed its row."""
        db = self.db()
        db.execute("INSERT INTO key_scopes (partner, sequence, target) VALUES (?, 'stock', ?) "
                   "ON CONFLICT DO NOTHING", (partner, target))
        scope = db.execute("SELECT id FROM key_scopes WHERE partner = ? AND sequence = 'stock' AND target = ?",
                           (partner, target)).fetchone()[0]
        db.execute("INSERT INTO keys (scope, key, khash, digest, stamp, in_full, header, row) "
                   "VALUES (?, ?, ?, 0, ?, 0, ?, ?) ON CONFLICT (scope, khash) DO UPDATE SET "
                   "stamp = excluded.stamp, header = excluded.header, row = excluded.row",
                   (scope, key, signed(hash64(key.encode()) or 1), stamp, header, row))
        db.commit()
        db.close()

    def test_copy_written_when_entries_change_never_twice_and_equal_to_the_store(self):
        self.call("source-items", HELD)
        self.assertEqual(self.dropgate("baseline", "acme", "stock").returncode, 0)
        p = self.dropgate("export", "channels")
        self.assertEqual(p.returncode, 0, p.stderr)
        shop, market = self.copies(), self.copies("market")
        self.assertEqual(len(shop), 1)
        self.assertEqual([os.path.basename(x) for x in market], [os.path.basename(x) for x in shop])
        self.assertRegex(os.path.basename(shop[0]), r"^stock-stock-\d{8}T\d{6}Z\.csv$")
        rows = self.read(shop[0])
        # the key columns, then the values, in the entity's order (Commerce's sample header)
        self.assertEqual(rows[0], ["source_code", "sku", "status", "quantity", "stamp"])
        want = sorted(csv_record(["default", it["sku"]]) for it in HELD if it["source_code"] == "default")
        self.assertEqual([csv_record(r[:2]) for r in rows[1:]], want)  # one row per key, in key order
        store = self.entries()
        for r in rows[1:]:
            self.assertEqual(csv_record([r[0], r[1], r[3], r[2]]), store[csv_record(r[:2])][3])
            self.assertEqual(r[4], "1970-01-01T00:00:00Z")  # a baseline's stamp: 0
        with open(shop[0], "rb") as f:
            first = f.read()

        # nothing changed: no second copy
        time.sleep(1.1)
        p = self.dropgate("export", "channels")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("unchanged", p.stdout)
        self.assertEqual(self.copies(), shop)

        # another partner's newer entry wins its key; an older one loses
        self.put("erp2", "default,SKU-01", "default,SKU-01,5,1", 1764208800)  # 2025-11-27T02:00:00Z
        self.put("erp2", "default,NEW", "default,NEW,2.5,1", 1764208800)
        self.put("acme", "default,SKU-02", "default,SKU-02,8,1", 1764212400)
        self.put("erp2", "default,SKU-02", "default,SKU-02,1,0", 1764208800)
        p = self.dropgate("export", "channels")
        self.assertEqual(p.returncode, 0, p.stderr)
        shop2 = self.copies()
        self.assertEqual(len(shop2), 2)
        with open(shop[0], "rb") as f:
            self.assertEqual(f.read(), first)  # the earlier copy is left as it was
        rows = {r[1]: r for r in self.read(shop2[1])[1:]}
        self.assertEqual(rows["SKU-01"], ["default", "SKU-01", "1", "5", "2025-11-27T02:00:00Z"])
        self.assertEqual(rows["NEW"], ["default", "NEW", "1", "2.5", "2025-11-27T02:00:00Z"])
        self.assertEqual(rows["SKU-02"], ["default", "SKU-02", "1", "8", "2025-11-27T03:00:00Z"])
        self.assertEqual(len(rows), 29)
        self.assertEqual(len(self.copies("market")), 2)

        # the export's target only: channels_eu sees nothing yet, writes nothing
        p = self.dropgate("export", "channels_eu")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.copies("shop", "outbound/eu"), [])
        self.put("acme", "default,SKU-09", "default,SKU-09,4,1", 1764208800, target="eu")
        self.assertEqual(self.dropgate("export", "channels_eu").returncode, 0)
        eu = self.copies("shop", "outbound/eu")
        self.assertEqual([r[1] for r in self.read(eu[0])[1:]], ["SKU-09"])

    def test_rows_of_other_column_sets_share_one_header(self):
        p = self.dropgate("export", "channels")  # makes the ledger; an empty picture: no file
        self.assertEqual((p.returncode, self.copies()), (0, []), p.stderr)
        # a delta that sent only quantity, a row with an attribute column the entity lacks
        self.put("acme", "default,A", "default,A,3", 1764208800, header="source_code,sku,quantity")
        self.put("acme", "default,B", "1,default,B,x", 1764208800, header="status,source_code,sku,note")
        p = self.dropgate("export", "channels")
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = self.read(self.copies()[0])
        self.assertEqual(rows, [["source_code", "sku", "status", "quantity", "note", "stamp"],
                                ["default", "A", "", "3", "", "2025-11-27T02:00:00Z"],
                                ["default", "B", "1", "", "x", "2025-11-27T02:00:00Z"]])

    def test_the_daemon_copies_on_schedule(self):
        with open(self.conf) as f:
            text = f.read().replace("every = 1h", "every = 2s", 1)
        with open(self.conf, "w") as f:
            f.write(text)
        self.call("source-items", HELD)
        self.assertEqual(self.dropgate("baseline", "acme", "stock").returncode, 0)
        d = subprocess.Popen([DROPGATE, "-c", self.conf, "run"], stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + 20
            while time.time() < deadline and not self.copies():
                time.sleep(0.2)
            self.assertEqual(len(self.copies()), 1)
            self.put("erp2", "default,SKU-01", "default,SKU-01,5,1", 1764208800)
            while time.time() < deadline and len(self.copies()) < 2:
                time.sleep(0.2)
            time.sleep(2.5)  # a schedule more, nothing changed
        finally:
            d.terminate()
            _, err = d.communicate()
        self.assertEqual(len(self.copies()), 2, err)
        self.assertIn("event=export_written", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
