"""Orders, their documents and B2B companies for the Commerce emulator (issue 13).

Each operation takes the emulator's State (its lock held by the caller) and a request body
and returns the answer body, or raises Refusal(http status, message[, parameters]). What
each one does follows the Magento module that serves it, cited beside it (magento/magento2,
app/code/Magento/...). ORDERS.md describes the protocol for tests.
"""
import time

# Magento\Sales\Model\OrderRepository::get(): NoSuchEntityException, which webapi answers 404
# (the 2.3+ wording; the copy in the index, older, says "Requested entity doesn't exist"), and
# for an id of 0 an InputException (400; older: "Id required")
NO_ENTITY = "The entity that was requested doesn't exist. Verify the entity and try again."
NO_ID = "An ID is needed. Set the ID and try again."


class Refusal(Exception):
    """A Magento exception as webapi answers it: LocalizedException 400, NoSuchEntity 404."""

    def __init__(self, status, message, parameters=None):
        super().__init__(message)
        self.status, self.message, self.parameters = status, message, parameters

    def body(self):
        b = {"message": self.message}
        if self.parameters is not None:
            b["parameters"] = self.parameters
        if getattr(self, "errors", None):  # an InputException with several errors
            b["errors"] = self.errors
        return b

    def rendered(self):
        """The message with its %name placeholders filled, as getMessage() gives it."""
        m, params = self.message, self.parameters or {}
        if isinstance(params, list):  # Phrase placeholders %1, %2, ...
            params = {str(n): v for n, v in enumerate(params, 1)}
        for k, v in params.items():
            m = m.replace("%" + k, str(v))
        return m


def now():
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return 0.0


def qty_out(v):
    return int(v) if float(v).is_integer() else v


# --- generated orders ------------------------------------------------------------------
def generate(count, items=3, invoiced=False, first=1, configurable=0):
    """count deterministic orders (ORDERS.md gives the formulas tests may rely on). With
    configurable=N, the first item of every order whose entity_id N divides is a configurable
    product: the parent item (product_type configurable) keeps the item's id, sku and qty, and
    a child item (simple, the same sku, parent_item_id the parent's, price 0) follows it with
    item_id 1000000 + the parent's, as Magento orders configurable products."""
    orders = []
    for e in range(first, first + count):
        its = []
        for k in range(items):
            qty, price = 1 + (e + k) % 3, 10.0 + k
            it = {"item_id": (e - 1) * items + k + 1, "order_id": e,
                  "sku": "SKU-%04d" % ((e * 7 + k) % 10000), "name": "Product %d" % k,
                  "product_type": "simple", "qty_ordered": qty, "qty_shipped": 0,
                  "qty_invoiced": qty if invoiced else 0, "qty_refunded": 0, "qty_canceled": 0,
                  "price": price, "row_total": qty * price, "is_virtual": 0}
            its.append(it)
            if k == 0 and configurable and e % configurable == 0:
                it["product_type"] = "configurable"
                its.append(dict(it, item_id=1000000 + it["item_id"], product_type="simple",
                                parent_item_id=it["item_id"], price=0.0, row_total=0.0))
        subtotal = sum(i["row_total"] for i in its)
        o = {"entity_id": e, "increment_id": "%09d" % (100000000 + e),
             "state": "processing" if invoiced else "new", "status": "processing" if invoiced else "pending",
             "customer_email": "customer%d@example.com" % e, "order_currency_code": "EUR",
             "created_at": "2026-11-26 10:00:00", "updated_at": "2026-11-26 10:00:00",
             "subtotal": subtotal, "shipping_amount": 5.0, "grand_total": subtotal + 5.0,
             "total_paid": subtotal + 5.0 if invoiced else 0.0, "total_refunded": 0.0,
             "shipping_refunded": 0.0, "is_virtual": 0, "items": its, "status_histories": []}
        orders.append(o)
    return orders


# --- quantities as Magento\Sales\Model\Order\Item computes them ---------------------------
def is_child(i):
    """Item::isDummy(): the child of a configurable item (it is not ship-separately and its
    children are not calculated) is a dummy for shipping, invoicing and refunds alike: its
    getQtyToShip/ToInvoice/ToRefund() are 0 and the parent carries the quantities."""
    return bool(i.get("parent_item_id"))


