#!/usr/bin/env python3
"""The emulator is test equipment: these tests hold it to commerce-api.md."""
import base64
import gzip
import json
import os
import sys
import threading
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import commerce_emulator as ce  # noqa: E402
from http.server import ThreadingHTTPServer  # noqa: E402

TOKEN = "test-token"


class EmulatorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.httpd = ThreadingHTTPServer(("127.0.0.1", 0), ce.Handler)
        cls.httpd.daemon_threads = True
        cls.httpd.state = ce.State([TOKEN], [("admin", "pw")], 3600, ["default", "de"])
        cls.httpd.verbose = False
        cls.base = "http://127.0.0.1:%d" % cls.httpd.server_address[1]
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()

    def setUp(self):
        self.httpd.state.reset()

    def req(self, method, path, body=None, token=TOKEN):
        data = None if body is None else json.dumps(body).encode()
        r = urllib.request.Request(self.base + path, data=data, method=method)
        r.add_header("Content-Type", "application/json")
        if token:
            r.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(r) as resp:
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def csv_import(self, csv, strategy="validation-skip-errors", allowed="0", entity="stock_sources", gz=True):
        data = csv.encode()
        if gz:
            data = gzip.compress(data)
        return self.req("POST", "/rest/default/V1/import/csv", {"source": {
            "entity": entity, "behavior": "append", "validationStrategy": strategy,
            "allowedErrorCount": allowed, "csvData": base64.b64encode(data).decode()}})

    # --- import -----------------------------------------------------------------
    def test_success_plain_and_gzip(self):
        for gz in (False, True):
            st, ans = self.csv_import("source_code,sku,quantity,status\ndefault,A,1,1\n", gz=gz)
            self.assertEqual((st, ans), (200, ["Entities Processed: 1"]))

    BAD3 = ("source_code,sku,quantity,status\n"
            "default,A,1,1\nwarehouse_xx,B,2,1\ndefault,C,x,1\ndefault,A,3,1\ndefault,D,,1\n")
    NAMED = ['Row 2: Source code "warehouse_xx" does not exists', 'Row 3: "quantity" contains incorrect value',
             'Row 5: "quantity" contains incorrect value']

    def test_current_any_bad_row_refuses_whole_and_names_each(self):
        # ImportCsv StartImport::validate(): "Row %1: %2" with getRowNumber() + 1, nothing imported;
        # allowedErrorCount changes nothing
        for allowed in ("0", "100"):
            st, ans = self.csv_import(self.BAD3, strategy="validation-stop-on-errors", allowed=allowed)
            self.assertEqual((st, ans), (200, self.NAMED))
        self.assertNotIn("stock_sources", self.httpd.state.store)

    def test_current_skip_errors_drops_bad_rows_silently(self):
        # canSkipValidationErrors(): skip-errors and one valid row; N counts the distinct SKUs
        # of every row validated, bad ones included (AbstractEntity::_saveValidatedBunches)
        for allowed in ("0", "100"):
            st, ans = self.csv_import(self.BAD3, allowed=allowed)
            self.assertEqual(ans, ["Entities Processed: 4"])
        self.assertEqual([r["sku"] for r in self.httpd.state.store["stock_sources"]], ["A", "A"] * 2)

    def test_current_skip_errors_without_a_valid_row_names_them(self):
        st, ans = self.csv_import("source_code,sku,quantity\nnowhere,A,1\ndefault,B,?\n")
        self.assertEqual(ans, ['Row 1: Source code "nowhere" does not exists', 'Row 2: "quantity" contains incorrect value'])
        self.assertNotIn("stock_sources", self.httpd.state.store)

    def test_every_error_of_a_row_is_named(self):
        st, ans = self.csv_import("source_code,sku,quantity\nx,A,y\n", strategy="validation-stop-on-errors")
        self.assertEqual(ans, ['Row 1: Source code "x" does not exists', 'Row 1: "quantity" contains incorrect value'])

    def test_earlier_release_holds_errors_to_the_allowance(self):
        # processValidationResult(&$errors) with validateSource() = !isErrorLimitExceeded():
        # BAD3 has three errors (rows 2, 3, 5)
        self.req("POST", "/__emulator/config", {"answers": "earlier"}, token=None)
        unnamed = ["Data validation failed. Please fix the following errors and upload the file again.",
                   "Please fix errors and re-upload file"]
        for strategy, allowed, want in (("validation-stop-on-errors", "0", unnamed),  # 3 > 0: none named
                                        ("validation-stop-on-errors", "2", unnamed),
                                        ("validation-stop-on-errors", "3", self.NAMED),  # within: named
                                        ("validation-skip-errors", "2", self.NAMED),  # past it: named
                                        ("validation-skip-errors", "x", self.NAMED)):  # (int) "x" is 0
            st, ans = self.csv_import(self.BAD3, strategy=strategy, allowed=allowed)
            self.assertEqual((st, ans), (200, want), (strategy, allowed))
        self.assertNotIn("stock_sources", self.httpd.state.store)
        # skip-errors within the allowance: the bad rows are dropped without a word
        st, ans = self.csv_import(self.BAD3, strategy="validation-skip-errors", allowed="3")
        self.assertEqual(ans, ["Entities Processed: 4"])
        self.assertEqual([r["sku"] for r in self.httpd.state.store["stock_sources"]], ["A", "A"])
        st, ans = self.csv_import("source_code,sku,quantity\ndefault,A,1\n", strategy="validation-stop-on-errors")
        self.assertEqual(ans, ["Entities Processed: 1"])

    def test_header_problems_are_row_1_on_both_releases(self):
        # Entity/AbstractEntity::validateData: no row is read, the errors have no row number
        for answers in ("current", "earlier"):
            self.req("POST", "/__emulator/config", {"answers": answers}, token=None)
            for strategy in ("validation-stop-on-errors", "validation-skip-errors"):
                st, ans = self.csv_import("source_code,SKU,quantity,\ndefault,A,1,\n", strategy=strategy,
                                          allowed="100")
                self.assertEqual(ans, ['Row 1: Columns number: "4" have empty headers',
                                       'Row 1: Column names: "SKU" are invalid'], (answers, strategy))
        # stock_sources takes any well-formed column (Sources sets no $needColumnCheck)
        st, ans = self.csv_import("source_code,sku,quantity,warehouse\ndefault,A,1,x\n")
        self.assertEqual(ans, ["Entities Processed: 1"])
        # advanced_pricing checks its $validColumnNames and needs sku; delete skips the name checks
        head = "sku,tier_price_website,tier_price_customer_group,tier_price_qty,tier_price,colour\n"
        row = "A,All Websites [EUR],ALL GROUPS,1,2,red\n"
        st, ans = self.csv_import(head + row, entity="advanced_pricing")
        self.assertEqual(ans, ['Row 1: Header contains invalid attribute(s): "colour"'])
        st, ans = self.csv_import(head.replace("sku,", "") + row, entity="advanced_pricing")
        self.assertEqual(ans, ["Row 1: We can't find required columns: sku.",
                               'Row 1: Header contains invalid attribute(s): "colour"'])
        self.req("POST", "/__emulator/config", {"columns": {"advanced_pricing": ["sku", "tier_price_website",
                 "tier_price_customer_group", "tier_price_qty", "tier_price", "colour"]}}, token=None)
        st, ans = self.csv_import(head + row, entity="advanced_pricing")
        self.assertEqual(ans, ["Entities Processed: 1"])

    def test_json_endpoint_shares_the_answers(self):
        items = [{"source_code": "default", "sku": "A", "quantity": 1}, {"source_code": "zz", "sku": "B", "quantity": 1}]
        body = {"source": {"entity": "stock_sources", "behavior": "append",
                           "validationStrategy": "validation-stop-on-errors", "allowedErrorCount": "0", "items": items}}
        st, ans = self.req("POST", "/rest/default/V1/import/json", body)
        self.assertEqual(ans, ['Row 2: Source code "zz" does not exists'])
        self.req("POST", "/__emulator/config", {"answers": "earlier", "sources": ["default", "zz"]}, token=None)
        st, ans = self.req("POST", "/rest/default/V1/import/json", body)
        self.assertEqual(ans, ["Entities Processed: 2"])

    def test_empty_invalid_and_malformed(self):
        self.assertEqual(self.csv_import("source_code,sku\n")[1], ["This file is empty. Please try another one."])
        st, ans = self.req("POST", "/rest/default/V1/import/csv", {"source": {
            "entity": "stock_sources", "behavior": "append", "validationStrategy": "validation-skip-errors",
            "allowedErrorCount": "0", "csvData": "not base64!"}})
        self.assertEqual(ans, ["Sorry, but the data is invalid or the file is not uploaded."])
        latin1 = base64.b64encode("sku,source_code\nD\xfcbel,default\n".encode("latin-1")).decode()
        st, ans = self.req("POST", "/rest/default/V1/import/csv", {"source": {
            "entity": "stock_sources", "behavior": "append", "validationStrategy": "validation-skip-errors",
            "allowedErrorCount": "0", "csvData": latin1}})
        self.assertEqual(ans, ["Sorry, but the data is invalid or the file is not uploaded."])
        st, ans = self.req("POST", "/rest/default/V1/import/csv", {"source": {"entity": "stock_sources"}})
        self.assertEqual(st, 400)
        self.assertEqual(ans["parameters"], {"fieldName": "behavior"})

    def test_request_fields_commerce_refuses_or_ignores(self):
        # validateSource(): getEntity() and initValidationStrategy() throw LocalizedExceptions,
        # StartImport answers their message with HTTP 200; getBehavior() defaults silently
        st, ans = self.csv_import("a\n1\n", entity="widgets")
        self.assertEqual((st, ans), (200, ["Entity is unknown"]))
        self.req("POST", "/__emulator/config", {"entities": ["catalog_product"]}, token=None)
        st, ans = self.csv_import("source_code,sku,quantity\ndefault,A,1\n")
        self.assertEqual((st, ans), (200, ["Entity is unknown"]))
        self.httpd.state.reset()
        st, ans = self.csv_import("source_code,sku,quantity\ndefault,A,1\n", strategy="validation-stop")
        self.assertEqual((st, ans), (200, ["ImportExport: Import Data validation - Validation strategy not found"]))
        st, ans = self.req("POST", "/rest/default/V1/import/csv", {"source": {
            "entity": "stock_sources", "behavior": "upsert", "validationStrategy": "validation-stop-on-errors",
            "allowedErrorCount": "0",
            "csvData": base64.b64encode(b"source_code,sku,quantity\ndefault,A,1\n").decode()}})
        self.assertEqual((st, ans), (200, ["Entities Processed: 1"]))
        # the payload is read first: a bad one is "Sorry, ..." whatever the entity
        st, ans = self.req("POST", "/rest/default/V1/import/csv", {"source": {
            "entity": "widgets", "behavior": "append", "validationStrategy": "validation-skip-errors",
            "allowedErrorCount": "0", "csvData": "not base64!"}})
        self.assertEqual(ans, ["Sorry, but the data is invalid or the file is not uploaded."])

    def test_snake_case_keys_and_json_items(self):
        st, ans = self.req("POST", "/rest/default/V1/import/json", {"source": {
            "entity": "stock_sources", "behavior": "append", "validation_strategy": "validation-skip-errors",
            "allowed_error_count": "0", "items": [{"source_code": "default", "sku": "A", "quantity": 1}]}})
        self.assertEqual((st, ans), (200, ["Entities Processed: 1"]))

    # --- authentication ---------------------------------------------------------
    def test_tokens(self):
        st, ans = self.req("POST", "/rest/default/V1/import/csv", {}, token="wrong")
        self.assertEqual(st, 401)
        self.assertEqual(ans["parameters"]["resources"], "Magento_ImportExport::import_api")
        st, tok = self.req("POST", "/rest/V1/integration/admin/token", {"username": "admin", "password": "pw"}, token=None)
        self.assertEqual(st, 200)
        self.assertIsInstance(tok, str)
        self.assertEqual(self.req("GET", "/rest/default/V1/orders", token=tok)[0], 200)
        self.req("POST", "/__emulator/expire", {}, token=None)
        self.assertEqual(self.req("GET", "/rest/default/V1/orders", token=tok)[0], 401)
        self.req("POST", "/__emulator/revoke", {"token": TOKEN}, token=None)
        self.assertEqual(self.req("GET", "/rest/default/V1/orders")[0], 401)
        self.httpd.state.revoked.clear()

    def test_unknown_store(self):
        st, ans = self.req("GET", "/rest/nosuch/V1/orders")
        self.assertEqual(st, 404)
        self.assertIn("store that was requested wasn't found", ans["message"])

    # --- searches ---------------------------------------------------------------
    def seed(self):
        orders = [{"entity_id": i, "increment_id": "0000%02d" % i, "status": "pending" if i % 2 else "processing",
                   "updated_at": "2026-11-26 10:%02d:00" % (i // 2)} for i in range(1, 11)]
        self.req("POST", "/__emulator/orders", orders, token=None)

    def search(self, query):
        return self.req("GET", "/rest/default/V1/orders?" + query)[1]

    def test_filter_groups_or_inside_and_across(self):
        self.seed()
        q = ("searchCriteria[filter_groups][0][filters][0][field]=status"
             "&searchCriteria[filter_groups][0][filters][0][value]=pending"
             "&searchCriteria[filter_groups][1][filters][0][field]=entity_id"
             "&searchCriteria[filter_groups][1][filters][0][value]=8"
             "&searchCriteria[filter_groups][1][filters][0][condition_type]=gt"
             "&searchCriteria[filter_groups][1][filters][1][field]=entity_id"
             "&searchCriteria[filter_groups][1][filters][1][value]=1"
             "&searchCriteria[filter_groups][1][filters][1][condition_type]=eq")
        ids = [o["entity_id"] for o in self.search(q)["items"]]
        self.assertEqual(sorted(ids), [1, 9])  # pending AND (id > 8 OR id = 1)

    def test_sorting_paging_and_the_clamp(self):
        self.seed()
        base = ("searchCriteria[sortOrders][0][field]=updated_at&searchCriteria[sortOrders][0][direction]=DESC"
                "&searchCriteria[sortOrders][1][field]=entity_id&searchCriteria[sortOrders][1][direction]=ASC"
                "&searchCriteria[pageSize]=4")
        p1 = self.search(base + "&searchCriteria[currentPage]=1")
        self.assertEqual(p1["total_count"], 10)
        self.assertEqual([o["entity_id"] for o in p1["items"]], [10, 8, 9, 6])
        p3 = self.search(base + "&searchCriteria[currentPage]=3")
        p9 = self.search(base + "&searchCriteria[currentPage]=9")  # out of range: the last page again
        self.assertEqual(p9["items"], p3["items"])
        self.assertEqual(len(p3["items"]), 2)

    def test_faults_and_journal(self):
        self.req("POST", "/__emulator/faults", [{"match": "/V1/orders", "status": 503, "retry_after": 2, "times": 1}], token=None)
        r = urllib.request.Request(self.base + "/rest/default/V1/orders")
        r.add_header("Authorization", "Bearer " + TOKEN)
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(r)
        self.assertEqual((e.exception.code, e.exception.headers["Retry-After"]), (503, "2"))
        self.assertEqual(self.req("GET", "/rest/default/V1/orders")[0], 200)
        journal = self.req("GET", "/__emulator/journal", token=None)[1]
        self.assertEqual([j["status"] for j in journal], [503, 200])


if __name__ == "__main__":
    unittest.main(verbosity=2)
