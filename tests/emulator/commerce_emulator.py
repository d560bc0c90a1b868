#!/usr/bin/env python3
"""An Adobe Commerce emulator for dropgate's tests and demo (Python 3 stdlib only).

It follows ../shared/commerce-api.md: admin and integration tokens, the bulk
import endpoints /V1/import/csv and /V1/import/json with both validation
strategies and Commerce's answer strings, and searches over orders, customers
and products with searchCriteria. It is test equipment, not product.

Control endpoints for tests (no authentication), under /__emulator/:
  GET  journal           every request: method, path, status, entity, rows, digest, answer,
                         time (answered), arrived, and "dropped": true when the answer
                         was lost (drop: after)
  GET  store             the imported rows per entity, in order
  POST faults            [{"match": "/V1/import/csv", "status": 503, "retry_after": "2",
                           "delay": 1.5, "drop": "after", "expire": true, "times": 3}, ...]
                         (expire: admin tokens expire just before that request;
                          after: N matching requests pass first; touch: [entity_id, ...]
                          orders get updated_at = touch_at just before that request)
  POST expire            admin tokens expire now
  POST revoke            {"token": "..."}: an integration token answers 401 for good
  POST orders            [order, ...]: seed or replace orders (by entity_id)
  POST products          [product, ...]: seed the catalog ({"id", "sku", ...})
  POST source-items      [{"sku", "source_code", "quantity", "status"}, ...]: seed MSI source
                         items; GET source-items: what Commerce holds (catalog_search.py)
  POST config            {"delay": seconds from an import's arrival to its answer,
                          "answers": "current" | "earlier", "sources": ["default", ...],
                          "entities": [the import entities Commerce has],
                          "columns": {"advanced_pricing": [the columns it accepts]}}
                         (columns: AdvancedPricing::$validColumnNames by default; an
                          installation's plugin or preference may change them)
  POST reset             forget store, journal, faults and orders
  The order loop back (orders, shipments, invoices, refunds, companies, the async bulk API
  and its consumer: orders.py, companies.py, bulk.py, sales_http.py) adds its own controls
  and options: tests/emulator/ORDERS.md.

Imports answer as Magento's StartImport does (see start_import): --answers current
(the default) names every bad row and refuses the request whole, except that
validation-skip-errors drops bad rows silently when one row is valid; --answers
earlier holds the errors to allowedErrorCount: stop-on-errors past it refuses with
"Data validation failed..." and names no row, skip-errors within it drops bad rows
silently, anything else names them. A header Commerce rejects (stock_sources and
advanced_pricing: Entity/AbstractEntity::validateData) is named as "Row 1: ..." on
either release. An entity Commerce lacks answers 200 ["Entity is unknown"], a bad
strategy 200 with ImportExport's sentence; an unknown behavior is the default one.
stock_sources rows must name a source Commerce has (--source, default "default").

advanced_pricing rows for a SKU the catalog lacks are rejected ("Product with
specified SKU not found") once the emulator knows any product, seeded or imported.
"""
import catalog_search  # GET /V1/inventory/source-items, before the stdlib: its own block
import argparse
import base64
import binascii
import csv
import gzip
import hashlib
import io
import json
import re
import secrets
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import bulk
import orders
from sales_http import SEARCHES, SalesRoutes

UNAUTHORIZED = {"message": "The consumer isn't authorized to access %resources.",
                "parameters": {"resources": "Magento_ImportExport::import_api"}}
ENTITIES = {"advanced_pricing", "catalog_product", "customer", "customer_address",
            "customer_composite", "customer_finance", "stock_sources"}
