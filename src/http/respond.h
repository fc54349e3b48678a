/*
 * respond.h: JSON responses and the error body every endpoint shares:
 * {"error":{"code":"…","message":"…"}}. Called from MHD handler threads.
 */
#ifndef DH_RESPOND_H
#define DH_RESPOND_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

/* Extra headers for a response; a NULL name ends the list. */
struct dh_http_header {
    const char *name;
    const char *value;
};

/* Queues a response with body (len bytes, copied) and content type. */
enum MHD_Result dh_http_respond(struct MHD_Connection *conn, unsigned status, const char *body,
                                size_t len, const char *content_type,
                                const struct dh_http_header *extra);
/* Queues a JSON response; consumes body (decref). */
enum MHD_Result dh_http_respond_json(struct MHD_Connection *conn, unsigned status, json_t *body,
                                     const struct dh_http_header *extra);
/* Queues the error body for rc (DH_E_*), with message or the default one. A
 * positive retry_after_s adds Retry-After; event_id (may be NULL) adds
 * X-Deskhook-Event-Id. */
enum MHD_Result dh_http_respond_error(struct MHD_Connection *conn, int rc, const char *message,
                                      int64_t retry_after_s, const char *event_id);
/* As dh_http_respond_error, with the body rendered from tmpl (NULL: the
 * standard body) over {"error":{"code","message"},"status":N}. */
enum MHD_Result dh_http_respond_error_tmpl(struct MHD_Connection *conn, int rc,
                                           const char *message, int64_t retry_after_s,
                                           const char *event_id, const json_t *tmpl);

#endif
