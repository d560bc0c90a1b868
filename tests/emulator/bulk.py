"""Commerce's asynchronous bulk API for the emulator (issue 13): the POST that schedules
operations, the consumer that runs them, and the bulk's detailed status.

magento/magento2 Magento_WebapiAsync and Magento_AsynchronousOperations, cited beside each
answer. The caller holds the State's lock around every function here except consumer().
"""
import hashlib
import json
import threading
import time
import uuid

import companies
import orders

# Magento\WebapiAsync\Model\BulkServiceConfig::getBulkServicesConfig(): each non-GET route's
# ":param" becomes "byParam" (URL_PARAM_PREFIX_PLACEHOLDER "by" + ucfirst); the bulk body is
# an array of the synchronous bodies with the path parameter as a field.
# route (after async/bulk/V1/) -> (operation, the path parameter's field, HTTP method)
ROUTES = {
    "order/byOrderId/ship": ("ship", "orderId", "POST"),
    "order/byOrderId/invoice": ("invoice", "orderId", "POST"),
    "order/byOrderId/refund": ("refund", "orderId", "POST"),
    "orders/byId/comments": ("comment", "id", "POST"),
    "orders/byId/cancel": ("cancel", "id", "POST"),
    "orders/byId/hold": ("hold", "id", "POST"),
    "orders/byId/unhold": ("unhold", "id", "POST"),
    "company": ("company.create", None, "POST"),
    # CompanyRepositoryInterface::save($company) has no companyId parameter: the element's
    # companyId is neither required nor used (companies.save())
    "company/byCompanyId": ("company.update", None, "PUT"),
}
# the synchronous route each topic is named after: WebapiAsync\Model\Config::
# generateTopicNameByRouteData(): "async." + route parts without ':' + "." + method
SYNC_ROUTE = {
    "ship": "/V1/order/:orderId/ship", "invoice": "/V1/order/:orderId/invoice",
    "refund": "/V1/order/:orderId/refund", "comment": "/V1/orders/:id/comments",
    "cancel": "/V1/orders/:id/cancel", "hold": "/V1/orders/:id/hold", "unhold": "/V1/orders/:id/unhold",
    "company.create": "/V1/company/", "company.update": "/V1/company/:companyId",
}
# the service each topic's handler calls, as OperationProcessor::executeHandler() names it in
# its success message ("Service execution success %s::%s", get_class() of the handler object:
# the generated Interceptor where any plugin applies to the class, else the class itself --
# which one depends on the installation's modules; a client must not parse it)
SERVICE = {
    "ship": "Magento\\Sales\\Model\\ShipOrder\\Interceptor::execute",
    "invoice": "Magento\\Sales\\Model\\InvoiceOrder\\Interceptor::execute",
    "refund": "Magento\\Sales\\Model\\RefundOrder\\Interceptor::execute",
    "comment": "Magento\\Sales\\Model\\Service\\OrderService\\Interceptor::addComment",
    "cancel": "Magento\\Sales\\Model\\Service\\OrderService\\Interceptor::cancel",
    "hold": "Magento\\Sales\\Model\\Service\\OrderService\\Interceptor::hold",
    "unhold": "Magento\\Sales\\Model\\Service\\OrderService\\Interceptor::unHold",
    "company.create": "Magento\\Company\\Model\\CompanyRepository\\Interceptor::save",
    "company.update": "Magento\\Company\\Model\\CompanyRepository\\Interceptor::save",
}
# Magento\AsynchronousOperations\Api\Data\OperationInterface::STATUS_TYPE_*; core never sets
# REJECTED (5): an older MassSchedule saved refused elements as NOT_RETRIABLY_FAILED with a
# "TODO ... change to STATUS_TYPE_REJECTED", the current one answers them as rejected request
# items and saves no operation
COMPLETE, RETRIABLY_FAILED, NOT_RETRIABLY_FAILED, OPEN, REJECTED = 1, 2, 3, 4, 5


def topic(op):
    parts = [p.lstrip(":") for p in SYNC_ROUTE[op].strip("/").split("/")]
    return "async." + ".".join(parts) + "." + ROUTES_METHOD[op]


ROUTES_METHOD = {op: method for op, _, method in ROUTES.values()}


def run(st, op, param, body):
    """The synchronous operation behind a topic: its answer, or raises orders.Refusal."""
    if op in ("company.create", "company.update"):
        return companies.save(st, body)
    return orders.OPERATIONS[op](st, param, body)