# Entity/AbstractEntity.php::getBehavior() keeps these; any other behavior is
# Import::getDefaultBehavior(), append, without a word (the customer entities' own
# ImportExport/Model/Import/AbstractEntity.php::getBehavior falls back to add_update)
BEHAVIORS = ("append", "add_update", "replace", "custom", "delete")
STRATEGIES = ("validation-stop-on-errors", "validation-skip-errors")
# Entity/AbstractEntity::validateData checks the header of these entities (the customer
# ones have their own AbstractEntity, catalog_product its attribute sets: not emulated).
# _permanentAttributes: the columns that must be there; VALID_COLUMNS: the entities with
# $needColumnCheck and their $validColumnNames (InventoryImportExport Model/Import/Sources.php
# sets neither: any well-formed column passes; AdvancedPricingImportExport
# Model/Import/AdvancedPricing.php sets both)
HEADER_CHECKED = {"stock_sources", "advanced_pricing"}
PERMANENT = {"advanced_pricing": ["sku"]}
VALID_COLUMNS = {"advanced_pricing": ["sku", "tier_price_website", "tier_price_customer_group",
                                      "tier_price_qty", "tier_price", "tier_price_value_type"]}
COLUMN_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
REQUIRED = {
    "stock_sources": ["source_code", "sku"],
    "advanced_pricing": ["sku", "tier_price_website", "tier_price_customer_group", "tier_price_qty"],
    "catalog_product": ["sku"],
    "customer": ["email", "_website"],
    "customer_address": ["_website", "_email"],
    "customer_composite": ["email", "_website"],
    "customer_finance": ["_email", "_website"],
}
KEYS = {
    "stock_sources": ["source_code", "sku"],
    "advanced_pricing": ["sku", "tier_price_website", "tier_price_customer_group", "tier_price_qty"],
    "catalog_product": ["sku", "store_view_code"],
    "customer": ["email", "_website"],
    "customer_composite": ["email", "_website"],
}
DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
PHP_NUMERIC = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")  # PHP 8 is_numeric()
EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>.]+$")
PRODUCT_TYPES = {"simple", "configurable", "virtual", "bundle", "grouped", "downloadable", "giftcard"}


def check_row(entity, row, sources=None):
    """The problems of one row, as Commerce words them (a list, empty when valid)."""
    if entity == "stock_sources":
        return check_source_item(row, sources or set())
    for col in REQUIRED.get(entity, []):
        if not row.get(col, ""):
            if col == "sku":
                return ["SKU is empty"]
            return ['Value for "%s" attribute is required' % col]
    sku = row.get("sku")
    if sku is not None and len(sku) > 64:
        return ["SKU is too long, max length is 64"]
    for col in ("quantity", "price", "tier_price", "tier_price_qty", "weight", "qty", "special_price"):
        v = row.get(col, "")
        if v and not DECIMAL.match(v):
            return ['Value for "%s" attribute contains incorrect value' % col]
    for col in ("status", "product_online", "is_in_stock"):
        v = row.get(col, "")
        if v and v not in ("0", "1"):
            return ['Value for "%s" attribute contains incorrect value' % col]
    v = row.get("product_type", "")
    if v and v not in PRODUCT_TYPES:
        return ["Product type is invalid or not supported"]
    v = row.get("tier_price_value_type", "")
    if v and v not in ("Fixed", "Discount"):
        return ["Value type is invalid"]
    for col in ("email", "_email"):
        v = row.get(col, "")
        if v and not EMAIL.match(v):
            return ["Please specify a valid email"]
    return []


def check_source_item(row, sources):
    """stock_sources rows as magento/inventory's InventoryImportExport validates them: the
    ValidatorChain of etc/di.xml runs sku, source, qty in that order and keeps every error
    (Model/Import/Validator/SkuValidator.php, SourceValidator.php, QtyValidator.php ::validate)."""
    problems = []
    if row.get("sku") is None:
        problems.append('Missing required column "sku"')
    code = row.get("source_code")
    if code is None:
        problems.append('Missing required column "source_code"')
    elif code not in sources:
        problems.append('Source code "%s" does not exists' % code)  # sic, Commerce's words
    qty = row.get("quantity")
    if qty is None:
        problems.append('Missing required column "quantity"')
    elif not PHP_NUMERIC.match(qty):
        problems.append('"quantity" contains incorrect value')
    return problems