def to_ship(i):
    # Item::getQtyToShip(): ordered - shipped - refunded - canceled, not below 0
    if is_child(i):
        return 0
    return max(num(i.get("qty_ordered")) - num(i.get("qty_shipped")) - num(i.get("qty_refunded"))
               - num(i.get("qty_canceled")), 0)


def to_invoice(i):
    # Item::getQtyToInvoice(): ordered - invoiced - canceled
    if is_child(i):
        return 0
    return max(num(i.get("qty_ordered")) - num(i.get("qty_invoiced")) - num(i.get("qty_canceled")), 0)


def to_refund(i):
    # Item::getQtyToRefund(): invoiced - refunded
    if is_child(i):
        return 0
    return max(num(i.get("qty_invoiced")) - num(i.get("qty_refunded")), 0)


def to_cancel(i):
    # Item::getQtyToCancel(): min(to invoice, to ship)
    return min(to_invoice(i), to_ship(i))


def get_order(st, oid):
    try:
        o = st.orders.get(int(oid))
    except (TypeError, ValueError):
        o = None
    if not oid or str(oid) == "0":
        raise Refusal(400, NO_ID)
    if o is None:
        raise Refusal(404, NO_ENTITY)
    return o


def items_of(o):
    return o.setdefault("items", [])


def can_ship(o):
    return any(to_ship(i) > 0 and not i.get("is_virtual") for i in items_of(o))


def can_invoice(o):
    # Order::canInvoice(): not in payment_review/holded/canceled/complete/closed, something left
    if o.get("state") in ("payment_review", "holded", "canceled", "complete", "closed"):
        return False
    return any(to_invoice(i) > 0 for i in items_of(o))


def can_creditmemo(o):
    # Order::canCreditmemo(): something paid and not all of it refunded
    return abs(num(o.get("total_paid")) - num(o.get("total_refunded"))) >= .0001


def order_can_ship(o):
    # Order::canShip(): not held, in payment review, virtual or canceled, and an item with
    # something left to ship that is not wholly refunded
    if o.get("state") in ("holded", "payment_review", "canceled") or o.get("is_virtual"):
        return False
    return any(to_ship(i) > 0 and not i.get("is_virtual")
               and num(i.get("qty_refunded")) != num(i.get("qty_ordered")) for i in items_of(o))


def settle_state(o):
    """Magento\\Sales\\Model\\ResourceModel\\Order\\Handler\\State::check() on each save: a new
    order in process becomes processing; once nothing is left to invoice (and it is neither
    canceled nor held), processing/complete becomes closed when nothing can be refunded or
    shipped any more, else processing becomes complete when nothing is left to ship (or what
    is not shipped was refunded: isPartiallyRefundedOrderShipped())."""
    if o.get("state") == "new":
        o["state"], o["status"] = "processing", "processing"
    if o.get("state") in ("canceled", "holded") or can_invoice(o):
        return
    ship_left = order_can_ship(o)
    shipped = sum(int(num(i.get("qty_shipped"))) for i in items_of(o))
    refunded = sum(int(num(i.get("qty_refunded"))) for i in items_of(o)
                   if i.get("product_type", "simple") == "simple")
    ordered = sum(num(i.get("qty_ordered")) for i in items_of(o))
    partly_refunded_shipped = shipped > 0 and ordered <= refunded + shipped
    if (o["state"] in ("processing", "complete") and not can_creditmemo(o) and not ship_left
            and not o.get("is_virtual")):
        o["state"], o["status"] = "closed", "closed"
    elif o["state"] == "processing" and (not ship_left or partly_refunded_shipped):
        o["state"], o["status"] = "complete", "complete"


def mirror_children(o, field):
    """A configurable's child follows its parent (the dummy's quantities are registered with
    the parent's: approximated here by copying them)."""
    parents = {int(i["item_id"]): i for i in items_of(o)}
    for i in items_of(o):
        if is_child(i) and int(i["parent_item_id"]) in parents:
            i[field] = parents[int(i["parent_item_id"])].get(field, 0)


