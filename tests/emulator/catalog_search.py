"""Inventory source items and the catalog's search for the Commerce emulator.

GET /rest/<store>/V1/inventory/source-items?searchCriteria... answers as Magento's
InventoryApi does:
- the route: magento/inventory InventoryApi/etc/webapi.xml, GET /V1/inventory/source-items
  -> SourceItemRepositoryInterface::getList (resource Magento_InventoryApi::source);
- Inventory/Model/SourceItemRepository.php::getList hands the criteria to
  Inventory/Model/SourceItem/Command/GetList.php::execute: a plain table collection
  (Inventory/Model/ResourceModel/SourceItem/Collection.php, an AbstractCollection over
  inventory_source_item) through the framework's CollectionProcessor, then
  items = getItems(), total_count = getSize() (every match, not the page),
  search_criteria = the criteria as asked;
- each item is serialised through SourceItemInterface's getters, in their order:
  sku, source_code, quantity, status (InventoryApi/Api/Data/SourceItemInterface.php);
  Inventory/Model/SourceItem.php::getQuantity casts to float, getStatus to int, so a JSON
  number (PHP's json_encode writes 10.0 as 10, 10.5 as 10.5) and an integer;
- filters (lib/internal/Magento/Framework/Api/SearchCriteria/CollectionProcessor/
  FilterProcessor.php::addFilterGroupToCollection): one group's filters OR-ed, groups AND-ed,
  condition_type default eq, fulltext read as like %value%;
  compared by MySQL: sku and source_code are varchar under a case-insensitive collation,
  quantity decimal(12,4) and status smallint compare as numbers;
- sort orders (SortingProcessor::applyOrders): a direction other than ASC is DESC; without
  any, the table's order (source_item_id, i.e. insertion);
- paging (lib/internal/Magento/Framework/Data/Collection.php::getCurPage, used by
  Data/Collection/AbstractDb::_renderLimit): a currentPage past the last page answers the
  last page again, below 1 the first; without pageSize every match.

GET /rest/<store>/V1/products?searchCriteria... answers as the catalog does:
- the route: magento/magento2 app/code/Magento/Catalog/etc/webapi.xml, GET /V1/products ->
  ProductRepositoryInterface::getList; app/code/Magento/Catalog/Model/ProductRepository.php::
  getList: a product collection with addAttributeToSelect('*'), the same CollectionProcessor
  (filters, sort orders, paging as above), total_count = getSize(), search_criteria echoed;
- a filter or sort field is a product attribute: a top-level field (id, sku, name, price,
  status, visibility, type_id, created_at, updated_at, ...) or an EAV attribute, which the
  answer carries in custom_attributes [{attribute_code, value}]; text compares without case,
  decimal and integer attributes as numbers;
- the products are answered as seeded (POST /__emulator/products); not emulated: store view
  values, the inner join on status and visibility that hides a product lacking them, and
  catalog_product imports (they do not change the catalog's answers).

What Commerce holds: the source items seeded (POST /__emulator/source-items) with every
stock_sources row imported since laid over them in order (an import of a row updates the
quantity and status it carries, creates the item when new), less nothing: the emulator
stores no deletes. GET /__emulator/source-items lists that picture.
"""
import json
import re
import urllib.parse

ROUTE = "inventory/source-items"
ROUTES = (ROUTE, "products")
FIELDS = ("sku", "source_code", "quantity", "status")
NUMERIC = {"quantity": float, "status": int}
# catalog_product_entity's and the EAV attributes' columns that hold numbers
PRODUCT_NUMERIC = {"id", "entity_id", "attribute_set_id", "price", "status", "visibility", "weight",
                   "special_price", "cost", "msrp", "qty", "tax_class_id"}
INTERNAL_ERROR = {"message": "Internal Error. Details are available in Magento log file. "
                             "Report ID: webapi-emulator"}


def reset(st):
    st.source_items = {}  # (source_code, sku) -> item, seeded


def number(v):
    """A float as PHP's json_encode writes it: 10.0 as 10, 10.5 as 10.5."""
    f = float(v)
    return int(f) if f.is_integer() and abs(f) < 2 ** 53 else f


def item(sku, source_code, quantity, status):
    # SourceItemInterface's getters, in order (Inventory/Model/SourceItem.php)
    return {"sku": sku, "source_code": source_code,
            "quantity": None if quantity is None else number(quantity),
            "status": None if status is None else int(status)}


def picture(st):
    """Every source item Commerce holds: seeded, then the imported rows in order (lock held)."""
    items = {k: dict(v) for k, v in getattr(st, "source_items", {}).items()}
    for row in st.store.get("stock_sources", []):
        key = (row.get("source_code", ""), row.get("sku", ""))
        it = items.get(key) or item(key[1], key[0], 0, 0)
        if row.get("quantity") not in (None, ""):
            it["quantity"] = number(row["quantity"])
        if row.get("status") not in (None, ""):
            it["status"] = int(row["status"])
        items[key] = it
    return list(items.values())


def seed(st, items):
    for i in items:
        st.source_items[(i["source_code"], i["sku"])] = item(i["sku"], i["source_code"],
                                                             i.get("quantity", 0), i.get("status", 1))
    return len(st.source_items)


def control(st, method, what, req):
    """/__emulator/source-items: (status, answer), or None when not ours (lock held)."""
    if what != "source-items":
        return None
    if method == "POST":
        return 200, seed(st, req or [])
    return 200, sorted(picture(st), key=lambda i: (i["source_code"], i["sku"]))


class BadField(Exception):
    pass


class SourceItems:
    """inventory_source_item: four columns; another field is an SQL error."""
    def value(self, it, field):
        if field not in FIELDS:
            raise BadField(field)  # an SQL error: Unknown column
        return it.get(field)

    def numeric(self, field):
        return field in NUMERIC


