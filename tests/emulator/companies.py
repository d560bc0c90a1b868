"""B2B companies for the emulator (issue 13): POST /V1/company, PUT /V1/company/{id},
GET /V1/company/{id} and the search GET /V1/company.

Magento_Company ships only with Adobe Commerce: magento/magento2 does not hold it. The copy
read here is the module as vendored in andparsons/mage-app-start (app/code/Magento/Company,
commit 50ae696a): etc/webapi.xml, etc/di.xml (the SaveValidatorPool's order),
Model/CompanyRepository.php, Model/Company/Save.php, Model/SaveValidator/*.php. Adobe's
"Manage company objects" page (commerce-webapi rest/b2b/company-object) agrees on the fields
but calls region required, which no validator checks.
"""
import re

import orders

# Model\SaveValidator\RequiredFields::$requiredFields, in its order; PHP empty(): "", "0",
# 0, null and [] are all missing
REQUIRED = ("company_name", "company_email", "street", "city", "postcode", "telephone",
            "country_id", "super_user_id", "customer_group_id")
FIELDS = ("id", "status", "company_name", "legal_name", "company_email", "vat_tax_id", "reseller_id",
          "comment", "street", "city", "country_id", "region", "region_id", "postcode",
          "telephone", "customer_group_id", "sales_representative_id", "reject_reason",
          "rejected_at", "super_user_id", "extension_attributes")
# Magento_Customer's default groups (NOT LOGGED IN, General, Wholesale, Retailer)
GROUPS = {0, 1, 2, 3}
# countries whose regions Magento_Directory knows (CountryInformationAcquirer::
# getAvailableRegions()), with their region_id ranges as its data patches number them
# (approximate beyond the first few); any other two-letter code is a country without regions
REGIONS = {"US": range(1, 66), "CA": range(66, 79), "DE": range(79, 95), "AT": range(95, 104),
           "CH": range(104, 130), "ES": range(130, 182), "FR": range(182, 278)}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
INVALID = 'Invalid value of "%value" provided for the %fieldName field.'


def empty(v):
    return v is None or v == "" or v == "0" or v == 0 or v == []


def no_such(field, value):
    # NoSuchEntityException (webapi: HTTP 404)
    return orders.Refusal(404, "No such entity with %fieldName = %fieldValue",
                          {"fieldName": field, "fieldValue": value})


def input_exception(errors):
    """Magento\\Framework\\Exception\\InputException as the validators fill it: one error is
    that error; several are "One or more input exceptions have occurred." with the list
    (AbstractAggregateException::addError()). HTTP 400."""
    if len(errors) == 1:
        return orders.Refusal(400, errors[0][0], errors[0][1])
    r = orders.Refusal(400, "One or more input exceptions have occurred.")
    r.errors = [{"message": m, "parameters": p} for m, p in errors]
    return r


def record(body):
    c = (body or {}).get("company")
    if not isinstance(c, dict):
        raise orders.Refusal(400, '"%fieldName" is required. Enter and try again.', {"fieldName": "company"})
    return {k: c.get(k) for k in FIELDS if k in c}


def save(st, body):
    """CompanyRepositoryInterface::save() for POST /V1/company and PUT /V1/company/{companyId}
    alike: the path's companyId is not bound to the body (webapi.xml has no <data> for it,
    and ParamsOverrider::overrideRequestBodyIdWithPathParam() only fills a property the data
    object declares: CompanyInterface has "id", not "companyId"). So the company saved is the
    body's: with "id" an update of that company (a whole record: what the body leaves out is
    not kept), without one a new company, whatever the path says."""
    c = record(body)
    cid = c.get("id")
    # Company\Save::processAddress(): a region_id drops the region name; the street lines
    if not empty(c.get("region_id")):
        c["region"] = None
    else:
        c["region_id"] = None
    if isinstance(c.get("street"), str):
        c["street"] = [c["street"]]
    # Company\Save::processSalesRepresentative(): the first admin user when none is given
    if empty(c.get("sales_representative_id")):
        c["sales_representative_id"] = 1
    initial = None
    if not empty(cid):
        try:
            initial = st.companies.get(int(cid))
        except (TypeError, ValueError):
            initial = None
        if initial is None:
            # SaveValidator\CompanyId::execute(): thrown at once
            raise no_such("companyId", cid)
        cid = int(cid)
    errors = []
    for f in REQUIRED:  # SaveValidator\RequiredFields::execute()
        if empty(c.get(f)):
            errors.append(('"%fieldName" is required. Enter and try again.', {"fieldName": f}))
    # SaveValidator\CustomerGroup::execute(): GroupRepository::getById() of a group that does
    # not exist (a missing one included) is thrown at once, ahead of the errors gathered so far
    group = c.get("customer_group_id")
    if group not in GROUPS and str(group) not in {str(g) for g in GROUPS}:
        raise no_such("customerGroupId", group)
    # SaveValidator\CompanyAdmin::execute(): CustomerRepository::getById() throws for an
    # unknown customer; one of another company, or inactive in its company, is an error
    uid = c.get("super_user_id")
    if not empty(uid):
        try:
            customer = st.customers.get(int(uid))
        except (TypeError, ValueError):
            customer = None
        if customer is None:
            raise no_such("customerId", uid)
        attrs = (customer.get("extension_attributes") or {}).get("company_attributes")
        if attrs is not None:
            if not attrs.get("status", 1):
                errors.append(("The selected user is inactive. To continue, select another user or activate "
                               "the current user.", None))
            if attrs.get("company_id") and attrs.get("company_id") != cid:
                errors.append(("This customer is a user of a different company. Enter a different email "
                               "address to continue.", None))
    # SaveValidator\CompanyEmail::execute(): well formed; unique among companies when new or
    # changed (case-insensitively against the company's own)
    email = c.get("company_email")
    if not empty(email):
        if not EMAIL.match(str(email)):
            errors.append((INVALID, {"fieldName": "company_email", "value": email}))
        elif initial is None or str(email).lower() != str(initial.get("company_email", "")).lower():
            if any(str(o.get("company_email")) == str(email) for o in st.companies.values()):
                errors.append(("Company with this email address already exists in the system. Enter a "
                               "different email address to continue.", None))
    # SaveValidator\CompanyAddress::execute(): a known country; where it has regions, one of
    # them by region_id
    country = c.get("country_id")
    if not empty(country):
        if not re.match(r"^[A-Z]{2}$", str(country)):
            errors.append((INVALID, {"fieldName": "country_id", "value": country}))
        elif country in REGIONS:
            try:
                ok = int(c.get("region_id")) in REGIONS[country]
            except (TypeError, ValueError):
                ok = False
            if not ok:
                errors.append((INVALID, {"fieldName": "region_id", "value": c.get("region_id")}))
    if errors:
        raise input_exception(errors)
    if cid is None:
        cid = orders.next_id(st, "company")
        c.setdefault("status", 0)
    c["id"] = cid
    if c.get("status") is None:
        c["status"] = initial.get("status", 0) if initial else 0
    st.companies[cid] = c
    # SaveHandler\SuperUser: the super user becomes a user of this company
    customer = st.customers[int(uid)]
    ext = customer.setdefault("extension_attributes", {})
    ext["company_attributes"] = {"company_id": cid, "customer_id": int(uid), "status": 1}
    return dict(c)


def get(st, cid):
    """CompanyRepository::get(): NoSuchEntityException::singleField('id', ...)."""
    try:
        c = st.companies.get(int(cid))
    except (TypeError, ValueError):
        c = None
    if c is None:
        raise no_such("id", cid)
    return dict(c)
