#!/usr/bin/env python3
"""GET /V1/inventory/source-items held to Magento's InventoryApi (catalog_search.py cites it)."""
import base64
import json
import os
import sys
import threading
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import commerce_emulator as ce  # noqa: E402
from http.server import ThreadingHTTPServer  # noqa: E402

TOKEN = "test-token"
ITEMS = [{"sku": s, "source_code": c, "quantity": q, "status": st}
         for s, c, q, st in [("SKU-2", "default", 10, 1), ("sku-1", "eu", 0, 0), ("SKU-1", "default", 10.5, 1),
                             ("SKU-3", "default", 3, 1), ("SKU-10", "eu", 7.25, 1)]]


def crit(groups=(), sorts=(), size=None, page=None):
    q = []
    for g, filters in enumerate(groups):
        for i, (field, value, cond) in enumerate(filters):
            p = "searchCriteria[filter_groups][%d][filters][%d]" % (g, i)
            q += [(p + "[field]", field), (p + "[value]", value), (p + "[condition_type]", cond)]
    for i, (field, direction) in enumerate(sorts):
        q += [("searchCriteria[sortOrders][%d][field]" % i, field)]
        if direction:
            q += [("searchCriteria[sortOrders][%d][direction]" % i, direction)]
    if size is not None:
        q.append(("searchCriteria[pageSize]", str(size)))
    if page is not None:
        q.append(("searchCriteria[currentPage]", str(page)))
    return urllib.parse.urlencode(q)