class Products:
    """The product collection: top-level fields, then EAV attributes by code."""
    def value(self, p, field):
        if field in p and field not in ("custom_attributes", "extension_attributes"):
            return p[field]
        for a in p.get("custom_attributes") or []:
            if a.get("attribute_code") == field:
                v = a.get("value")
                return ",".join(map(str, v)) if isinstance(v, list) else v
        return None  # an attribute the product has no value for: NULL

    def numeric(self, field):
        return field in PRODUCT_NUMERIC


def comparable(view, it, field, v=None, given=False):
    """A value as MySQL compares the column: numbers as numbers, text without case."""
    if not given:
        v = view.value(it, field)
    if v is None:
        return None
    if view.numeric(field) or isinstance(v, (int, float)) and not isinstance(v, bool):
        try:
            return float(v)
        except (TypeError, ValueError):
            return 0.0  # MySQL reads a non-numeric string as 0
    return str(v).casefold()


def like(pattern, v):
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, v, re.S) is not None


def matches(view, it, f):
    """One filter of FilterProcessor; condition_type default eq."""
    field, cond = f.get("field"), f.get("condition_type") or "eq"
    have = comparable(view, it, field)
    raw = f.get("value", "")
    if cond == "null":
        return have is None
    if cond == "notnull":
        return have is not None
    if have is None:
        return False  # NULL compares to nothing
    if cond in ("in", "nin"):
        inside = have in [comparable(view, it, field, x, True) for x in raw.split(",")]
        return inside if cond == "in" else not inside
    if cond == "fulltext":  # FilterProcessor: "not a fulltext search": like %value%
        cond, raw = "like", "%" + str(raw) + "%"
    if cond in ("like", "nlike"):
        hit = like(str(raw).casefold(), have if isinstance(have, str) else str(view.value(it, field)))
        return hit if cond == "like" else not hit
    v = comparable(view, it, field, raw, True)
    if isinstance(have, float) != isinstance(v, float):
        have, v = str(have), str(v)
    return {"eq": have == v, "neq": have != v, "gt": have > v, "gteq": have >= v,
            "moreq": have >= v, "lt": have < v, "lteq": have <= v,
            "from": have >= v, "to": have <= v}.get(cond, False)


def criteria(query):
    """searchCriteria from the query string, as the webapi reads it into SearchCriteria."""
    qs = urllib.parse.parse_qs(query, keep_blank_values=True)
    groups, sorts, size, page = {}, {}, None, None
    for k, vals in qs.items():
        v = vals[-1]
        m = re.match(r"searchCriteria\[filter_?[gG]roups\]\[(\d+)\]\[filters\]\[(\d+)\]\[(\w+)\]$", k)
        if m:
            key = {"conditionType": "condition_type"}.get(m.group(3), m.group(3))
            groups.setdefault(int(m.group(1)), {}).setdefault(int(m.group(2)), {})[key] = v
            continue
        m = re.match(r"searchCriteria\[sort_?[oO]rders\]\[(\d+)\]\[(\w+)\]$", k)
        if m:
            sorts.setdefault(int(m.group(1)), {})[m.group(2)] = v
        elif k in ("searchCriteria[pageSize]", "searchCriteria[page_size]"):
            size = int(v)
        elif k in ("searchCriteria[currentPage]", "searchCriteria[current_page]"):
            page = int(v)
    return ([[groups[g][i] for i in sorted(groups[g])] for g in sorted(groups)],
            [sorts[s] for s in sorted(sorts)], size, page)


def echo(groups, sorts, size, page):
    """search_criteria as Commerce gives it back (only what was set)."""
    out = {"filter_groups": [{"filters": [{"field": f.get("field"), "value": f.get("value", ""),
                                           "condition_type": f.get("condition_type") or "eq"}
                                          for f in g]} for g in groups]}
    if sorts:
        out["sort_orders"] = [{"field": s.get("field"), "direction": s.get("direction", "DESC")}
                              for s in sorts]
    if size is not None:
        out["page_size"] = size
    if page is not None:
        out["current_page"] = page
    return out


def sortable(view, it, field):
    v = comparable(view, it, field)
    return (0, v, "") if isinstance(v, float) else (1, 0.0, v)


def search(st, query, route=ROUTE):
    """GET /V1/inventory/source-items or /V1/products: (status, answer) (takes the lock)."""
    groups, sorts, size, page = criteria(query)
    with st.lock:
        if route == ROUTE:
            view, items = SourceItems(), picture(st)
        else:
            view, items = Products(), list(st.products.values())
    try:
        for g in groups:
            items = [i for i in items if any(matches(view, i, f) for f in g)]
        for s in reversed(sorts):  # stable sorts, the last order first
            field = s.get("field")
            desc = str(s.get("direction", "")).upper() != "ASC"
            present = [i for i in items if comparable(view, i, field) is not None]
            absent = [i for i in items if comparable(view, i, field) is None]
            present.sort(key=lambda i: sortable(view, i, field), reverse=desc)
            items = absent + present if not desc else present + absent  # NULL sorts first in MySQL
    except BadField:
        # Unknown column: the SQL error Webapi's ErrorProcessor masks in production mode
        return 500, INTERNAL_ERROR
    total = len(items)
    if size:
        last = max(1, (total + size - 1) // size)
        cur = min(max(page or 1, 1), last)  # Data/Collection::getCurPage clamps
        items = items[(cur - 1) * size:cur * size]
    with st.lock:
        items = json.loads(json.dumps(items))
    return 200, {"items": items, "search_criteria": echo(groups, sorts, size, page),
                 "total_count": total}
