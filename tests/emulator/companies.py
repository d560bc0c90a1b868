"""B2B companies for the emulator (issue 13): POST /V1/company, PUT /V1/company/{id},
GET /V1/company/{id} and the search GET /V1/company.

Magento_Company ships only with Adobe Commerce (magento/magento2 holds no Company module
and no copy of it was found in the search index), so this follows Adobe's docs instead of
the source: "Manage company objects" (adobedocs.github.io/commerce-webapi/rest/b2b/
company-object: companyCompanyRepositoryV1, CompanyInterface, which fields are "Required to
create or update a company") and the 2.4.7 admin REST reference (the PUT body is a whole
CompanyInterface: what the request leaves out is not kept). The refusals use the framework's
own sentences (Magento\\Framework\\Exception\\InputException::requiredField(),
NoSuchEntityException::singleField()), which is what a repository's checks raise.
"""
import orders

# the docs' "Required to create or update a company" (region only where the country has
# regions: not enforced here)
REQUIRED = ("company_name", "company_email", "street", "city", "country_id", "postcode",
            "telephone", "customer_group_id", "super_user_id")
FIELDS = ("status", "company_name", "legal_name", "company_email", "vat_tax_id", "reseller_id",
          "comment", "street", "city", "country_id", "region", "region_id", "postcode",
          "telephone", "customer_group_id", "sales_representative_id", "reject_reason",
          "rejected_at", "super_user_id", "extension_attributes")


def required(field):
    # InputException::requiredField(): HTTP 400
    return orders.Refusal(400, '"%fieldName" is required. Enter and try again.', {"fieldName": field})


def no_such(field, value):
    # NoSuchEntityException::singleField(): HTTP 404
    return orders.Refusal(404, "No such entity with %fieldName = %fieldValue",
                          {"fieldName": field, "fieldValue": value})


def check(st, c):
    for f in REQUIRED:
        v = c.get(f)
        if v is None or v == "" or v == []:
            raise required(f)
    try:
        uid = int(c["super_user_id"])
    except (TypeError, ValueError):
        raise required("super_user_id")
    if uid not in st.customers:
        raise no_such("customerId", uid)
    c["super_user_id"] = uid
    if isinstance(c.get("street"), str):
        c["street"] = [c["street"]]


def record(body):
    c = (body or {}).get("company")
    if not isinstance(c, dict):
        raise required("company")
    return {k: c.get(k) for k in FIELDS if k in c}


def create(st, body):
    """POST /V1/company: the saved company, with its new id (status 0 pending unless given)."""
    c = record(body)
    check(st, c)
    c.setdefault("status", 0)
    cid = orders.next_id(st, "company")
    c["id"] = cid
    st.companies[cid] = c
    return dict(c)


def update(st, cid, body):
    """PUT /V1/company/{companyId}: the whole record replaced by the request's."""
    try:
        cid = int(cid)
    except (TypeError, ValueError):
        raise no_such("companyId", cid)
    if cid not in st.companies:
        raise no_such("companyId", cid)
    c = record(body)
    check(st, c)
    c.setdefault("status", st.companies[cid].get("status", 0))
    c["id"] = cid
    st.companies[cid] = c
    return dict(c)


def get(st, cid):
    try:
        c = st.companies.get(int(cid))
    except (TypeError, ValueError):
        c = None
    if c is None:
        raise no_such("companyId", cid)
    return dict(c)
