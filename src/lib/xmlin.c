#include "config.h"

#include <libxml/xmlreader.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <stdlib.h>
#include <string.h>

#include "lib/conf.h"
#include "lib/decode.h"
#include "lib/mapping.h"
#include "lib/pipeline.h"
#include "lib/xmlin.h"
#include "util/xalloc.h"

#define MAX_DEPTH 256

struct step {
	char *prefix; /* NULL: no namespace */
	char *local;
};

struct xmlin {
	const struct feed *f;
	struct pipeline *p;
	struct step *steps;
	size_t nsteps;
	const char **paths; /* distinct mapping sources, the "header" */
	xmlXPathCompExprPtr *comp;
	size_t npaths;
	struct buf error; /* the first error libxml2 reported */
	int error_line;
	int error_schema; /* it came from schema validation */
	int header_sent;
	xmlDocPtr doc; /* the reader's document, once asked for: ours to free */
	xmlTextReaderPtr r;
	xmlXPathContextPtr ctx; /* the sources' XPaths run in it, on the record */
	xmlSchemaParserCtxtPtr sp;
	xmlSchemaPtr schema; /* NULL: none, or the preloaded one */
};

static void free_steps(struct step *st, size_t n);

/* record_steps: /a/ns:b into steps; -1 (and nothing to free) when it is not such a path. */
static int record_steps(const char *record, struct step **out, size_t *n)
{
	const char *s = record;

	*out = NULL;
	*n = 0;
	if (*s != '/')
		return -1;
	while (*s == '/') {
		const char *start = ++s, *colon = NULL;
		struct step st = {NULL, NULL};

		while (*s && *s != '/') {
			if (*s == ':')
				colon = s;
			else if (*s == '[' || *s == '@' || *s == '*' || *s == ' ')
				goto bad;
			s++;
		}
		if (s == start || colon == start || (colon && colon + 1 == s))
			goto bad;
		if (colon) {
			st.prefix = xstrndup(start, (size_t)(colon - start));
			st.local = xstrndup(colon + 1, (size_t)(s - colon - 1));
		} else {
			st.local = xstrndup(start, (size_t)(s - start));
		}
		*out = xreallocarray(*out, *n + 1, sizeof(**out));
		(*out)[(*n)++] = st;
	}
	if (*s == '\0')
		return 0;
bad: /* the steps read before the bad one */
	free_steps(*out, *n);
	*out = NULL;
	*n = 0;
	return -1;
}

static void free_steps(struct step *st, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(st[i].prefix);
		free(st[i].local);
	}
	free(st);
}

static void quiet(void *ctx, const char *fmt, ...)
{
	(void)ctx, (void)fmt;
}