# the service parameters without a default, besides the path one: ServiceInputProcessor
# refuses a request that lacks one (OrderService::addComment($id, $statusHistory),
# CompanyRepository::save($company))
REQUIRED_BODY = {"comment": "statusHistory", "company.create": "company", "company.update": "company"}


def required(field):
    # Webapi\ServiceInputProcessor::process(): an InputException with one error is that error
    return orders.Refusal(400, '"%fieldName" is required. Enter and try again.', {"fieldName": field})


def check_body(op, field, el):
    """What the synchronous endpoint's input processor refuses before the service runs."""
    for f in (field, REQUIRED_BODY.get(op)):
        if f and el.get(f) in (None, ""):
            raise required(f)


def schedule(st, route, elements, reject=()):
    """POST /rest/<store>/async/bulk/V1/<route>.

    magento/magento2 WebapiAsync Controller/Rest/Asynchronous/InputParamsResolver::resolve()
    first resolves every element as the synchronous endpoint would: one without a required
    parameter (its path parameter, e.g. orderId) refuses the whole request (400, nothing
    scheduled); an element that is not an object is skipped without a request item. Then
    AsynchronousOperations Model/MassSchedule::publishMass() makes each element an open
    operation (id = its key in the array) and an "accepted" request item with the sha256
    of its serialized data; one that cannot be scheduled is "rejected" with error_message
    and error_code and the answer's "errors" is true (BulkException, whose data
    AsynchronousRequestProcessor::process() answers all the same): HTTP 202 either way.
    The emulator rejects the keys listed in `reject` (a fault)."""
    op, field, _ = ROUTES[route]
    for el in elements:
        if isinstance(el, dict):
            check_body(op, field, el)
    bulk_uuid = str(uuid.uuid4())
    items, ops = [], []
    for key, el in enumerate(elements):
        if not isinstance(el, dict):
            continue
        if key in reject:
            items.append({"id": key, "data_hash": None, "status": "rejected",
                          "error_message": "Emulated rejection of element %d" % key, "error_code": 0})
            continue
        body = dict(el)
        param = body.pop(field) if field else None
        serialized = json.dumps({"entity_id": None, "entity_link": "",
                                 "meta_information": json.dumps(el, sort_keys=True)})
        items.append({"id": key, "data_hash": hashlib.sha256(serialized.encode()).hexdigest(),
                      "status": "accepted"})
        # magento_operation's own row id (auto-increment, across bulks): what GET /V1/bulk
        # answers as "id"; detailed-status's "id" is the element's key
        ops.append({"row_id": orders.next_id(st, "operation"), "id": key, "bulk_uuid": bulk_uuid, "topic_name": topic(op), "op": op,
                    "param": param, "body": body, "serialized_data": serialized,
                    "status": OPEN, "result_serialized_data": None, "result_message": None,
                    "error_code": None})
    st.bulks[bulk_uuid] = {"uuid": bulk_uuid, "accepted": time.time(), "op": op,
                           "start_time": orders.now(), "operations": ops, "open": len(ops)}
    errors = any(i["status"] == "rejected" for i in items)
    return {"bulk_uuid": bulk_uuid, "request_items": items, "errors": errors}


def take_operation_fault(st, op):
    for f in st.faults:
        if f.get("operation") in (op, "*") and f.get("times", 1) > 0:
            if f.get("after", 0) > 0:
                f["after"] -= 1
                continue
            f["times"] = f.get("times", 1) - 1
            return f
    return None


def process(st, o):
    """Magento\\AsynchronousOperations\\Model\\OperationProcessor::process() for one open
    operation: success is status 1 with "Service execution success <class>::<method>" and the
    service's answer serialized; a LocalizedException (a document validation error, "A hold
    action is not available.") or a NoSuchEntityException is 3 (not retriable) with the
    exception's message and its code (0); only database lock/deadlock/connection errors are 2
    (retriable): the emulator makes those (and any other status) by an operation fault."""
    f = take_operation_fault(st, o["op"])
    if f:
        o["status"] = int(f.get("result", RETRIABLY_FAILED))
        o["result_message"] = f.get("message", "SQLSTATE[HY000]: General error: 1205 Lock wait timeout "
                                               "exceeded; try restarting transaction")
        o["error_code"] = f.get("error_code", 1205 if o["status"] == RETRIABLY_FAILED else 0)
        return
    try:
        answer = run(st, o["op"], o["param"], o["body"])
    except orders.Refusal as e:
        o["status"], o["result_message"], o["error_code"] = NOT_RETRIABLY_FAILED, e.rendered(), 0
        return
    o["status"] = COMPLETE
    o["result_message"] = "Service execution success " + SERVICE[o["op"]]
    o["result_serialized_data"] = json.dumps(answer)
    o["error_code"] = None