class Server(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.httpd = ThreadingHTTPServer(("127.0.0.1", 0), ce.Handler)
        cls.httpd.daemon_threads = True
        cls.httpd.state = ce.State([TOKEN], [], 3600, ["default"], ["default", "eu"])
        cls.httpd.verbose = False
        cls.base = "http://127.0.0.1:%d" % cls.httpd.server_address[1]
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()

    def req(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        r = urllib.request.Request(self.base + path, data=data, method=method)
        r.add_header("Content-Type", "application/json")
        r.add_header("Authorization", "Bearer " + TOKEN)
        try:
            with urllib.request.urlopen(r) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


class SourceItemsTest(Server):
    def setUp(self):
        self.httpd.state.reset()
        self.req("POST", "/__emulator/source-items", ITEMS)

    def search(self, query, store="default"):
        status, text = self.req("GET", "/rest/%s/V1/inventory/source-items?%s" % (store, query))
        self.assertEqual(status, 200, text)
        return json.loads(text), text

    def keys(self, answer):
        return [(i["sku"], i["source_code"]) for i in answer["items"]]

    def test_items_carry_the_interface_fields_quantity_a_number_status_an_int(self):
        ans, text = self.search(crit([[("sku", "SKU-1", "eq")]], [("source_code", "ASC")]))
        # sku = 'SKU-1' without case: sku-1 on eu too (varchar, case-insensitive collation)
        self.assertEqual(ans["items"], [{"sku": "SKU-1", "source_code": "default", "quantity": 10.5, "status": 1},
                                        {"sku": "sku-1", "source_code": "eu", "quantity": 0, "status": 0}])
        self.assertIn('"quantity": 10.5', text)
        self.assertIn('"quantity": 0,', text)  # (float)0 is written 0 by json_encode, not 0.0
        self.assertEqual(list(ans["items"][0]), ["sku", "source_code", "quantity", "status"])
        self.assertEqual(ans["total_count"], 2)
        self.assertEqual(ans["search_criteria"]["filter_groups"][0]["filters"][0],
                         {"field": "sku", "value": "SKU-1", "condition_type": "eq"})

    def test_keyset_walk_by_sku_then_source_code(self):
        seen, last = [], None
        for _ in range(10):
            groups = []
            if last:
                groups = [[("sku", last[0], "gteq")], [("sku", last[0], "gt"), ("source_code", last[1], "gt")]]
            ans, _ = self.search(crit(groups, [("sku", "ASC"), ("source_code", "ASC")], size=2, page=1))
            seen += self.keys(ans)
            if ans["total_count"] <= len(ans["items"]):
                break
            last = seen[-1]
        self.assertEqual(seen, [("SKU-1", "default"), ("sku-1", "eu"), ("SKU-10", "eu"), ("SKU-2", "default"),
                                ("SKU-3", "default")])

    def test_numbers_compare_as_numbers_text_as_text(self):
        ans, _ = self.search(crit([[("quantity", "9", "gt")]], [("quantity", "ASC")]))
        self.assertEqual([i["quantity"] for i in ans["items"]], [10, 10.5])
        ans, _ = self.search(crit([[("sku", "SKU-2", "lt")]], [("sku", "DESC"), ("source_code", "DESC")]))
        self.assertEqual(self.keys(ans), [("SKU-10", "eu"), ("sku-1", "eu"), ("SKU-1", "default")])

    def test_in_like_and_no_direction_is_desc(self):
        ans, _ = self.search(crit([[("source_code", "eu", "eq")], [("sku", "SKU-1%", "like")]], [("sku", None)]))
        self.assertEqual(self.keys(ans), [("SKU-10", "eu"), ("sku-1", "eu")])
        ans, _ = self.search(crit([[("sku", "SKU-3,SKU-2", "in")]], [("sku", "ASC")]))
        self.assertEqual(self.keys(ans), [("SKU-2", "default"), ("SKU-3", "default")])
        ans, _ = self.search(crit([[("sku", "u-1", "fulltext")]], [("sku", "ASC"), ("source_code", "ASC")]))
        self.assertEqual(self.keys(ans), [("SKU-1", "default"), ("sku-1", "eu"), ("SKU-10", "eu")])

    def test_paging_total_count_and_the_clamp(self):
        q = [("sku", "ASC"), ("source_code", "ASC")]
        p2, _ = self.search(crit((), q, size=2, page=2))
        p3, _ = self.search(crit((), q, size=2, page=3))
        p7, _ = self.search(crit((), q, size=2, page=7))  # past the last page: the last page again
        self.assertEqual(self.keys(p2), [("SKU-10", "eu"), ("SKU-2", "default")])
        self.assertEqual((p3["items"], p3["total_count"]), (p7["items"], 5))
        self.assertEqual(len(p3["items"]), 1)
        unpaged, _ = self.search(crit())
        self.assertEqual(len(unpaged["items"]), 5)  # no pageSize: every match, the table's order
        self.assertEqual(self.keys(unpaged)[0], ("SKU-2", "default"))

    def test_imported_rows_change_what_commerce_holds(self):
        csv = "source_code,sku,quantity,status\ndefault,SKU-2,4,1\ndefault,NEW,1.5,1\n"
        st, ans = self.req("POST", "/rest/default/V1/import/csv", {"source": {
            "entity": "stock_sources", "behavior": "append", "validationStrategy": "validation-stop-on-errors",
            "allowedErrorCount": "0", "csvData": base64.b64encode(csv.encode()).decode()}})
        self.assertEqual(st, 200, ans)
        ans, _ = self.search(crit([[("sku", "SKU-2,NEW", "in")]], [("sku", "ASC")]))
        self.assertEqual(ans["items"], [{"sku": "NEW", "source_code": "default", "quantity": 1.5, "status": 1},
                                        {"sku": "SKU-2", "source_code": "default", "quantity": 4, "status": 1}])
        status, text = self.req("GET", "/__emulator/source-items")
        self.assertEqual(len(json.loads(text)), 6)

    def test_unknown_field_unknown_store_and_tokens(self):
        status, text = self.req("GET", "/rest/default/V1/inventory/source-items?" + crit([[("nope", "1", "eq")]]))
        self.assertEqual(status, 500)
        self.assertIn("Internal Error", text)
        status, _ = self.req("GET", "/rest/nosuch/V1/inventory/source-items")
        self.assertEqual(status, 404)
        r = urllib.request.Request(self.base + "/rest/default/V1/inventory/source-items")
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(r)
        self.assertEqual(e.exception.code, 401)


class ProductsTest(Server):
    PRODUCTS = [{"id": i, "sku": sku, "name": "Product %d" % i, "price": price, "status": 1, "visibility": 4,
                 "type_id": "simple", "updated_at": "2026-11-26 10:%02d:00" % i,
                 "custom_attributes": [{"attribute_code": "cost", "value": cost},
                                       {"attribute_code": "color", "value": color}]}
                for i, sku, price, cost, color in [(1, "b-2", 20, "9.000000", "red"), (2, "A-10", 19.99, "12.500000", "blue"),
                                                   (3, "a-9", 5, "100.000000", "Red"), (4, "C-1", 7.5, "1.000000", "green")]]

    def setUp(self):
        self.httpd.state.reset()
        self.req("POST", "/__emulator/products", self.PRODUCTS)

    def products(self, query):
        status, text = self.req("GET", "/rest/default/V1/products?" + query)
        self.assertEqual(status, 200, text)
        return json.loads(text)

    def test_keyset_by_sku_is_text_without_case(self):
        ans = self.products(crit([[("sku", "A-10", "gt")]], [("sku", "ASC")], size=2, page=1))
        # 'a-9' > 'A-10' as text (not as numbers), and without case
        self.assertEqual([p["sku"] for p in ans["items"]], ["a-9", "b-2"])
        self.assertEqual(ans["total_count"], 3)
        self.assertEqual(ans["search_criteria"]["page_size"], 2)
        self.assertEqual(ans["items"][0], self.PRODUCTS[2])  # the product as the catalog holds it

    def test_custom_attributes_filter_and_sort_decimals_as_numbers(self):
        ans = self.products(crit([[("color", "red", "eq")]], [("cost", "DESC")]))
        self.assertEqual([p["sku"] for p in ans["items"]], ["a-9", "b-2"])  # cost 100 > 9, as numbers
        ans = self.products(crit([[("price", "7.5", "gteq")]], [("price", None)]))  # no direction: DESC
        self.assertEqual([p["price"] for p in ans["items"]], [20, 19.99, 7.5])

    def test_paging_clamps_like_every_collection(self):
        last = self.products(crit((), [("id", "ASC")], size=3, page=2))
        again = self.products(crit((), [("id", "ASC")], size=3, page=5))
        self.assertEqual(([p["id"] for p in last["items"]], again["items"]), ([4], last["items"]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
