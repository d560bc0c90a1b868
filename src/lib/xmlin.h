/*
 * xmlin - XML records to rows, streaming with libxml2's xmlTextReader.
 *
 * The feed's `record` path (/Products/Product) names the elements that are
 * rows; each is expanded alone (memory is one record), and every source of
 * the feed's mapping is an XPath relative to it (@sku, Name[@lang='en'],
 * Prices/Price[@currency='EUR']), namespaces bound by namespace.PREFIX. A path
 * that finds several nodes gives their texts joined by ',' (Commerce's
 * multi-value separator); none gives "".
 *
 * Safe by construction: XML_PARSE_NONET, no entity substitution, no DTD
 * loading, no XInclude, no XML_PARSE_HUGE. libxml2 2.9 would read an external
 * entity silently as empty text, so a document whose DOCTYPE declares entities
 * is refused with its own message. Syntax and schema errors reject the file
 * with their line. The declared encoding is libxml2's to honour.
 */
#ifndef DG_XMLIN_H
#define DG_XMLIN_H

#include "util/buf.h"

struct feed;
struct pipeline;

/* Bytes of the document: as libxml2's xmlInputReadCallback, -1 on error. */
typedef int (*xmlin_read_fn)(void *ctx, char *buf, int len);

/* xmlin_check_feed: the record path and the mapping's XPaths compile. */
int xmlin_check_feed(const struct feed *f, struct buf *err);
/*
 * xmlin_preload_schema: compile the feed's schema (and what it includes) now,
 * for every later xmlin_run of that feed in this process: a sandboxed parser
 * reads no schema file. 0 (also when the feed has none), -1 when it does not
 * compile; xmlin_run then tries again and rejects the file with the reason.
 */
int xmlin_preload_schema(const struct feed *f);
/* xmlin_run: every record of the document into the pipeline. */
void xmlin_run(struct pipeline *p, const struct feed *f, xmlin_read_fn read, void *ctx,
	       const char *name);

#endif
