#!/usr/bin/env python3
"""The emulator's order loop back (issue 13, ORDERS.md): orders and their documents, their
refusals as Magento's modules word them, B2B companies, the async bulk API and its consumer."""
import http.client
import json
import os
import sys
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import commerce_emulator as ce  # noqa: E402
from http.server import ThreadingHTTPServer  # noqa: E402

TOKEN = "test-token"
FULLY_SHIPPED = ("Shipment Document Validation Error(s):\nThe order does not allow a shipment to be created.\n"
                 "You can't create a shipment without products.")


def criteria(field, value, cond="eq", size=None, page=None):
    q = {"searchCriteria[filter_groups][0][filters][0][field]": field,
         "searchCriteria[filter_groups][0][filters][0][value]": value,
         "searchCriteria[filter_groups][0][filters][0][condition_type]": cond}
    if size:
        q["searchCriteria[pageSize]"] = size
    if page:
        q["searchCriteria[currentPage]"] = page
    return urllib.parse.urlencode(q)


class OrdersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.httpd = ThreadingHTTPServer(("127.0.0.1", 0), ce.Handler)
        cls.httpd.daemon_threads = True
        cls.httpd.state = ce.State([TOKEN], [], 3600, ["default"])
        cls.httpd.verbose = False
        cls.port = cls.httpd.server_address[1]
        cls.base = "http://127.0.0.1:%d" % cls.port
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()

    def setUp(self):
        self.httpd.state.reset()
        self.control("generate", {"orders": 20, "items": 3})
        self.control("generate", {"orders": 10, "items": 2, "invoiced": True, "first": 101})

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

    def control(self, what, body=None):
        return self.req("POST" if body is not None else "GET", "/__emulator/" + what, body, token=None)[1]

    def order(self, oid):
        return [o for o in self.control("orders") if o["entity_id"] == oid][0]

    def post(self, path, body):
        return self.req("POST", "/rest/default/V1/" + path, body)

    def bulk(self, route, elements, method="POST"):
        st, ans = self.req(method, "/rest/default/async/bulk/V1/" + route, elements)
        self.assertEqual(st, 202)
        return ans

    def status(self, uuid):
        st, ans = self.req("GET", "/rest/default/V1/bulk/%s/detailed-status" % uuid)
        self.assertEqual(st, 200)
        return ans

    def settled(self, uuid, timeout=3.0):
        end = time.time() + timeout
        while time.time() < end:
            ans = self.status(uuid)
            if all(o["status"] != 4 for o in ans["operations_list"]):
                return ans
            time.sleep(0.02)
        self.fail("operations still open")

    def ops(self):
        return [j["op"] for j in self.control("journal")]

    # --- orders -----------------------------------------------------------------------
    def test_generated_orders_are_deterministic_and_searchable_by_increment_id(self):
        o = self.order(4)
        self.assertEqual(o["increment_id"], "100000004")
        self.assertEqual([(i["item_id"], i["sku"], i["qty_ordered"]) for i in o["items"]],
                         [(10, "SKU-0028", 2), (11, "SKU-0029", 3), (12, "SKU-0030", 1)])
        self.assertEqual((o["state"], o["status"]), ("new", "pending"))
        inv = self.order(101)
        self.assertEqual((inv["state"], [i["qty_invoiced"] for i in inv["items"]]), ("processing", [3, 1]))
        q = criteria("increment_id", "100000003,100000017,100000101,999", "in", size=2)
        st, p1 = self.req("GET", "/rest/default/V1/orders?" + q)
        self.assertEqual((st, p1["total_count"], len(p1["items"])), (200, 3, 2))
        st, p2 = self.req("GET", "/rest/default/V1/orders?" + q + "&searchCriteria%5BcurrentPage%5D=2")
        got = sorted(o["increment_id"] for o in p1["items"] + p2["items"])
        self.assertEqual(got, ["100000003", "100000017", "100000101"])
        self.assertIn("qty_shipped", p2["items"][0]["items"][0])
        self.assertEqual(self.ops(), ["orders.search", "orders.search"])
        st, one = self.req("GET", "/rest/default/V1/orders/3")
        self.assertEqual((st, one["increment_id"]), (200, "100000003"))
        self.assertEqual(self.req("GET", "/rest/default/V1/orders/999")[0], 404)

    # --- ship ---------------------------------------------------------------------------
    def test_ship_cuts_quantities_and_ignores_foreign_items_silently(self):
        # ShipmentFactory::prepareItems(): min(requested, left to ship); an item the order
        # lacks is never looked at
        st, sid = self.post("order/4/ship", {"items": [{"order_item_id": 10, "qty": 9},
                                                       {"order_item_id": 1, "qty": 1}],
                                             "notify": True,
                                             "tracks": [{"track_number": "1Z9", "title": "UPS", "carrier_code": "ups"}]})
        self.assertEqual((st, type(sid)), (200, int))
        o = self.order(4)
        self.assertEqual([i["qty_shipped"] for i in o["items"]], [2, 0, 0])
        self.assertEqual((o["state"], o["status"]), ("processing", "processing"))
        st, found = self.req("GET", "/rest/default/V1/shipments?" + criteria("order_id", "4"))
        self.assertEqual(found["total_count"], 1)
        s = found["items"][0]
        self.assertEqual((s["entity_id"], s["order_id"], s["total_qty"]), (sid, 4, 2))
        self.assertEqual([(i["order_item_id"], i["sku"], i["qty"]) for i in s["items"]], [(10, "SKU-0028", 2)])
        self.assertEqual([(t["track_number"], t["carrier_code"], t["title"]) for t in s["tracks"]],
                         [("1Z9", "ups", "UPS")])
        # a later line for the same item wins (the document factory's $items[id] = qty)
        st, _ = self.post("order/4/ship", {"items": [{"order_item_id": 11, "qty": 3}, {"order_item_id": 11, "qty": 1}]})
        self.assertEqual([i["qty_shipped"] for i in self.order(4)["items"]], [2, 1, 0])
        # a fraction is cast to int (ShipmentFactory::castQty): 0.5 of item 12 ships nothing
        st, ans = self.post("order/4/ship", {"items": [{"order_item_id": 12, "qty": 0.5}]})
        self.assertEqual(ans["message"], "Shipment Document Validation Error(s):\n"
                                         "You can't create a shipment without products.")
        # no items at all: everything left
        self.post("order/4/ship", {"items": []})
        self.assertEqual([i["qty_shipped"] for i in self.order(4)["items"]], [2, 3, 1])

    def test_ship_refusals(self):
        self.post("order/5/ship", {})
        st, ans = self.post("order/5/ship", {"items": [{"order_item_id": 13, "qty": 1}]})
        self.assertEqual((st, ans), (400, {"message": FULLY_SHIPPED}))
        # only foreign items: the shipment is empty (QuantityValidator), the order could ship
        st, ans = self.post("order/6/ship", {"items": [{"order_item_id": 1, "qty": 1}]})
        self.assertEqual(ans["message"], "Shipment Document Validation Error(s):\n"
                                         "You can't create a shipment without products.")
        st, ans = self.post("order/6/ship", {"tracks": [{"title": "DHL", "carrier_code": "dhl"}]})
        self.assertEqual((st, ans["message"]), (400, "Shipment Document Validation Error(s):\n"
                                                     "Please enter a tracking number."))
        self.assertEqual(self.post("orders/6/hold", {}), (200, True))
        st, ans = self.post("order/6/ship", {})
        self.assertEqual(ans["message"], "Shipment Document Validation Error(s):\n"
                                         "A shipment cannot be created when an order has a status of holded")
        st, ans = self.post("order/999/ship", {})
        self.assertEqual((st, ans["message"]), (404, ce.orders.NO_ENTITY))
        st, ans = self.post("order/0/ship", {})
        self.assertEqual((st, ans["message"]), (400, ce.orders.NO_ID))
        self.assertEqual([i["qty_shipped"] for i in self.order(6)["items"]], [0, 0, 0])

    def test_configurable_items_ship_by_the_parent(self):
        # Item::isDummy(): the child of a configurable has nothing to ship, invoice or refund of
        # its own; asked for alone, the shipment is empty
        self.control("generate", {"orders": 1, "items": 2, "first": 40, "configurable": 4})
        o = self.order(40)
        parent, child, other = o["items"]
        self.assertEqual((parent["product_type"], child["parent_item_id"], child["sku"], child["item_id"]),
                         ("configurable", parent["item_id"], parent["sku"], 1000000 + parent["item_id"]))
        st, ans = self.post("order/40/ship", {"items": [{"order_item_id": child["item_id"], "qty": 1}]})
        self.assertEqual(ans["message"], "Shipment Document Validation Error(s):\n"
                                         "You can't create a shipment without products.")
        st, ans = self.post("order/40/invoice", {"items": [{"order_item_id": child["item_id"], "qty": 1}]})
        self.assertEqual(ans["message"], "Invoice Document Validation Error(s):\n"
                                         "You can't create an invoice without products.")
        self.assertEqual(self.post("order/40/ship", {"items": [{"order_item_id": parent["item_id"], "qty": 1}]})[0], 200)
        self.assertEqual([i["qty_shipped"] for i in self.order(40)["items"]], [1, 1, 0])

    # --- invoice ------------------------------------------------------------------------
    def test_invoice_refuses_over_quantities_and_completes_the_order(self):
        # InvoiceService::setInvoiceItemQuantity() throws before any validator runs
        st, ans = self.post("order/4/invoice", {"capture": True, "items": [{"order_item_id": 10, "qty": 5}]})
        self.assertEqual((st, ans), (400, {"message": 'We found an invalid quantity to invoice item "%1".',
                                           "parameters": ["Product 0"]}))
        st, ans = self.post("order/4/invoice", {"items": [{"order_item_id": 1, "qty": 1}]})
        self.assertEqual(ans["message"], "Invoice Document Validation Error(s):\nYou can't create an invoice without products.")
        st, iid = self.post("order/4/invoice", {"items": [{"order_item_id": 10, "qty": 2}, {"order_item_id": 1, "qty": 1}]})
        self.assertEqual((st, type(iid)), (200, int))
        self.assertEqual([i["qty_invoiced"] for i in self.order(4)["items"]], [2, 0, 0])
        self.assertEqual(self.order(4)["state"], "processing")
        self.post("order/4/invoice", {"capture": True})
        self.post("order/4/ship", {})
        o = self.order(4)
        self.assertEqual((o["state"], o["status"]), ("complete", "complete"))
        st, ans = self.post("order/4/invoice", {})
        self.assertEqual(ans["message"], "Invoice Document Validation Error(s):\nYou can't create an invoice without "
                                         "products.\nAn invoice cannot be created when an order has a status of complete.")
        st, found = self.req("GET", "/rest/default/V1/invoices?" + criteria("order_id", "4"))
        self.assertEqual(found["total_count"], 2)
        self.assertEqual(found["items"][0]["grand_total"], 2 * 10.0 + 5.0)  # the first takes the shipping

    # --- refund -------------------------------------------------------------------------
    def test_refund_with_return_to_stock_and_its_refusals(self):
        o = self.order(101)  # items 201 (qty 3, 10.0) and 202 (qty 1, 11.0), invoiced
        ids = [i["item_id"] for i in o["items"]]
        st, ans = self.post("order/101/refund", {"items": [{"order_item_id": ids[0], "qty": 4}]})
        self.assertEqual((st, ans["message"]), (400, "Creditmemo Document Validation Error(s):\n"
                         'The quantity to creditmemo must not be greater than the unrefunded quantity for product SKU "%s".\n'
                         "The quantity to refund must not be greater than the unrefunded quantity." % o["items"][0]["sku"]))
        st, ans = self.post("order/101/refund", {"items": [{"order_item_id": 1, "qty": 1}]})
        self.assertIn("The creditmemo contains product item that is not part of the original order.", ans["message"])
        st, ans = self.post("order/101/refund", {"items": [{"order_item_id": ids[0], "qty": 1}],
                                                 "arguments": {"extension_attributes": {"return_to_stock_items": [ids[1]]}}})
        self.assertEqual(ans["message"], 'Creditmemo Document Validation Error(s):\nThe "%s" product is not part '
                                         "of the current creditmemo." % o["items"][1]["sku"])
        st, cid = self.post("order/101/refund", {"items": [{"order_item_id": ids[0], "qty": 2}], "notify": True,
                                                 "arguments": {"shipping_amount": 0, "adjustment_negative": 1,
                                                               "extension_attributes": {"return_to_stock_items": [ids[0]]}}})
        self.assertEqual((st, type(cid)), (200, int))
        docs = self.control("documents")
        self.assertEqual(docs["stock_returns"], {o["items"][0]["sku"]: 2})
        self.assertEqual(docs["creditmemos"][0]["grand_total"], 19.0)
        self.assertEqual([i["qty_refunded"] for i in self.order(101)["items"]], [2, 0])
        st, ans = self.post("order/101/refund", {"arguments": {"shipping_amount": 6}})
        self.assertEqual((st, ans), (400, {"message": "Maximum shipping amount allowed to refund is: %1",
                                           "parameters": ["\u20ac5.00"]}))
        st, found = self.req("GET", "/rest/default/V1/creditmemos?" + criteria("order_id", "101"))
        self.assertEqual(found["total_count"], 1)
        # the rest, shipping included: all that was paid is refunded, the order is closed
        self.assertEqual(self.post("order/101/refund", {"arguments": {"adjustment_positive": 1}})[0], 200)
        self.assertEqual(self.order(101)["state"], "closed")
        st, ans = self.post("order/101/refund", {})
        self.assertTrue(ans["message"].startswith("Creditmemo Document Validation Error(s):\n"
                                                  "A creditmemo can not be created when an order has a status of closed"))
        # nothing invoiced, nothing to refund
        st, ans = self.post("order/4/refund", {})
        self.assertIn("The order does not allow a creditmemo to be created.", ans["message"])

    # --- comments, cancel, hold --------------------------------------------------------
    def test_comment_sets_the_status(self):
        st, ans = self.post("orders/4/comments", {"statusHistory": {"comment": "Packed", "status": "packed",
                                                                    "is_customer_notified": 1, "is_visible_on_front": 1}})
        self.assertEqual((st, ans), (200, True))
        o = self.order(4)
        self.assertEqual((o["state"], o["status"]), ("new", "packed"))
        self.assertEqual([(h["comment"], h["status"], h["is_customer_notified"]) for h in o["status_histories"]],
                         [("Packed", "packed", 1)])

    def test_cancel_can_answer_false(self):
        # OrderService::cancel(): canCancel() false (everything invoiced) answers false, HTTP 200
        self.assertEqual(self.post("orders/101/cancel", {}), (200, False))
        self.assertEqual(self.order(101)["state"], "processing")
        self.post("order/4/ship", {"items": [{"order_item_id": 10, "qty": 1}]})
        self.assertEqual(self.post("orders/4/cancel", {}), (200, True))
        o = self.order(4)
        self.assertEqual((o["state"], [i["qty_canceled"] for i in o["items"]]), ("canceled", [1, 3, 1]))
        self.assertEqual(self.post("orders/4/cancel", {}), (200, False))
        # Order::registerCancellation(): invoiced, unrefunded quantity keeps the order processing
        self.post("order/6/invoice", {"items": [{"order_item_id": 16, "qty": 1}]})
        self.assertEqual(self.post("orders/6/cancel", {}), (200, True))
        o = self.order(6)
        self.assertEqual((o["state"], [i["qty_canceled"] for i in o["items"]]), ("processing", [0, 2, 3]))

    def test_hold_and_unhold(self):
        self.assertEqual(self.post("orders/4/unhold", {}), (400, {"message": "You cannot remove the hold."}))
        self.assertEqual(self.post("orders/4/hold", {}), (200, True))
        self.assertEqual(self.order(4)["state"], "holded")
        self.assertEqual(self.post("orders/4/hold", {}), (400, {"message": "A hold action is not available."}))
        self.assertEqual(self.post("orders/4/unhold", {}), (200, True))
        self.assertEqual((self.order(4)["state"], self.order(4)["status"]), ("new", "pending"))

    # --- companies ----------------------------------------------------------------------
    def test_company_create_search_update(self):
        self.control("customers", [{"id": 7, "email": "boss@acme.example", "firstname": "A", "lastname": "B"},
                                   {"id": 8, "email": "other@acme.example"}])
        company = {"company_name": "ACME", "company_email": "office@acme.example", "street": ["1 Road"],
                   "city": "Berlin", "country_id": "DE", "region_id": 82, "postcode": "10115",
                   "telephone": "030 1", "customer_group_id": 1, "super_user_id": 7, "vat_tax_id": "DE1"}
        # SaveValidator\CompanyAdmin: an unknown super user is thrown at once (404)
        st, ans = self.post("company", {"company": dict(company, super_user_id=9)})
        self.assertEqual((st, ans), (404, {"message": "No such entity with %fieldName = %fieldValue",
                                           "parameters": {"fieldName": "customerId", "fieldValue": 9}}))
        # SaveValidator\CustomerGroup: a missing group too, ahead of the required fields
        st, ans = self.post("company", {"company": {k: v for k, v in company.items() if k != "customer_group_id"}})
        self.assertEqual((st, ans["parameters"]), (404, {"fieldName": "customerGroupId", "fieldValue": None}))
        # RequiredFields: one error is that error, several are listed
        st, ans = self.post("company", {"company": {k: v for k, v in company.items() if k != "city"}})
        self.assertEqual((st, ans), (400, {"message": '"%fieldName" is required. Enter and try again.',
                                           "parameters": {"fieldName": "city"}}))
        st, ans = self.post("company", {"company": dict(company, city="", region_id=None)})
        self.assertEqual((st, ans["message"]), (400, "One or more input exceptions have occurred."))
        self.assertEqual([e["parameters"] for e in ans["errors"]],
                         [{"fieldName": "city"}, {"fieldName": "region_id", "value": None}])
        st, created = self.post("company", {"company": company})
        self.assertEqual((st, created["company_name"], created["status"], created["id"]), (200, "ACME", 0, 1))
        st, found = self.req("GET", "/rest/default/V1/customers/search?" + criteria("email", "boss@acme.example"))
        self.assertEqual(found["items"][0]["extension_attributes"]["company_attributes"]["company_id"], 1)
        # the super user now belongs to ACME: not the admin of another company; the email is taken
        st, ans = self.post("company", {"company": dict(company, company_name="Other")})
        self.assertEqual([e["message"] for e in ans["errors"]],
                         ["This customer is a user of a different company. Enter a different email address to continue.",
                          "Company with this email address already exists in the system. Enter a different email "
                          "address to continue."])
        st, found = self.req("GET", "/rest/default/V1/company?" + criteria("company_email", "office@acme.example"))
        self.assertEqual([c["id"] for c in found["items"]], [created["id"]])
        # PUT replaces the record the BODY's id names: vat_tax_id left out is gone; the path is not used
        update = {k: v for k, v in company.items() if k != "vat_tax_id"}
        st, ans = self.req("PUT", "/rest/default/V1/company/99", {"company": dict(update, id=1, city="Köln")})
        self.assertEqual((st, ans["id"], ans["city"], "vat_tax_id" in ans), (200, 1, "Köln", False))
        self.assertEqual(self.req("GET", "/rest/default/V1/company/1")[1]["city"], "Köln")
        st, ans = self.req("PUT", "/rest/default/V1/company/1", {"company": dict(update, id=5)})
        self.assertEqual((st, ans["parameters"]), (404, {"fieldName": "companyId", "fieldValue": 5}))
        # without an id in the body a PUT creates a company
        st, ans = self.req("PUT", "/rest/default/V1/company/1", {"company": dict(update, company_email="b@acme.example",
                                                                                  super_user_id=8)})
        self.assertEqual((st, ans["id"]), (200, 2))
        self.assertEqual(len(self.control("companies")), 2)
        st, ans = self.req("GET", "/rest/default/V1/company/3")
        self.assertEqual((st, ans["parameters"]), (404, {"fieldName": "id", "fieldValue": "3"}))
        self.assertEqual(self.ops()[-3:], ["company.update", "company.update", "company.get"])

    # --- async bulk -----------------------------------------------------------------------
    def test_bulk_ship_accepted_rejected_and_detailed_status(self):
        self.control("consumer", {"running": False})
        # an element without its path parameter refuses the whole request (InputParamsResolver)
        st, ans = self.req("POST", "/rest/default/async/bulk/V1/order/byOrderId/ship",
                           [{"orderId": 4}, {"items": []}])
        self.assertEqual((st, ans), (400, {"message": '"%fieldName" is required. Enter and try again.',
                                           "parameters": {"fieldName": "orderId"}}))
        self.assertEqual(self.control("bulks"), [])
        # an element that is not an object gets no request item; a rejected one (a fault here)
        self.control("faults", [{"match": "/async/bulk/", "reject": [3]}])
        ans = self.bulk("order/byOrderId/ship", [
            {"orderId": 4, "items": [{"order_item_id": 10, "qty": 2}], "tracks": [{"track_number": "A1"}]},
            "x", {"orderId": 999, "items": []}, {"orderId": 5}])
        self.assertEqual([(i["id"], i["status"]) for i in ans["request_items"]],
                         [(0, "accepted"), (2, "accepted"), (3, "rejected")])
        self.assertTrue(ans["errors"])
        self.assertEqual(len(ans["request_items"][0]["data_hash"]), 64)
        time.sleep(0.1)
        st = self.status(ans["bulk_uuid"])
        self.assertEqual([(o["id"], o["status"]) for o in st["operations_list"]], [(0, 4), (2, 4)])
        self.assertEqual(st["operation_count"], 2)
        self.assertEqual(self.order(4)["items"][0]["qty_shipped"], 0)  # nothing runs while stopped
        self.control("consumer", {"running": True})
        st = self.settled(ans["bulk_uuid"])
        ok, missing = st["operations_list"]
        self.assertEqual((ok["status"], ok["result_message"]),
                         (1, "Service execution success Magento\\Sales\\Model\\ShipOrder\\Interceptor::execute"))
        self.assertEqual(type(json.loads(ok["result_serialized_data"])), int)
        self.assertEqual((missing["status"], missing["result_message"], missing["error_code"]),
                         (3, ce.orders.NO_ENTITY, 0))
        self.assertEqual(self.order(4)["items"][0]["qty_shipped"], 2)
        self.assertEqual(ok["topic_name"], "async.V1.order.orderId.ship.POST")
        # a refusal comes back as the synchronous message, status 3
        ans = self.bulk("order/byOrderId/ship", [{"orderId": 5}, {"orderId": 5}])
        st = self.settled(ans["bulk_uuid"])
        self.assertEqual([o["status"] for o in st["operations_list"]], [1, 3])
        self.assertEqual(st["operations_list"][1]["result_message"], FULLY_SHIPPED)
        self.assertEqual(self.ops().count("bulk"), 3)  # the refused one too

    def test_bulk_other_routes(self):
        self.control("customers", [{"id": 7, "email": "boss@acme.example"}])
        company = {"company_name": "ACME", "company_email": "o@acme.example", "street": ["1"], "city": "X",
                   "country_id": "NL", "postcode": "1", "telephone": "1", "customer_group_id": 1, "super_user_id": 7}
        runs = [("order/byOrderId/invoice", [{"orderId": 4, "capture": True}]),
                ("orders/byId/comments", [{"id": 5, "statusHistory": {"comment": "hi", "status": "waiting"}}]),
                ("orders/byId/cancel", [{"id": 101}, {"id": 6}]),
                ("orders/byId/hold", [{"id": 7}]),
                ("order/byOrderId/refund", [{"orderId": 102, "items": [{"order_item_id": 203, "qty": 1}]}]),
                ("company", [{"company": company}])]
        uuids = [self.bulk(r, els)["bulk_uuid"] for r, els in runs]
        results = [[(o["status"], o["result_serialized_data"]) for o in self.settled(u)["operations_list"]]
                   for u in uuids]
        self.assertEqual(results[2], [(1, "false"), (1, "true")])  # cancel completes with false
        self.assertEqual([r[0][0] for r in results], [1, 1, 1, 1, 1, 1])
        cid = json.loads(results[5][0][1])["id"]
        u = self.bulk("company/byCompanyId", [{"companyId": cid, "company": dict(company, id=cid, city="Y")}],
                      method="PUT")
        self.assertEqual(self.settled(u["bulk_uuid"])["operations_list"][0]["status"], 1)
        self.assertEqual([c["city"] for c in self.control("companies")], ["Y"])
        self.assertEqual((self.order(5)["status"], self.order(6)["state"], self.order(7)["state"]),
                         ("waiting", "canceled", "holded"))
        st, ans = self.req("POST", "/rest/default/async/bulk/V1/order/byOrderId/ship", {"orderId": 4})
        self.assertEqual(st, 400)  # not an array
        st, ans = self.req("POST", "/rest/default/async/bulk/V1/orders/byId/comments", [{"id": 4}])
        self.assertEqual((st, ans["parameters"]), (400, {"fieldName": "statusHistory"}))
        st, ans = self.post("orders/4/comments", {})
        self.assertEqual((st, ans["parameters"]), (400, {"fieldName": "statusHistory"}))
        st, ans = self.req("POST", "/rest/default/async/bulk/V1/order/byOrderId/nothing", [])
        self.assertEqual(st, 404)
        st, ans = self.req("GET", "/rest/default/V1/bulk/no-such-uuid/detailed-status")
        self.assertEqual((st, ans["parameters"]), (404, {"bulkUuid": "no-such-uuid"}))

    def test_bulk_search_lists_operations_with_their_request(self):
        # GET /V1/bulk (OperationRepositoryInterface::getList): every bulk's operations, filtered
        # on status, topic_name, bulk_uuid, paged; open ones keep the element they carry
        self.control("consumer", {"running": False})
        a = self.bulk("order/byOrderId/ship", [{"orderId": 4, "tracks": [{"track_number": "T4"}]},
                                               {"orderId": 5}])
        b = self.bulk("orders/byId/hold", [{"id": 6}])
        st, ans = self.req("GET", "/rest/default/V1/bulk?" + criteria("status", "4"))
        self.assertEqual((st, ans["total_count"]), (200, 3))
        first = ans["items"][0]
        self.assertEqual(sorted(first), ["bulk_uuid", "error_code", "id", "result_message",
                                         "result_serialized_data", "serialized_data", "status", "topic_name"])
        self.assertEqual((first["bulk_uuid"], first["topic_name"], first["status"]),
                         (a["bulk_uuid"], "async.V1.order.orderId.ship.POST", 4))
        sd = json.loads(first["serialized_data"])
        self.assertEqual((sd["entity_id"], sd["entity_link"]), (None, ""))
        self.assertEqual(json.loads(sd["meta_information"]),
                         {"orderId": 4, "tracks": [{"track_number": "T4"}]})
        self.assertEqual(len({i["id"] for i in ans["items"]}), 3, "row ids, unique across bulks")
        st, ans = self.req("GET", "/rest/default/V1/bulk?" + criteria("topic_name", "async.V1.orders.id.hold.POST"))
        self.assertEqual([i["bulk_uuid"] for i in ans["items"]], [b["bulk_uuid"]])
        st, ans = self.req("GET", "/rest/default/V1/bulk?" + criteria("bulk_uuid", a["bulk_uuid"], size=1, page=2))
        self.assertEqual((ans["total_count"], len(ans["items"])), (2, 1))
        self.assertEqual(json.loads(json.loads(ans["items"][0]["serialized_data"])["meta_information"]),
                         {"orderId": 5})
        # run: done ones drop their request (OperationProcessor), refused ones keep it
        self.control("consumer", {"running": True})
        self.settled(a["bulk_uuid"])
        self.settled(b["bulk_uuid"])
        st, ans = self.req("GET", "/rest/default/V1/bulk?" + criteria("status", "4"))
        self.assertEqual(ans["total_count"], 0)
        st, ans = self.req("GET", "/rest/default/V1/bulk?" + criteria("bulk_uuid", a["bulk_uuid"]))
        self.assertEqual([(i["status"], i["serialized_data"] is None) for i in ans["items"]],
                         [(1, True), (1, True)])
        self.assertEqual(self.ops().count("bulk.search"), 5)
        st, _ = self.req("GET", "/rest/default/V1/bulk?" + criteria("status", "4"), token=None)
        self.assertEqual(st, 401)

    def test_bulk_operations_stay_open_for_the_delay(self):
        self.control("consumer", {"delay": 0.3})
        ans = self.bulk("order/byOrderId/ship", [{"orderId": 4}])
        self.assertEqual(self.status(ans["bulk_uuid"])["operations_list"][0]["status"], 4)
        time.sleep(0.45)
        self.assertEqual(self.status(ans["bulk_uuid"])["operations_list"][0]["status"], 1)

    def test_lost_bulk_answer_still_applies(self):
        self.control("faults", [{"match": "/async/bulk/", "drop": "after"}])
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        conn.request("POST", "/rest/default/async/bulk/V1/order/byOrderId/ship", json.dumps([{"orderId": 4}]),
                     {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            conn.getresponse()
        conn.close()
        end = time.time() + 3
        while time.time() < end and not self.control("documents")["shipments"]:
            time.sleep(0.02)
        self.assertEqual(len(self.control("documents")["shipments"]), 1)
        j = [e for e in self.control("journal") if e["op"] == "bulk"]
        self.assertTrue(j[0]["dropped"])
        self.assertEqual(len(self.control("bulks")), 1)

    def test_operation_faults_and_failing_the_nth_request(self):
        self.control("faults", [{"operation": "ship", "result": 2, "times": 1},
                                {"match": "/async/bulk/", "after": 1, "status": 503}])
        a = self.bulk("order/byOrderId/ship", [{"orderId": 4}, {"orderId": 5}])
        st = self.settled(a["bulk_uuid"])
        self.assertEqual([(o["status"], o["error_code"]) for o in st["operations_list"]], [(2, 1205), (1, None)])
        self.assertIn("Lock wait timeout", st["operations_list"][0]["result_message"])
        self.assertEqual(self.order(4)["items"][0]["qty_shipped"], 0)  # a failed operation changes nothing
        st, _ = self.req("POST", "/rest/default/async/bulk/V1/order/byOrderId/ship", [{"orderId": 4}])
        self.assertEqual(st, 503)
        self.bulk("order/byOrderId/ship", [{"orderId": 4}])

    def test_latency(self):
        self.control("config", {"latency": 0.15})
        t = time.time()
        self.post("orders/4/hold", {})
        self.assertGreaterEqual(time.time() - t, 0.15)
        t = time.time()
        self.control("journal")  # controls are not delayed
        self.assertLess(time.time() - t, 0.15)

    def test_rest_without_store_is_the_default_store(self):
        st, ans = self.req("GET", "/rest/V1/orders?" + criteria("increment_id", "100000001"))
        self.assertEqual((st, ans["total_count"]), (200, 1))
        st, ans = self.req("POST", "/rest/async/bulk/V1/orders/byId/hold", [{"id": 1}])
        self.assertEqual(st, 202)


if __name__ == "__main__":
    unittest.main(verbosity=2)