def check_header(entity, behavior, columns, valid_columns):
    """The header's problems as Entity/AbstractEntity.php::validateData finds them, in its order
    (absent permanent columns, unknown ones, empty names, malformed names; the names of each
    kind joined with '", "' into one message, as addErrors() does). The name checks are skipped
    for the delete behavior. Any problem and no row is read at all."""
    if entity not in HEADER_CHECKED:
        return []
    problems = []
    absent = [c for c in PERMANENT.get(entity, []) if c not in columns]
    if absent:
        problems.append("We can't find required columns: %s." % '", "'.join(absent))
    if behavior != "delete":
        empty, malformed, unknown = [], [], []
        for n, col in enumerate(columns, start=1):
            if col.strip() == "":
                empty.append(str(n))
            elif not COLUMN_NAME.match(col):
                malformed.append(col)
            elif entity in valid_columns and col not in valid_columns[entity]:
                unknown.append(col)
        if unknown:
            problems.append('Header contains invalid attribute(s): "%s"' % '", "'.join(unknown))
        if empty:
            problems.append('Columns number: "%s" have empty headers' % '", "'.join(empty))
        if malformed:
            problems.append('Column names: "%s" are invalid' % '", "'.join(malformed))
    return problems


def php_int(v):
    """PHP's (int) of a string, as initValidationStrategy() casts allowedErrorCount: leading
    white space, a sign and digits; anything else is 0."""
    m = re.match(r"^[ \t\n\r\v\f]*([+-]?\d+)", str(v))
    return int(m.group(1)) if m else 0


def entities_processed(rows):
    """What "Entities Processed: N" counts: every row validated, good or bad, and rows
    with a sku column count once per distinct SKU (magento/magento2
    ImportExport/Model/Import/Entity/AbstractEntity.php::_saveValidatedBunches:
    `_processedEntitiesCount = count($skuSet) ?: _processedRowsCount`)."""
    skus = {r["sku"] for r in rows if "sku" in r}
    return len(skus) or len(rows)


def start_import(answers, strategy, allowed, rows, problems, header=()):
    """The answer of Magento's StartImport::execute for rows already read, and the rows it
    imports. problems[i] lists row i's errors, header the header's (check_header); allowed is
    allowedErrorCount as initValidationStrategy() reads it. Returns (answer, imported rows).

    A header problem stops validateData() before any row is read (getProcessedRowsCount() is
    0), and its error has no row number: both releases below name it "Row 1: ..."
    (getRowNumber() null, + 1), whatever the strategy, and import nothing.

    answers = "current": magento/magento2 ImportCsv/Model/StartImport.php::validate() (and
    ImportJson/Model/StartImport.php::validate(), the same rules): any error refuses the
    request whole and names every error as "Row N: ..." (getRowNumber() + 1, so N counts
    that request's data rows from 1) -- unless canSkipValidationErrors(): the strategy is
    validation-skip-errors and getValidatedIds() is not empty (one row is valid); then the
    errors are dropped without a word and processImport() answers "Entities Processed: N".
    allowedErrorCount plays no part in either: processImport() clears the error aggregator
    before importSource(), so hasToBeTerminated() sees only errors of the import itself.

    answers = "earlier": the ImportCsv StartImport whose processValidationResult() takes
    &$errors, with the ImportExport/Model/Import.php of its releases, whose validateSource()
    returns !isErrorLimitExceeded() (ProcessingErrorAggregator.php: only under
    validation-stop-on-errors, when the errors outnumber allowedErrorCount):
      - stop-on-errors past the allowance: "Data validation failed. Please fix the following
        errors and upload the file again.", then addMessageToSkipErrors() adds "Please fix
        errors and re-upload file" (row errors are ERROR_LEVEL_CRITICAL: hasFatalExceptions());
        no row is named;
      - skip-errors within the allowance: the aggregator is cleared and the rows that passed
        (the only ones _saveValidatedBunches() kept) are imported: "Entities Processed: N",
        even when none passed;
      - otherwise (stop-on-errors within it, skip-errors past it): collectErrors() names
        every error "Row N: ..." and nothing is imported.
    """
    if header:
        return ["Row 1: %s" % p for p in header], []
    if not rows:
        # validate() / processValidationResult(): no row processed and no error
        return ["This file is empty. Please try another one."], []
    bad = [(i, p) for i, ps in enumerate(problems, start=1) for p in ps]
    good = [r for r, ps in zip(rows, problems) if not ps]
    processed = ["Entities Processed: %d" % entities_processed(rows)]
    named = ["Row %d: %s" % (i, p) for i, p in bad]
    if not bad:
        return processed, good
    if answers == "earlier":
        if strategy == "validation-stop-on-errors" and len(bad) > allowed:
            return ["Data validation failed. Please fix the following errors and upload the file again.",
                    "Please fix errors and re-upload file"], []
        if strategy == "validation-skip-errors" and len(bad) <= allowed:
            return processed, good
        return named, []
    if strategy == "validation-skip-errors" and good:
        return processed, good
    return named, []


