/*
 * respond.c: response helpers (respond.h).
 */
#include "http/respond.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/jsonx.h"
#include "core/template.h"

enum MHD_Result dh_http_respond(struct MHD_Connection *conn, unsigned status, const char *body,
                                size_t len, const char *content_type,
                                const struct dh_http_header *extra)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    for (; extra != NULL && extra->name != NULL; extra++)
        if (extra->value != NULL)
            MHD_add_response_header(r, extra->name, extra->value);
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result dh_http_respond_json(struct MHD_Connection *conn, unsigned status, json_t *body,
                                     const struct dh_http_header *extra)
{
    char *s = dh_json_dump(body);
    enum MHD_Result ret;

    json_decref(body);
    /* The dump is handed over without a copy; MHD frees it with free(). */
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    for (; extra != NULL && extra->name != NULL; extra++)
        if (extra->value != NULL)
            MHD_add_response_header(r, extra->name, extra->value);
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result dh_http_respond_error(struct MHD_Connection *conn, int rc, const char *message,
                                      int64_t retry_after_s, const char *event_id)
{
    return dh_http_respond_error_tmpl(conn, rc, message, retry_after_s, event_id, NULL);
}

enum MHD_Result dh_http_respond_error_tmpl(struct MHD_Connection *conn, int rc,
                                           const char *message, int64_t retry_after_s,
                                           const char *event_id, const json_t *tmpl)
{
    char ra[24];
    struct dh_http_header extra[4] = {{NULL, NULL}};
    int n = 0;
    json_t *body;

    if (retry_after_s > 0) {
        snprintf(ra, sizeof(ra), "%lld", (long long)retry_after_s);
        extra[n++] = (struct dh_http_header){"Retry-After", ra};
    }
    if (event_id != NULL && event_id[0] != '\0')
        extra[n++] = (struct dh_http_header){"X-Deskhook-Event-Id", event_id};
    body = json_pack("{s:{s:s,s:s}}", "error", "code", dh_error_code(rc), "message",
                     (message != NULL && message[0] != '\0') ? message : dh_strerror(rc));
    if (tmpl != NULL) {
        json_object_set_new(body, "status", json_integer(dh_error_status(rc)));
        json_t *shaped = dh_template_render(tmpl, body);
        json_decref(body);
        body = shaped;
    }
    return dh_http_respond_json(conn, (unsigned)dh_error_status(rc), body, extra);
}