def next_id(st, kind):
    st.seq[kind] = st.seq.get(kind, 0) + 1
    return st.seq[kind]


def item_qtys(body_items):
    """{order_item_id: qty} as the document factories build it: a later line for the same
    item replaces an earlier one (ShipmentDocumentFactory / InvoiceDocumentFactory::create:
    $items[$item->getOrderItemId()] = $item->getQty())."""
    out = {}
    for it in body_items or []:
        if isinstance(it, dict) and "order_item_id" in it:
            try:
                out[int(it["order_item_id"])] = num(it.get("qty"))
            except (TypeError, ValueError):
                continue
    return out


def document_error(kind, messages):
    # ShipOrder / InvoiceOrder / RefundOrder::execute(): DocumentValidationException (a
    # LocalizedException: HTTP 400), the messages under one heading, one a line
    return Refusal(400, "%s Document Validation Error(s):\n" % kind + "\n".join(messages))


# --- POST /V1/order/{orderId}/ship ------------------------------------------------------
def ship(st, oid, body):
    """Magento\\Sales\\Model\\ShipOrder::createShipment()."""
    o = get_order(st, oid)
    asked = item_qtys(body.get("items"))
    # Order\ShipmentFactory::prepareItems(): walks the ORDER's items: an item with nothing
    # left to ship is skipped, a requested one gets min(requested, left to ship) -- cut
    # down without a word -- an item id the order lacks is never looked at, and no items
    # at all ship everything left
    lines = []
    for i in items_of(o):
        if i.get("is_virtual") or to_ship(i) <= 0:
            continue
        iid = int(i["item_id"])
        if iid in asked:
            q = min(asked[iid], to_ship(i))
        elif not asked:
            q = to_ship(i)
        else:
            continue
        # ShipmentFactory::castQty(): (int) unless the item takes decimal quantities
        q = q if i.get("is_qty_decimal") else int(q)
        lines.append((i, max(q, 0)))
    tracks = [t for t in body.get("tracks") or [] if isinstance(t, dict)]
    # Order\Validation\ShipOrder::validate(): CanShip, then the shipment's
    # QuantityValidator and TrackValidator, merged in that order (ValidatorResultMerger)
    messages = []
    if o.get("state") in ("payment_review", "holded", "canceled") or o.get("is_virtual"):
        # Order\Validation\CanShip::validate() (the order's status, not its state)
        messages.append("A shipment cannot be created when an order has a status of %s" % o.get("status"))
    elif not can_ship(o):
        messages.append("The order does not allow a shipment to be created.")
    if not lines:
        # Order\Shipment\Validation\QuantityValidator::validate(): empty getItems()
        messages.append("You can't create a shipment without products.")
    elif sum(q for _, q in lines) <= 0:
        messages.append("You can't create a shipment without products.")
    for t in tracks:
        if not t.get("track_number"):
            # Order\Shipment\Validation\TrackValidator::validate()
            messages.append("Please enter a tracking number.")
    if messages:
        raise document_error("Shipment", messages)
    sid = next_id(st, "shipment")
    # Order\Shipment\OrderRegistrar::register(): each item's qty_shipped grows
    for i, q in lines:
        i["qty_shipped"] = qty_out(num(i.get("qty_shipped")) + q)
    mirror_children(o, "qty_shipped")
    settle_state(o)  # ShipOrder: a new order becomes processing; State::check on save
    o["updated_at"] = now()
    doc = {"entity_id": sid, "increment_id": "%09d" % (100000000 + sid), "order_id": o["entity_id"],
           "store_id": 1, "total_qty": qty_out(sum(q for _, q in lines)), "created_at": now(),
           "updated_at": now(), "email_sent": 1 if body.get("notify") else None,
           "items": [{"entity_id": sid * 1000 + n, "parent_id": sid, "order_item_id": i["item_id"],
                      "sku": i.get("sku"), "name": i.get("name"), "price": i.get("price"),
                      "qty": qty_out(q)} for n, (i, q) in enumerate(lines, 1)],
           "tracks": [{"entity_id": sid * 1000 + n, "parent_id": sid, "order_id": o["entity_id"],
                       "track_number": t.get("track_number"), "title": t.get("title"),
                       "carrier_code": t.get("carrier_code"), "created_at": now()}
                      for n, t in enumerate(tracks, 1)],
           "comments": [], "packages": []}
    st.shipments[sid] = doc
    return sid  # ShipOrder returns $shipment->getEntityId(): the answer is the bare int


