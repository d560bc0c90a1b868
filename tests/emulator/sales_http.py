"""The Commerce emulator's HTTP side of the order loop back (issue 13, ORDERS.md): the
route tables and the Handler methods for orders, companies and the bulk API. The answers
themselves are orders.py, companies.py and bulk.py, each citing the Magento module it follows.
"""
import json
import re

import bulk
import companies
import orders

# GET routes answered by search(): the State attribute each one searches, or a function
# of the State giving the rows (the journal's op is the route's first part + ".search")
SEARCHES = {"orders": "orders", "customers/search": "customers", "products": "products",
            "shipments": "shipments", "invoices": "invoices", "creditmemos": "creditmemos",
            "company": "companies",
            # OperationRepositoryInterface::getList(): every bulk's operations (bulk.operations)
            "bulk": bulk.operations}
# (method, route with numeric ids as :id) -> (journal op, call(state, id, body))
SALES = {
    ("POST", "order/:id/ship"): ("ship", orders.ship),
    ("POST", "order/:id/invoice"): ("invoice", orders.invoice),
    ("POST", "order/:id/refund"): ("refund", orders.refund),
    ("POST", "orders/:id/comments"): ("comment", orders.comment),
    ("POST", "orders/:id/cancel"): ("cancel", orders.cancel),
    ("POST", "orders/:id/hold"): ("hold", orders.hold),
    ("POST", "orders/:id/unhold"): ("unhold", orders.unhold),
    # CompanyRepositoryInterface::save() for both: the PUT's path id is not used (companies.save)
    ("POST", "company"): ("company.create", lambda st, _id, body: companies.save(st, body)),
    ("PUT", "company/:id"): ("company.update", lambda st, _id, body: companies.save(st, body)),
    ("GET", "company/:id"): ("company.get", lambda st, cid, _body: companies.get(st, cid)),
    # OrderRepository::get(): the order, 404 when there is none
    ("GET", "orders/:id"): ("order.get",
                            lambda st, oid, _body: json.loads(json.dumps(orders.get_order(st, oid)))),
}


class SalesRoutes:
    """Mixed into commerce_emulator.Handler (its record(), send_json() and st)."""

    def answer(self, status, obj, op, fault, entity=None, rows=None):
        """Record and send an answer; a drop: after fault loses it once it is applied."""
        entry = self.record(status, entity, rows, None, obj, op=op)
        if fault and fault.get("drop") == "after":
            entry["dropped"] = True
            self.close_connection = True
            self.connection.shutdown(2)
            return True
        self.send_json(status, obj)
        return True

    def sales(self, method, route, raw, fault):
        """The synchronous order and company endpoints; False when the route is not one."""
        m = SALES.get((method, re.sub(r"/\d+(?=/|$)", "/:id", route)))
        if not m:
            return False
        op, call = m
        ids = re.findall(r"/(\d+)(?=/|$)", route)
        try:
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            # Webapi\Rest\Request\Deserializer\Json::deserialize()
            return self.answer(400, {"message": "Decoding error: \nSyntax error"}, op, None)
        with self.st.lock:
            try:
                bulk.check_body(op, None, body)
                status, result = 200, call(self.st, ids[0] if ids else None, body)
            except orders.Refusal as e:
                status, result = e.status, e.body()
        return self.answer(status, result, op, fault)

    def bulk_post(self, method, route, raw, fault):
        """POST /rest/<store>/async/bulk/V1/<route>: bulk.schedule(), HTTP 202."""
        if route not in bulk.ROUTES or bulk.ROUTES[route][2] != method:
            self.record(404, op="bulk")
            return self.send_json(404, {"message": "Request does not match any route."})
        try:
            elements = json.loads(raw)
        except ValueError:
            return self.answer(400, {"message": "Decoding error: \nSyntax error"}, "bulk", None)
        if not isinstance(elements, list):
            # the emulator's own refusal: Commerce's resolver was not read for this case
            return self.answer(400, {"message": "A bulk request body is a JSON array of operations."},
                               "bulk", None)
        with self.st.lock:
            try:
                status = 202
                result = bulk.schedule(self.st, route, elements, (fault or {}).get("reject", ()))
            except orders.Refusal as e:
                status, result = e.status, e.body()
            bulk.start_consumer(self.st)
        return self.answer(status, result, "bulk", fault, entity=bulk.ROUTES[route][0], rows=len(elements))

    def bulk_status(self, method, route, fault):
        """GET /V1/bulk/{uuid}/detailed-status; False when the route is another."""
        m = re.match(r"^bulk/([^/]+)/detailed-status$", route)
        if method != "GET" or not m:
            return False
        with self.st.lock:
            try:
                status, result = 200, bulk.detailed_status(self.st, m.group(1))
            except orders.Refusal as e:
                status, result = e.status, e.body()
        return self.answer(status, result, "bulk.status", fault)

    def sales_control(self, method, what, req):
        """The order loop back's controls under /__emulator/ (the caller holds the lock);
        False when `what` is none of them."""
        st = self.st
        if method == "POST" and what == "generate":
            for o in orders.generate(int(req.get("orders", 0)), int(req.get("items", 3)),
                                     bool(req.get("invoiced")), int(req.get("first", 1)),
                                     int(req.get("configurable", 0))):
                st.orders[o["entity_id"]] = o
            self.send_json(200, len(st.orders))
            return True
        if method == "POST" and what == "consumer":
            if "running" in req:
                st.consumer["running"] = bool(req["running"])
            st.consumer["delay"] = float(req.get("delay", st.consumer["delay"]))
            bulk.start_consumer(st)
            self.send_json(200, st.consumer)
            return True
        if method == "GET" and what == "orders":
            self.send_json(200, list(st.orders.values()))
            return True
        if method == "GET" and what == "documents":
            self.send_json(200, {"shipments": list(st.shipments.values()),
                                 "invoices": list(st.invoices.values()),
                                 "creditmemos": list(st.creditmemos.values()),
                                 "stock_returns": st.stock_returns})
            return True
        if method == "GET" and what == "companies":
            self.send_json(200, list(st.companies.values()))
            return True
        if method == "GET" and what == "bulks":
            self.send_json(200, list(st.bulks.values()))
            return True
        return False