class State:
    def __init__(self, tokens, admins, admin_ttl, stores, sources=("default",), answers="current",
                 seed=None, consumer=True, bulk_delay=0.0, latency=0.0):
        self.lock = threading.Lock()
        # the order loop back (ORDERS.md): generated orders, the bulk consumer, answer latency
        self.initial_seed = seed  # {"orders": N, "items": K, "invoiced": bool} or None
        self.initial_consumer = {"running": consumer, "delay": bulk_delay}
        self.initial_latency = latency
        self.initial_sources = set(sources)
        self.initial_answers = answers
        self.integration = set(tokens)
        self.revoked = set()
        self.admins = dict(admins)
        self.admin_tokens = {}  # token -> expiry
        self.admin_ttl = admin_ttl
        self.stores = set(stores)
        self.reset()

    def reset(self):
        self.store = {}
        catalog_search.reset(self)
        self.journal = []
        self.faults = []
        self.orders = {}
        self.customers = {}
        self.products = {}
        self.delay = 0.0
        self.sources = set(self.initial_sources)  # inventory source codes Commerce has
        self.answers = self.initial_answers       # "current" or "earlier" StartImport
        self.entities = set(ENTITIES)             # import entities Commerce has (import.xml)
        self.columns = {k: list(v) for k, v in VALID_COLUMNS.items()}  # getValidColumnNames()
        self.shipments, self.invoices, self.creditmemos = {}, {}, {}
        self.companies, self.bulks, self.seq, self.stock_returns = {}, {}, {}, {}
        self.consumer = dict(self.initial_consumer)
        self.latency = self.initial_latency       # every REST answer leaves this long after arrival
        if self.initial_seed:
            seed = self.initial_seed
            for o in orders.generate(seed.get("orders", 0), seed.get("items", 3), seed.get("invoiced", False),
                                     1, seed.get("configurable", 0)):
                self.orders[o["entity_id"]] = o

    def take_fault(self, path):
        with self.lock:
            for f in self.faults:
                if "operation" in f:  # the consumer's (bulk.take_operation_fault)
                    continue
                if f.get("match", "") in path and f.get("times", 1) > 0:
                    if f.get("after", 0) > 0:  # let this many matching requests through first
                        f["after"] -= 1
                        continue
                    f["times"] = f.get("times", 1) - 1
                    if f.get("touch"):  # orders updated while a client pages
                        for oid in f["touch"]:
                            if oid in self.orders:
                                self.orders[oid]["updated_at"] = f.get("touch_at", "2026-11-27 23:59:59")
                    return dict(f)
        return None