# --- POST /V1/order/{orderId}/invoice ---------------------------------------------------
def invoice(st, oid, body):
    """Magento\\Sales\\Model\\InvoiceOrder::createInvoice()."""
    o = get_order(st, oid)
    asked = item_qtys(body.get("items"))
    # Service\InvoiceService::prepareInvoice(): every order item that canInvoiceItem()
    # (something left to invoice) goes on the invoice: with the requested qty, with all that
    # is left when nothing was requested, else with 0; a requested item id the order lacks
    # is never looked at. setInvoiceItemQuantity() casts the qty to int (unless the item
    # takes decimals) and throws at the first item asked for more than it has left to
    # invoice: a plain LocalizedException (400) naming the item, before any validator -- so
    # InvoiceQuantityValidator's own over-quantity message ('The quantity to invoice must
    # not be greater than the uninvoiced quantity for product SKU "%1".') is not reached
    # through this endpoint
    lines = []
    for i in items_of(o):
        if to_invoice(i) <= 0:
            continue
        iid = int(i["item_id"])
        q = asked[iid] if iid in asked else (0 if asked else to_invoice(i))
        q = max(q if i.get("is_qty_decimal") else int(q), 0)
        if q > to_invoice(i):
            raise Refusal(400, 'We found an invalid quantity to invoice item "%1".', [i.get("name")])
        lines.append((i, q))
    # Order\Validation\InvoiceOrder::validate(): InvoiceQuantityValidator, then CanInvoice
    messages = []
    if sum(q for _, q in lines) <= 0:
        messages.append("You can't create an invoice without products.")
    if not can_invoice(o):
        # Order\Validation\CanInvoice::validate()
        messages.append("An invoice cannot be created when an order has a status of %s." % o.get("status"))
    if messages:
        raise document_error("Invoice", messages)
    iid = next_id(st, "invoice")
    first = not any(d["order_id"] == o["entity_id"] for d in st.invoices.values())
    rows = sum(q * num(i.get("price")) for i, q in lines)
    total = rows + (num(o.get("shipping_amount")) if first else 0)  # Invoice\Total\Shipping: the first one
    for i, q in lines:
        i["qty_invoiced"] = qty_out(num(i.get("qty_invoiced")) + q)
    mirror_children(o, "qty_invoiced")
    o["total_paid"] = num(o.get("total_paid")) + total  # Order\PaymentAdapter::pay()
    settle_state(o)  # InvoiceOrder: getStateForOrder(IN_PROGRESS)
    o["updated_at"] = now()
    st.invoices[iid] = {"entity_id": iid, "increment_id": "%09d" % (100000000 + iid),
                        "order_id": o["entity_id"], "state": 2, "grand_total": total,
                        "total_qty": qty_out(sum(q for _, q in lines)),
                        "capture": bool(body.get("capture")), "created_at": now(),
                        "items": [{"order_item_id": i["item_id"], "sku": i.get("sku"), "qty": qty_out(q),
                                   "price": i.get("price"), "row_total": q * num(i.get("price"))}
                                  for i, q in lines if q]}
    return iid