def run_due(st):
    """The consumer's pass: every open operation whose bulk was accepted at least `delay`
    ago runs, in the order they were scheduled (async.operations.all is one queue)."""
    if not st.consumer["running"]:
        return 0
    due = time.time() - st.consumer["delay"]
    n = 0
    for b in st.bulks.values():
        if not b["open"] or b["accepted"] > due:
            continue
        for o in b["operations"]:
            if o["status"] == OPEN:
                process(st, o)
                n += 1
        b["open"] = sum(1 for o in b["operations"] if o["status"] == OPEN)
    return n


def consumer(st):
    """The consumer thread (one per State): a pass every 10 ms while running."""
    while True:
        time.sleep(0.01)
        with st.lock:
            run_due(st)


def start_consumer(st):
    if getattr(st, "consumer_thread", None) is None:
        st.consumer_thread = threading.Thread(target=consumer, args=(st,), daemon=True)
        st.consumer_thread.start()


def detailed_status(st, bulk_uuid):
    """GET /V1/bulk/{uuid}/detailed-status: Magento\\AsynchronousOperations\\Model\\
    BulkStatus::getBulkDetailedStatus() -> DetailedBulkOperationsStatus: the bulk's summary
    and its operations (the accepted elements; rejected ones never became operations)."""
    b = st.bulks.get(bulk_uuid)
    if b is None:
        raise orders.Refusal(404, "Bulk uuid %bulkUuid not exist", {"bulkUuid": bulk_uuid})
    ops = [{k: o[k] for k in ("id", "bulk_uuid", "topic_name", "status", "result_serialized_data",
                              "result_message", "error_code")} for o in b["operations"]]
    for o, src in zip(ops, b["operations"]):
        o["serialized_data"] = kept_data(src)
    return {"operations_list": ops, "user_type": 2, "bulk_id": bulk_uuid,
            "description": "Topic " + topic(b["op"]), "start_time": b["start_time"],
            "user_id": 1, "operation_count": len(ops)}


def kept_data(o):
    """serialized_data as magento_operation holds it: the request's while the operation is
    open (ResourceModel/Operation/OperationRepository::createByTopic() saved it); once run,
    OperationProcessor::process() writes it back only when the operation failed (an error
    code), else null (OperationManagement::changeOperationStatus())."""
    if o["status"] == OPEN or o["error_code"] is not None:
        return o["serialized_data"]
    return None


def operations(st):
    """GET /V1/bulk?searchCriteria...: magento/magento2 AsynchronousOperations etc/webapi.xml
    routes it to OperationRepositoryInterface::getList() (ACL resource
    Magento_AsynchronousOperations::system_magento_logging_bulk_operations);
    Model/OperationRepository::getList() applies the searchCriteria (CollectionProcessor:
    filters, sort orders, paging) to ResourceModel/Operation/Collection, the magento_operation
    table, WITHOUT any filter on the user: every bulk's operations, whoever scheduled them.
    Each item is Api\Data\OperationInterface through the webapi's output processor: id (the
    table's row id), bulk_uuid, topic_name, serialized_data, result_serialized_data, status,
    result_message, error_code (the getters' @return are not nullable: nulls are answered).
    serialized_data is {"entity_id": null, "entity_link": "", "meta_information": <the
    encoded message>} (createByTopic()); Commerce's meta_information is the element keyed
    by the service method's parameter names (MessageEncoder::convertMessage(), unset
    optional ones at their defaults), the emulator's the element as it was posted (the path
    parameter, e.g. orderId, is in both). Rows in table order (the row id): the caller
    filters and pages them as every search (commerce_emulator.Handler.search())."""
    rows = []
    for b in st.bulks.values():
        for o in b["operations"]:
            rows.append({"id": o["row_id"], "bulk_uuid": o["bulk_uuid"], "topic_name": o["topic_name"],
                         "serialized_data": kept_data(o),
                         "result_serialized_data": o["result_serialized_data"], "status": o["status"],
                         "result_message": o["result_message"], "error_code": o["error_code"]})
    rows.sort(key=lambda r: r["id"])
    return rows