class Handler(SalesRoutes, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes
    server_version = "CommerceEmulator/1.0"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("emulator: " + fmt % args + "\n")

    # --- plumbing -----------------------------------------------------------
    @property
    def st(self):
        return self.server.state

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send_json(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        if getattr(self, "arrived", None) and self.st.latency:
            # config latency: the answer leaves `latency` after the request arrived
            time.sleep(max(0.0, self.arrived + self.st.latency - time.time()))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def record(self, status, entity=None, rows=None, digest=None, answer=None, op=None):
        entry = {"n": 0, "method": self.command, "path": self.path.split("?")[0], "status": status,
                 "entity": entity, "rows": rows, "digest": digest, "answer": answer, "time": time.time(),
                 "arrived": getattr(self, "arrived", None), "op": op}
        with self.st.lock:
            entry["n"] = len(self.st.journal) + 1
            self.st.journal.append(entry)
        return entry

    def authorized(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return False
        tok = auth[7:].strip()
        with self.st.lock:
            if tok in self.st.integration and tok not in self.st.revoked:
                return True
            exp = self.st.admin_tokens.get(tok)
            return exp is not None and exp > time.time()

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def route(self, method):
        path = urllib.parse.urlparse(self.path).path
        self.arrived = None
        if path.startswith("/__emulator/"):
            return self.control(method, path[len("/__emulator/"):])
        self.arrived = time.time()
        fault = self.st.take_fault(path)
        if fault and fault.get("expire"):
            with self.st.lock:
                self.st.admin_tokens = {t: 0 for t in self.st.admin_tokens}
        if fault and fault.get("delay"):
            time.sleep(float(fault["delay"]))
        if fault and fault.get("status"):
            headers = {}
            if fault.get("retry_after") is not None:
                headers["Retry-After"] = str(fault["retry_after"])
            self.body()
            self.record(fault["status"])
            return self.send_json(fault["status"], {"message": "Service Unavailable"}, headers)
        if method == "POST" and path == "/rest/V1/integration/admin/token":
            return self.admin_token()
        # /rest/<store>/V1/..., /rest/V1/... (the default store), and the asynchronous bulk
        # routes /rest/<store>/async/bulk/V1/... (WebapiAsync AsynchronousRequestProcessor)
        m = re.match(r"^/rest/(?:([^/]+)/)??(async/bulk/)?V1/(.*)$", path)
        if not m:
            self.body()
            self.record(404)
            return self.send_json(404, {"message": "Request does not match any route."})
        store, is_bulk, route = m.group(1) or "default", m.group(2), m.group(3)
        raw = self.body() if method in ("POST", "PUT") else b""
        if not self.authorized():
            self.record(401)
            return self.send_json(401, UNAUTHORIZED)
        if method == "GET" and route in catalog_search.ROUTES and store in self.st.stores | {"all"}:
            status, answer = catalog_search.search(self.st, urllib.parse.urlparse(self.path).query, route)
            self.record(status)
            return self.send_json(status, answer)
        if store not in self.st.stores and store != "all":
            self.record(404)
            # Magento maps NoSuchEntityException to 404
            return self.send_json(404, {"message": "The store that was requested wasn't found. "
                                                   "Verify the store and try again."})
        if is_bulk:
            return self.bulk_post(method, route, raw, fault)
        if method == "POST" and route in ("import/csv", "import/json"):
            return self.import_(route, raw, fault)
        if method == "GET" and route in SEARCHES:
            return self.search(route)
        if self.bulk_status(method, route, fault) or self.sales(method, route, raw, fault):
            return None
        self.record(404)
        return self.send_json(404, {"message": "Request does not match any route."})

    # --- authentication -------------------------------------------------------
    def admin_token(self):
        try:
            req = json.loads(self.body() or b"{}")
        except ValueError:
            req = {}
        user, pw = req.get("username"), req.get("password")
        if user in self.st.admins and self.st.admins[user] == pw:
            tok = secrets.token_hex(16)
            with self.st.lock:
                self.st.admin_tokens[tok] = time.time() + self.st.admin_ttl
            self.record(200)
            return self.send_json(200, tok)
        self.record(401)
        return self.send_json(401, {"message": "The account sign-in was incorrect or your account is "
                                               "disabled temporarily. Please wait and try again later."})

    # --- import -----------------------------------------------------------------
    def import_(self, route, raw, fault):
        try:
            req = json.loads(raw)
            src = req["source"]
        except (ValueError, KeyError, TypeError):
            self.record(400)
            return self.send_json(400, {"message": "\"%fieldName\" is required. Enter and try again.",
                                        "parameters": {"fieldName": "source"}})
        # webapi maps snake_case keys onto the same fields
        norm = {}
        for k, v in src.items():
            norm[re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k)] = v
        for field in ("entity", "behavior", "validationStrategy", "allowedErrorCount"):
            if field not in norm:
                self.record(400)
                return self.send_json(400, {"message": "\"%fieldName\" is required. Enter and try again.",
                                            "parameters": {"fieldName": field}})
        entity, behavior, strategy = norm["entity"], norm["behavior"], norm["validationStrategy"]
        # StartImport::execute(): any exception other than a LocalizedException while reading
        invalid = ["Sorry, but the data is invalid or the file is not uploaded."]
        if route == "import/csv":
            try:
                data = base64.b64decode(norm.get("csvData", ""), validate=True)
                if data[:2] == b"\x1f\x8b":
                    data = gzip.decompress(data)
                text = data.decode("utf-8")
                reader = csv.DictReader(io.StringIO(text, newline=""),
                                        delimiter=norm.get("importFieldSeparator", ","))
                rows = list(reader)
                columns = list(reader.fieldnames or [])
                digest = hashlib.sha256(data).hexdigest()
            except (binascii.Error, ValueError, OSError, UnicodeDecodeError, csv.Error):
                self.record(200, entity, None, None, invalid)
                return self.send_json(200, invalid)
        else:
            items = norm.get("items")
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                self.record(200, entity, None, None, invalid)
                return self.send_json(200, invalid)
            rows = [{k: "" if v is None else str(v) for k, v in i.items()} for i in items]
            columns = list(items[0]) if items else []  # Import/Source/Json.php: the first item's keys
            digest = hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()
        if self.st.delay:
            # the answer comes `delay` after the request arrived, whatever our own work took
            time.sleep(max(0.0, self.arrived + self.st.delay - time.time()))
        with self.st.lock:
            catalog = {p.get("sku") for p in self.st.products.values()}
            catalog |= {r.get("sku") for r in self.st.store.get("catalog_product", [])}
            sources, answers = set(self.st.sources), self.st.answers
            entities, valid_columns = set(self.st.entities), dict(self.st.columns)
        # Import.php::validateSource() throws these LocalizedExceptions before it validates,
        # and StartImport answers with the message, HTTP 200: getErrorAggregator() needs the
        # entity adapter, and getEntity() throws "Entity is unknown" for an entity import.xml
        # lacks; then ProcessingErrorAggregator::initValidationStrategy() refuses a strategy
        # it does not know
        refusal = None
        if entity not in entities:
            refusal = ["Entity is unknown"]
        elif strategy not in STRATEGIES:
            refusal = ["ImportExport: Import Data validation - Validation strategy not found"]
        if refusal:
            self.record(200, entity, None, digest, refusal)
            return self.send_json(200, refusal)
        # getBehavior(): a behavior the entity does not know is its default, without a word;
        # rows are stored alike whatever the behavior, only the header checks skip delete
        if behavior not in BEHAVIORS:
            behavior = "append"
        # initValidationStrategy(): (int) allowedErrorCount
        allowed = php_int(norm["allowedErrorCount"])
        header = check_header(entity, behavior, columns, valid_columns)
        problems = []
        for row in rows:
            found = check_row(entity, row, sources)
            if not found and entity == "advanced_pricing" and catalog and row.get("sku") not in catalog:
                found = ["Product with specified SKU not found"]
            problems.append(found)
        answer, good = start_import(answers, strategy, allowed, rows, problems, header)
        if good:
            with self.st.lock:
                self.st.store.setdefault(entity, []).extend(good)
        entry = self.record(200, entity, len(rows), digest, answer)
        if fault and fault.get("drop") == "after":
            # applied, then the connection dies before the answer (the journal says so)
            entry["dropped"] = True
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        return self.send_json(200, answer)

    # --- search -----------------------------------------------------------------
    def search(self, route):
        qs = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query, keep_blank_values=True)
        groups, sorts, size, page = {}, {}, None, 1
        for k, vals in qs.items():
            v = vals[-1]
            m = re.match(r"searchCriteria\[filter_groups\]\[(\d+)\]\[filters\]\[(\d+)\]\[(\w+)\]$", k)
            if m:
                groups.setdefault(int(m.group(1)), {}).setdefault(int(m.group(2)), {})[m.group(3)] = v
                continue
            m = re.match(r"searchCriteria\[sortOrders\]\[(\d+)\]\[(\w+)\]$", k)
            if m:
                sorts.setdefault(int(m.group(1)), {})[m.group(2)] = v
            elif k == "searchCriteria[pageSize]":
                size = int(v)
            elif k == "searchCriteria[currentPage]":
                page = int(v)
        with self.st.lock:
            src = SEARCHES[route]  # copied below, once paged
            items = src(self.st) if callable(src) else list(getattr(self.st, src).values())
        for g in sorted(groups):
            filters = list(groups[g].values())
            for f in filters:  # an "in" list of a few hundred ids, tested against every order
                if f.get("condition_type") in ("in", "nin"):
                    f["_set"] = set(f.get("value", "").split(","))
            fields = {f.get("field") for f in filters}
            if len(fields) == 1 and all(f.get("condition_type") == "in" for f in filters):
                # the same answer as match(), without its per-item call (10,000 orders)
                field, ids = fields.pop(), set().union(*(f["_set"] for f in filters))
                items = [i for i in items if i.get(field) is not None and str(i.get(field)) in ids]
                continue
            items = [i for i in items if any(match(i, f) for f in filters)]  # OR inside a group
        for s in sorted(sorts, reverse=True):
            field, desc = sorts[s].get("field"), sorts[s].get("direction", "ASC").upper() == "DESC"
            items.sort(key=lambda i: sortkey(i.get(field)), reverse=desc)
        total = len(items)
        if size:
            last = max(1, (total + size - 1) // size)
            page = min(max(page, 1), last)  # Commerce clamps an out-of-range page to the last
            items = items[(page - 1) * size:page * size]
        with self.st.lock:
            items = [json.loads(json.dumps(o)) for o in items]
        self.record(200, op=route.split("/")[0] + ".search")
        return self.send_json(200, {"items": items, "search_criteria": {}, "total_count": total})

    # --- control ------------------------------------------------------------------
    def control(self, method, what):
        raw = self.body() if method == "POST" else b""
        req = json.loads(raw) if raw else None
        st = self.st
        with st.lock:
            if method == "GET" and what == "journal":
                return self.send_json(200, st.journal)
            if method == "GET" and what == "store":
                return self.send_json(200, st.store)
            answer = catalog_search.control(st, method, what, req)
            if answer:
                return self.send_json(*answer)
            if method == "POST" and what == "faults":
                st.faults.extend(req)
                return self.send_json(200, True)
            if method == "POST" and what == "expire":
                st.admin_tokens = {t: 0 for t in st.admin_tokens}
                return self.send_json(200, True)
            if method == "POST" and what == "revoke":
                st.revoked.add(req["token"])
                return self.send_json(200, True)
            if method == "POST" and what in ("orders", "customers", "products", "companies"):
                key = {"orders": "entity_id", "customers": "id", "products": "id", "companies": "id"}[what]
                target = getattr(st, what)
                for o in req:
                    target[o[key]] = o
                return self.send_json(200, len(target))
            if method == "POST" and what == "config":
                st.delay = float(req.get("delay", st.delay))
                if req.get("answers") in ("current", "earlier"):
                    st.answers = req["answers"]
                if "sources" in req:
                    st.sources = set(req["sources"])
                if "entities" in req:
                    st.entities = set(req["entities"])
                if "columns" in req:
                    st.columns.update(req["columns"])
                st.latency = float(req.get("latency", st.latency))
                return self.send_json(200, True)
            if self.sales_control(method, what, req):  # the order loop back (sales_http.py)
                return None
            if method == "POST" and what == "reset":
                st.reset()
                return self.send_json(200, True)
        return self.send_json(404, {"message": "unknown control " + what})


def sortkey(v):
    if isinstance(v, (int, float)):
        return (0, v, "")
    try:
        return (0, float(v), "")
    except (TypeError, ValueError):
        return (1, 0, "" if v is None else str(v))


def match(item, f):
    field, value, cond = f.get("field"), f.get("value", ""), f.get("condition_type", "eq")
    have = item.get(field)
    if have is None:
        return cond == "null"
    if cond in ("in", "nin"):
        ids = f.get("_set")
        if ids is None:
            ids = set(value.split(","))
        return (str(have) in ids) == (cond == "in")
    a, b = sortkey(have), sortkey(value)
    if cond == "eq":
        return a == b
    if cond == "neq":
        return a != b
    if cond == "gt":
        return a > b
    if cond == "gteq":
        return a >= b
    if cond == "lt":
        return a < b
    if cond == "lteq":
        return a <= b
    if cond == "like":
        pattern = "^" + re.escape(value).replace("%", ".*") + "$"
        return re.match(pattern, str(have)) is not None
    if cond == "notnull":
        return True
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--token", action="append", default=[], help="an integration token")
    ap.add_argument("--token-file", action="append", default=[], help="a file holding one")
    ap.add_argument("--admin", action="append", default=[], help="USER:PASSWORD of an admin")
    ap.add_argument("--admin-ttl", type=float, default=4 * 3600)
    ap.add_argument("--store", action="append", default=[], help="store view codes (default: default)")
    ap.add_argument("--source", action="append", default=[],
                    help="an inventory source code Commerce has (default: default)")
    ap.add_argument("--answers", choices=("current", "earlier"), default="current",
                    help="import answers of current Commerce releases (rows named) or earlier ones")
    ap.add_argument("--orders", type=int, default=0, help="generate N orders (ORDERS.md)")
    ap.add_argument("--order-items", type=int, default=3, help="items per generated order")
    ap.add_argument("--invoiced", action="store_true", help="generated orders are fully invoiced")
    ap.add_argument("--configurable", type=int, default=0, metavar="M",
                    help="the first item of every M-th generated order is a configurable with a child")
    ap.add_argument("--consumer", choices=("running", "stopped"), default="running",
                    help="the bulk consumer (async.operations.all) at start")
    ap.add_argument("--bulk-delay", type=float, default=0.0,
                    help="seconds a bulk's operations stay open before the consumer takes them")
    ap.add_argument("--latency", type=float, default=0.0,
                    help="every REST answer leaves this many seconds after its request arrived")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    tokens = list(a.token)
    for f in a.token_file:
        with open(f) as fh:
            tokens.append(fh.read().strip())
    admins = [x.split(":", 1) for x in a.admin]
    httpd = ThreadingHTTPServer((a.host, a.port), Handler)
    httpd.daemon_threads = True
    seed = ({"orders": a.orders, "items": a.order_items, "invoiced": a.invoiced, "configurable": a.configurable}
            if a.orders else None)
    httpd.state = State(tokens, admins, a.admin_ttl, a.store or ["default"],
                        a.source or ["default"], a.answers, seed=seed,
                        consumer=a.consumer == "running", bulk_delay=a.bulk_delay, latency=a.latency)
    bulk.start_consumer(httpd.state)
    httpd.verbose = a.verbose
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    port = httpd.server_address[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as fh:
            fh.write("%d\n" % port)
        import os
        os.rename(a.port_file + ".tmp", a.port_file)
    sys.stderr.write("commerce emulator listening on %s:%d\n" % (a.host, port))
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