# --- POST /V1/order/{orderId}/refund ----------------------------------------------------
def refund(st, oid, body):
    """Magento\\Sales\\Model\\RefundOrder::execute()."""
    o = get_order(st, oid)
    asked = item_qtys(body.get("items"))
    args = body.get("arguments") or {}
    ext = args.get("extension_attributes") or {}
    stock = [int(x) for x in ext.get("return_to_stock_items") or [] if str(x).lstrip("-").isdigit()]
    by_id = {int(i["item_id"]): i for i in items_of(o)}
    # Order\CreditmemoFactory::createByOrder(): the requested qty of each order item that
    # can be refunded, not cut down; all that is left when nothing was requested
    lines, asked_any = [], bool(asked)
    for i in items_of(o):
        iid = int(i["item_id"])
        if is_child(i):
            # the creditmemo validators exempt dummies (isDummy()) and the factory takes a
            # child's quantity from its parent: a child asked for alone refunds nothing
            asked.pop(iid, None)
            continue
        if iid in asked:
            lines.append((i, asked[iid]))
        elif not asked_any and to_refund(i) > 0:
            lines.append((i, to_refund(i)))
    shipping_left = num(o.get("shipping_amount")) - num(o.get("shipping_refunded"))
    shipping = num(args["shipping_amount"]) if args.get("shipping_amount") is not None else shipping_left
    if shipping > shipping_left + .0001:
        # Order\Creditmemo\Total\Shipping::collect() (collectTotals() while the factory builds
        # the credit memo, before any validator): a plain LocalizedException, the amount
        # formatted in the order's base currency
        symbol = {"EUR": "\u20ac", "USD": "$", "GBP": "\u00a3"}.get(o.get("order_currency_code"), "")
        raise Refusal(400, "Maximum shipping amount allowed to refund is: %1",
                      ["%s%.2f" % (symbol, shipping_left)])
    plus, minus = num(args.get("adjustment_positive")), num(args.get("adjustment_negative"))
    total = sum(q * num(i.get("price")) for i, q in lines) + shipping + plus - minus
    # Order\Validation\RefundOrder::validate(): CanRefund, the creditmemo's QuantityValidator
    # and TotalsValidator, then CreationQuantityValidator for each requested item
    messages = []
    if o.get("state") in ("payment_review", "holded", "canceled", "closed"):
        # Order\Validation\CanRefund::validate()
        messages.append("A creditmemo can not be created when an order has a status of %s" % o.get("status"))
    elif not any(to_refund(i) for i in items_of(o)):
        messages.append("The order does not allow a creditmemo to be created.")
    if not can_creditmemo(o):
        messages.append("We can't create creditmemo for the order.")
    for i, q in lines:
        # Creditmemo\Validation\QuantityValidator::validate() (newer releases, per its unit
        # test, also refuse a fraction of an item that takes no decimals)
        if not i.get("is_qty_decimal") and q != int(q):
            messages.append('We found an invalid quantity to refund item "%s".' % i.get("sku"))
        elif q > to_refund(i):
            messages.append('The quantity to creditmemo must not be greater than the unrefunded quantity'
                            ' for product SKU "%s".' % i.get("sku"))
    if total <= 0:
        messages.append("The credit memo's total must be positive.")
    elif total - (num(o.get("total_paid")) - num(o.get("total_refunded"))) > .0001:
        # Creditmemo\Validation\TotalsValidator::validate(): the raw float, not a price
        messages.append("The most money available to refund is %s."
                        % qty_out(round(num(o.get("total_paid")) - num(o.get("total_refunded")), 2)))
    for iid, q in asked.items():
        # Creditmemo\Item\Validation\CreationQuantityValidator::validate()
        if iid not in by_id:
            messages.append("The creditmemo contains product item that is not part of the original order.")
        elif q > to_refund(by_id[iid]):
            messages.append("The quantity to refund must not be greater than the unrefunded quantity.")
    # SalesInventory Model\Order\ReturnValidator::validate() (a plugin on RefundOrder's
    # validator): each return_to_stock item must be on this creditmemo
    on_memo = {int(i["item_id"]) for i, q in lines}
    for x in stock:
        if x not in by_id:
            messages.append("The return to stock argument contains product item that is not part "
                            "of the original order.")
            break
        if x not in on_memo:
            messages.append('The "%s" product is not part of the current creditmemo.' % by_id[x].get("sku"))
            break
    if messages:
        raise document_error("Creditmemo", messages)
    cid = next_id(st, "creditmemo")
    for i, q in lines:
        i["qty_refunded"] = qty_out(num(i.get("qty_refunded")) + q)
        if int(i["item_id"]) in stock:  # SalesInventory ReturnProcessor: back to the source
            st.stock_returns[i.get("sku")] = qty_out(st.stock_returns.get(i.get("sku"), 0) + q)
    mirror_children(o, "qty_refunded")
    o["total_refunded"] = num(o.get("total_refunded")) + total
    o["shipping_refunded"] = num(o.get("shipping_refunded")) + shipping
    settle_state(o)
    o["updated_at"] = now()
    st.creditmemos[cid] = {"entity_id": cid, "increment_id": "%09d" % (100000000 + cid),
                           "order_id": o["entity_id"], "state": 2, "grand_total": total,
                           "shipping_amount": shipping, "adjustment_positive": plus,
                           "adjustment_negative": minus, "created_at": now(),
                           "email_sent": 1 if body.get("notify") else None,
                           "items": [{"order_item_id": i["item_id"], "sku": i.get("sku"), "qty": qty_out(q),
                                      "price": i.get("price"), "row_total": q * num(i.get("price")),
                                      "back_to_stock": int(i["item_id"]) in stock} for i, q in lines if q],
                           "extension_attributes": {"return_to_stock_items": stock}}
    return cid


