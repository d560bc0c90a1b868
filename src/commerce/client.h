/*
 * client - one Commerce target over HTTP (libcurl): tokens and imports.
 *
 * The token comes from token_file (an integration token), or is an admin
 * token asked for with username and password_file and asked for once more
 * when Commerce answers 401. No secret reaches a log line, a report or an
 * error message: they name the file, never its content.
 *
 * commerce_import sends one prepared body to /V1/import/csv (or json) on a
 * connection kept alive across calls, with connect, total and low-speed
 * timeouts, TLS verified unless verify_tls = no (ca_file pins a CA). A
 * transient failure (429, 5xx, a timeout, a refused or reset connection, no
 * answer) is retried up to `retries` times with exponential backoff and
 * jitter, honouring Retry-After within bounds; what is left is the answer's
 * class.
 */
#ifndef DG_CLIENT_H
#define DG_CLIENT_H

#include "commerce/answer.h"
#include "util/buf.h"

struct target;
struct commerce_client;

/* commerce_global_init: once per process, before any client (not thread-safe). */
void commerce_global_init(void);
struct commerce_client *commerce_client_new(const struct target *t, struct buf *err);
void commerce_client_free(struct commerce_client *c);
/* commerce_import: one request, retried as above; the outcome in *a. */
enum answer_class commerce_import(struct commerce_client *c, const char *body, size_t len,
				  struct answer *a);
/*
 * commerce_get: GET <url>/rest/<store>/V1/<route> (route with its query), with
 * the same tokens and retries; done with the JSON body in *response.
 */
enum answer_class commerce_get(struct commerce_client *c, const char *route, struct answer *a,
			       struct buf *response);
/*
 * commerce_call: METHOD <url>/rest/<store>/<route> ("V1/order/12/ship",
 * "async/bulk/V1/order/byOrderId/ship") with a JSON body (NULL: none). Done on
 * any 2xx, the body in *response. For requests that must not be made twice:
 * only failures before Commerce could act (no connection, 429, 503) are
 * retried; no answer once sent, or a 5xx, sets *unknown (ANSWER_TRANSIENT):
 * the caller looks up what came of it before sending again.
 */
enum answer_class commerce_call(struct commerce_client *c, const char *method, const char *route,
				const char *body, size_t len, struct answer *a,
				struct buf *response, int *unknown);
/* commerce_set_default_stop: the stop every new client starts with (the daemon's: its
   exports stop with it); once, before any client. */
void commerce_set_default_stop(int (*stop)(void *ctx), void *ctx);
/* commerce_client_set_stop: stop() is asked during transfers and waits; 1 aborts them. */
void commerce_client_set_stop(struct commerce_client *c, int (*stop)(void *ctx), void *ctx);
/* commerce_wire_bytes: request bytes sent so far (bodies, all attempts). */
unsigned long long commerce_wire_bytes(const struct commerce_client *c);

#endif