int xmlin_check_feed(const struct feed *f, struct buf *err)
{
	struct step *st;
	size_t n;
	int rc = 0;

	if (f->record == NULL || record_steps(f->record, &st, &n) < 0) {
		buf_printf(err, "record = %s is not a path of element names like /Products/Product",
			   f->record ? f->record : "");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (st[i].prefix && !strlist_has(&f->ns_prefixes, st[i].prefix)) {
			buf_printf(err,
				   "record uses the prefix '%s': bind it with namespace.%s = URI",
				   st[i].prefix, st[i].prefix);
			rc = -1;
		}
	free_steps(st, n);
	xmlSetGenericErrorFunc(NULL, quiet);
	for (size_t i = 0; rc == 0 && f->map && i < mapping_count(f->map); i++) {
		const char *src = mapping_source(f->map, i);
		xmlXPathContextPtr ctx;
		xmlXPathCompExprPtr c;

		if (src == NULL)
			continue;
		/* compile in a context that knows the prefixes, as a run would */
		ctx = xmlXPathNewContext(NULL);
		for (size_t k = 0; k < f->ns_prefixes.n; k++)
			xmlXPathRegisterNs(ctx, BAD_CAST f->ns_prefixes.v[k],
					   BAD_CAST f->ns_uris.v[k]);
		c = xmlXPathCtxtCompile(ctx, BAD_CAST src);
		if (c == NULL) {
			buf_printf(err, "map.%s: '%s' is not an XPath relative to the record",
				   mapping_column(f->map, i), src);
			rc = -1;
		}
		xmlXPathFreeCompExpr(c);
		xmlXPathFreeContext(ctx);
	}
	xmlSetGenericErrorFunc(NULL, NULL);
	return rc;
}

static void on_error(void *arg, xmlErrorPtr e)
{
	struct xmlin *x = arg;

	if (x->error.len || e == NULL || e->level < XML_ERR_ERROR)
		return;
	x->error_line = e->line;
	x->error_schema = e->domain == XML_FROM_SCHEMASV;
	buf_addstr(&x->error, e->message ? e->message : "XML error");
	while (x->error.len && (x->error.data[x->error.len - 1] == '\n'))
		buf_truncate(&x->error, x->error.len - 1);
}

static int step_matches(const struct xmlin *x, const struct step *st, xmlTextReaderPtr r)
{
	const xmlChar *local = xmlTextReaderConstLocalName(r);
	const xmlChar *uri = xmlTextReaderConstNamespaceUri(r);

	if (local == NULL || strcmp((const char *)local, st->local) != 0)
		return 0;
	if (st->prefix == NULL)
		return uri == NULL;
	for (size_t i = 0; i < x->f->ns_prefixes.n; i++)
		if (strcmp(x->f->ns_prefixes.v[i], st->prefix) == 0)
			return uri && strcmp((const char *)uri, x->f->ns_uris.v[i]) == 0;
	return 0;
}

static void node_text(xmlNodePtr n, struct buf *out)
{
	xmlChar *t = xmlNodeGetContent(n);

	if (t) {
		buf_addstr(out, (const char *)t);
		xmlFree(t);
	}
}

/* record_row: the record's values, one per path, as a row. */
static int record_row(struct xmlin *x, xmlTextReaderPtr r, xmlNodePtr node, xmlXPathContextPtr ctx)
{
	struct buf arena = BUF_INIT(64 * 1024 * 1024);
	size_t *off = xcalloc(x->npaths + 1, sizeof(*off));
	struct strview *vals = xcalloc(x->npaths ? x->npaths : 1, sizeof(*vals));
	int rc;

	(void)r;
	ctx->node = node;
	for (size_t i = 0; i < x->npaths; i++) {
		xmlXPathObjectPtr res = xmlXPathCompiledEval(x->comp[i], ctx);

		off[i] = arena.len;
		if (res && res->type == XPATH_NODESET && res->nodesetval) {
			for (int k = 0; k < res->nodesetval->nodeNr; k++) {
				if (k)
					buf_addch(&arena, ',');
				node_text(res->nodesetval->nodeTab[k], &arena);
			}
		} else if (res) {
			xmlChar *s = xmlXPathCastToString(res);
			buf_addstr(&arena, (const char *)s);
			xmlFree(s);
		}
		xmlXPathFreeObject(res);
	}
	off[x->npaths] = arena.len;
	rc = 0;
	for (size_t i = 0; i < x->npaths; i++) {
		vals[i].p = arena.data ? arena.data + off[i] : "";
		vals[i].len = off[i + 1] - off[i];
		/* libxml2 2.9 checks UTF-8 in text, not in CDATA: none reaches Commerce */
		if (!rc && !decode_utf8_valid(vals[i].p, vals[i].len)) {
			pipeline_reject(x->p,
					"line %ld: not well-formed XML: the text of '%s' is not "
					"valid UTF-8",
					xmlGetLineNo(node), x->paths[i]);
			rc = 1;
		}
	}
	if (rc == 0)
		rc = pipeline_put_row(x->p, vals, x->npaths, (unsigned long)xmlGetLineNo(node));
	buf_release(&arena);
	free(off);
	free(vals);
	return rc;
}

static int send_header(struct xmlin *x, unsigned long line)
{
	struct strview *names = xcalloc(x->npaths ? x->npaths : 1, sizeof(*names));
	int rc;

	for (size_t i = 0; i < x->npaths; i++)
		names[i] = sv_from(x->paths[i]);
	x->header_sent = 1;
	rc = pipeline_put_header(x->p, names, x->npaths, line);
	free(names);
	return rc;
}

/*
 * current_doc: the reader's document. Once asked for it, the reader no longer
 * frees it (libxml2's rule): xmlin_run frees it after the reader.
 */
static xmlDocPtr current_doc(struct xmlin *x, xmlTextReaderPtr r)
{
	xmlDocPtr doc = xmlTextReaderCurrentDoc(r);

	if (doc)
		x->doc = doc;
	return doc;
}

static int declares_entities(struct xmlin *x, xmlTextReaderPtr r)
{
	xmlDocPtr doc = current_doc(x, r);

	return doc && doc->intSubset && doc->intSubset->entities &&
	       xmlHashSize((xmlHashTablePtr)doc->intSubset->entities) > 0;
}

static void refuse_entities(struct pipeline *p)
{
	/* no line: libxml2 keeps none for the DOCTYPE, and its reading position misleads */
	pipeline_reject(p, "the DOCTYPE declares entities; dropgate does not expand entities "
			   "(they can read local files or explode in size)");
}

/* The schema xmlin_preload_schema compiled, kept for the life of the process. */
static char *preloaded_path;
static xmlSchemaPtr preloaded_schema;

int xmlin_preload_schema(const struct feed *f)
{
	xmlSchemaParserCtxtPtr sp;

	if (f->format != FORMAT_XML || f->schema == NULL || preloaded_path)
		return 0;
	sp = xmlSchemaNewParserCtxt(f->schema);
	preloaded_schema = sp ? xmlSchemaParse(sp) : NULL;
	if (sp)
		xmlSchemaFreeParserCtxt(sp);
	if (preloaded_schema == NULL)
		return -1;
	preloaded_path = xstrdup(f->schema);
	return 0;
}

/* compile_paths: the mapping's distinct sources, the row's columns, as XPaths. */
static void compile_paths(struct xmlin *x)
{
	const struct feed *f = x->f;

	x->paths = xcalloc(mapping_count(f->map) + 1, sizeof(*x->paths));
	x->comp = xcalloc(mapping_count(f->map) + 1, sizeof(*x->comp));
	x->ctx = xmlXPathNewContext(NULL);
	for (size_t k = 0; k < f->ns_prefixes.n; k++)
		xmlXPathRegisterNs(x->ctx, BAD_CAST f->ns_prefixes.v[k], BAD_CAST f->ns_uris.v[k]);
	for (size_t i = 0; i < mapping_count(f->map); i++) {
		const char *src = mapping_source(f->map, i);
		int seen = 0;
		if (src == NULL)
			continue;
		for (size_t k = 0; k < x->npaths; k++)
			seen |= strcmp(x->paths[k], src) == 0;
		if (seen)
			continue;
		x->comp[x->npaths] = xmlXPathCtxtCompile(x->ctx, BAD_CAST src);
		x->paths[x->npaths++] = src;
	}
}

/* use_schema: the reader validates against the feed's schema; -1 (file rejected) if it cannot. */
static int use_schema(struct xmlin *x)
{
	const struct feed *f = x->f;
	int preloaded = preloaded_path && strcmp(preloaded_path, f->schema) == 0;

	x->sp = preloaded ? NULL : xmlSchemaNewParserCtxt(f->schema);
	x->schema = preloaded ? NULL : x->sp ? xmlSchemaParse(x->sp) : NULL;
	if ((preloaded ? preloaded_schema : x->schema) == NULL ||
	    xmlTextReaderSetSchema(x->r, preloaded ? preloaded_schema : x->schema) != 0) {
		pipeline_reject(x->p, "the schema %s cannot be used", f->schema);
		return -1;
	}
	return 0;
}

/*
 * read_records: the document up to its end or its first error, each record a
 * row. 1: the file is rejected, stop; 0: reading ended, *ret the reader's
 * last answer (1: it was stopped early, 0: the end, -1: an error).
 */
static int read_records(struct xmlin *x, int *ret)
{
	xmlTextReaderPtr r = x->r;
	char on_path[MAX_DEPTH];
	int skip_read = 0;
	unsigned long records = 0;

	memset(on_path, 0, sizeof(on_path));
	for (;;) {
		int depth, type;
		xmlNodePtr node;

		*ret = skip_read ? 1 : xmlTextReaderRead(r);
		skip_read = 0;
		if (*ret != 1 || x->error.len)
			return 0;
		type = xmlTextReaderNodeType(r);
		if (type == XML_READER_TYPE_DOCUMENT_TYPE && declares_entities(x, r)) {
			refuse_entities(x->p);
			return 1;
		}
		if (type != XML_READER_TYPE_ELEMENT)
			continue;
		depth = xmlTextReaderDepth(r);
		if (depth < 0 || depth >= MAX_DEPTH) {
			pipeline_reject(x->p, "line %d: elements nest deeper than %d",
					xmlTextReaderGetParserLineNumber(r), MAX_DEPTH);
			return 1;
		}
		on_path[depth] = (depth == 0 || on_path[depth - 1]) && (size_t)depth < x->nsteps &&
				 step_matches(x, &x->steps[depth], r);
		if (!on_path[depth] || (size_t)depth + 1 != x->nsteps)
			continue;
		/* a record: expand it alone, make a row, skip past it */
		node = xmlTextReaderExpand(r);
		if (node == NULL || x->error.len)
			return 0;
		if (!x->header_sent && send_header(x, (unsigned long)xmlGetLineNo(node)))
			return 1;
		x->ctx->doc = current_doc(x, r);
		if (record_row(x, r, node, x->ctx))
			return 1;
		if (++records == 1000) /* enough to size the duplicate index */
			pipeline_progress(x->p, (unsigned long long)xmlTextReaderByteConsumed(r));
		*ret = xmlTextReaderNext(r);
		if (*ret != 1)
			return 0;
		skip_read = 1;
	}
}

/* after_reading: the file rejected for why reading ended, or the header sent if no record was. */
static void after_reading(struct xmlin *x, int ret)
{
	struct pipeline *p = x->p;
	const char *schema = x->f->schema;

	if (declares_entities(x, x->r) && !pipeline_stopped(p)) {
		/* libxml2 stopped inside the DOCTYPE (an entity loop, say): say why we refuse */
		refuse_entities(p);
		return;
	}
	if (x->error.len || (ret < 0 && !pipeline_stopped(p))) {
		int line = x->error_line ? x->error_line : xmlTextReaderGetParserLineNumber(x->r);
		if (x->error_schema)
			pipeline_reject(p, "line %d: the document breaks the schema %s: %s", line,
					strrchr(schema, '/') ? strrchr(schema, '/') + 1 : schema,
					buf_cstr(&x->error));
		else
			pipeline_reject(p, "line %d: not well-formed XML: %s", line,
					x->error.len ? buf_cstr(&x->error)
						     : "the document could not be read");
		return;
	}
	if (!x->header_sent && !pipeline_stopped(p))
		send_header(x, 1);
}

static void xmlin_release(struct xmlin *x)
{
	if (x->r)
		xmlFreeTextReader(x->r);
	if (x->doc) /* after the reader: see current_doc */
		xmlFreeDoc(x->doc);
	if (x->schema)
		xmlSchemaFree(x->schema);
	if (x->sp)
		xmlSchemaFreeParserCtxt(x->sp);
	if (x->ctx)
		xmlXPathFreeContext(x->ctx);
	for (size_t i = 0; i < x->npaths; i++)
		xmlXPathFreeCompExpr(x->comp[i]);
	free(x->comp);
	free(x->paths);
	free_steps(x->steps, x->nsteps);
	buf_release(&x->error);
}

void xmlin_run(struct pipeline *p, const struct feed *f, xmlin_read_fn read, void *rctx,
	       const char *name)
{
	struct xmlin x;
	int ret;

	memset(&x, 0, sizeof(x));
	x.f = f;
	x.p = p;
	buf_init(&x.error, 4096);
	if (record_steps(f->record, &x.steps, &x.nsteps) < 0) {
		pipeline_reject(p, "record = %s is not a path", f->record);
		goto out;
	}
	compile_paths(&x);
	x.r = xmlReaderForIO(read, NULL, rctx, name, NULL,
			     XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_BIG_LINES);
	if (x.r == NULL) {
		pipeline_reject(p, "the XML reader could not start");
		goto out;
	}
	xmlTextReaderSetStructuredErrorHandler(x.r, on_error, &x);
	if (f->schema && use_schema(&x) < 0)
		goto out;
	if (read_records(&x, &ret) == 0)
		after_reading(&x, ret);
out:
	xmlin_release(&x);
}