# --- POST /V1/orders/{id}/comments, cancel, hold, unhold ----------------------------------
def comment(st, oid, body):
    """Service\\OrderService::addComment(): Order::addStatusHistory() sets the order's status to
    the history's, with no check that the status exists or fits the state (magento/magento2
    issue #32968), saves, answers true. A history without status keeps the order's: releases
    before the fix of issue #34180 (AC-1342) set the status to null instead."""
    o = get_order(st, oid)
    h = body.get("statusHistory") or body.get("status_history") or {}
    status = h.get("status") or o.get("status")
    o["status"] = status
    hist = o.setdefault("status_histories", [])
    hist.append({"entity_id": next_id(st, "history"), "parent_id": o["entity_id"], "entity_name": "order",
                 "comment": h.get("comment"), "status": status, "created_at": now(),
                 "is_customer_notified": int(bool(h.get("is_customer_notified"))),
                 "is_visible_on_front": int(bool(h.get("is_visible_on_front")))})
    o["updated_at"] = now()
    return True


def can_cancel(o):
    # Order::canCancel(): not held, not in payment review / canceled / complete / closed,
    # and not when every item is fully invoiced
    if o.get("state") in ("holded", "payment_review", "canceled", "complete", "closed"):
        return False
    return any(to_invoice(i) > 0 for i in items_of(o))


def cancel(st, oid, body=None):
    """Service\\OrderService::cancel(): canCancel() false answers false (HTTP 200), with
    nothing changed; else Order::registerCancellation() cancels what is left."""
    o = get_order(st, oid)
    if not can_cancel(o):
        return False
    # Order::registerCancellation(): the order is canceled unless an item holds invoiced,
    # unrefunded quantity: then processing when that item could still ship more than it
    # cancels (Item::isProcessingAvailable()), else complete; Item::cancel() cancels each
    # item's getQtyToCancel()
    state = "canceled"
    for i in items_of(o):
        if state != "processing" and to_refund(i):
            state = "processing" if to_ship(i) > to_cancel(i) else "complete"
        i["qty_canceled"] = qty_out(num(i.get("qty_canceled")) + to_cancel(i))
    o["state"], o["status"] = state, state
    o["updated_at"] = now()
    return True


def hold(st, oid, body=None):
    """Service\\OrderService::hold() -> Order::hold(): LocalizedException unless canHold()."""
    o = get_order(st, oid)
    if o.get("state") in ("payment_review", "holded", "canceled", "complete", "closed"):
        raise Refusal(400, "A hold action is not available.")
    o["hold_before_state"], o["hold_before_status"] = o.get("state"), o.get("status")
    o["state"], o["status"] = "holded", "holded"
    o["updated_at"] = now()
    return True


def unhold(st, oid, body=None):
    """Service\\OrderService::unHold() -> Order::unhold(): only a held order."""
    o = get_order(st, oid)
    if o.get("state") != "holded":
        raise Refusal(400, "You cannot remove the hold.")
    o["state"] = o.pop("hold_before_state", "processing")
    o["status"] = o.pop("hold_before_status", "processing")
    o["updated_at"] = now()
    return True


OPERATIONS = {"ship": ship, "invoice": invoice, "refund": refund, "comment": comment,
              "cancel": cancel, "hold": hold, "unhold": unhold}
