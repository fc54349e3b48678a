/*
 * format.c: the body, headers and signature one endpoint receives for one
 * stored event (format.h).
 *
 * Everything here is a pure function of the endpoint, the event, the
 * webhook id and the signing time, so every attempt of a delivery rebuilds
 * the same body. The standard envelope carries the stored document's own
 * bytes rather than a re-serialisation of it: a number too large for 64
 * bits, or a float's exact text, reaches the receiver as it was stored.
 * Slack and template bodies need the document as a tree and parse it.
 */
#include "delivery/format.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/jsonx.h"
#include "core/template.h"
#include "ingest/normalize.h"

#ifndef DH_VERSION
#define DH_VERSION "0"
#endif

#define DH__SLACK_TEXT_MAX 300 /* bytes of ticket or message text in a Slack card */
#define DH__SLACK_TITLE_MAX 150
#define DH__SLACK_FIELD_MAX 100
#define DH__ISO_LEN 40

static void dh__err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void dh__err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- Slack ---- */

/* 1 when one of type's dot-separated segments is word. */
static int dh__segment(const char *type, const char *word)
{
    size_t wl = strlen(word);
    const char *p = type;

    while (p != NULL && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == wl && strncmp(p, word, wl) == 0)
            return 1;
        p = dot ? dot + 1 : NULL;
    }
    return 0;
}

static int dh__any_segment(const char *type, const char *const *words)
{
    for (; *words != NULL; words++)
        if (dh__segment(type, *words))
            return 1;
    return 0;
}

const char *dh_format_slack_color(const char *type)
{
    /* Trouble first, so "ai.reply.failed" reads as a failure. */
    static const char *const danger[] = {"escalated", "failed", "rejected", "dead", "error",
                                         NULL};
    static const char *const warning[] = {"requires_review", "review_required", "warning",
                                          NULL};
    static const char *const good[] = {"created", "opened", NULL};
    static const char *const info[] = {"updated", "changed", NULL};
    static const char *const done[] = {"resolved", "closed", "solved", NULL};

    if (type == NULL)
        return "#9e9e9e";
    if (dh__any_segment(type, danger))
        return "#e01e5a";
    if (dh__any_segment(type, warning))
        return "#ecb22e";
    if (strncmp(type, "ai.", 3) == 0)
        return "#8e44ad";
    if (strncmp(type, "feedback.", 9) == 0)
        return "#1aa3a3";
    if (dh__any_segment(type, good))
        return "#2eb886";
    if (dh__any_segment(type, info))
        return "#439fe0";
    if (dh__any_segment(type, done))
        return "#6b9e78";
    return "#9e9e9e";
}

/* The text of a scalar at path in doc, or NULL; the caller frees it. */
static char *dh__doc_text(json_t *doc, const char *path)
{
    json_t *v = dh_json_get_path(doc, path);
    char *s = v ? dh_json_scalar_string(v) : NULL;

    if (s != NULL && *s == '\0') {
        free(s);
        s = NULL;
    }
    return s;
}

/* Slack reads &, < and > in message text as markup; escaping them shows
 * the ticket's text as written. s is cut to max bytes first (not inside a
 * UTF-8 sequence), with "…" added. Returns a new string. */
static char *dh__slack_text(const char *s, size_t max)
{
    size_t n = strlen(s), keep = n;
    struct dh_buf b;

    if (keep > max) {
        keep = max;
        while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
            keep--;
    }
    dh_buf_init(&b, max * 5 + 8);
    for (size_t i = 0; i < keep; i++) {
        if (s[i] == '&')
            dh_buf_puts(&b, "&amp;");
        else if (s[i] == '<')
            dh_buf_puts(&b, "&lt;");
        else if (s[i] == '>')
            dh_buf_puts(&b, "&gt;");
        else
            dh_buf_append(&b, &s[i], 1);
    }
    if (keep < n)
        dh_buf_puts(&b, "\xE2\x80\xA6");
    return dh_buf_steal(&b, NULL);
}

/* Adds {"title", "value", "short": true} when value is not NULL. */
static void dh__slack_field(json_t *fields, const char *title, const char *value)
{
    char *v;

    if (value == NULL)
        return;
    v = dh__slack_text(value, DH__SLACK_FIELD_MAX);
    json_array_append_new(fields, json_pack("{s:s, s:s, s:b}", "title", title, "value", v,
                                            "short", 1));
    free(v);
}

static json_t *dh__slack(const struct dh_event_view *ev, const char *name, json_t *doc)
{
    char *subject = dh__doc_text(doc, "ticket.subject");
    char *body = dh__doc_text(doc, "message.text");
    char *ticket = dh__doc_text(doc, "ticket.number");
    char *status = dh__doc_text(doc, "ticket.status");
    char *priority = dh__doc_text(doc, "ticket.priority");
    char *email = dh__doc_text(doc, "customer.email");
    char *title, *text, *fallback;
    json_t *att, *fields = json_array(), *root;

    /* A message event is about its message; any other shows the ticket. */
    if (body == NULL)
        body = dh__doc_text(doc, "ticket.body");
    if (ticket == NULL)
        ticket = dh__doc_text(doc, "ticket.id");
    title = dh__slack_text(subject ? subject : name, DH__SLACK_TITLE_MAX);
    fallback = subject ? dh_asprintf("%s: %s", name, title) : dh__slack_text(name, 100);

    dh__slack_field(fields, "Ticket", ticket);
    dh__slack_field(fields, "Status", status);
    dh__slack_field(fields, "Priority", priority);
    dh__slack_field(fields, "Source", ev->source);
    dh__slack_field(fields, "Customer", email);

    att = json_object();
    json_object_set_new(att, "color", json_string(dh_format_slack_color(ev->type)));
    json_object_set_new(att, "title", json_string(title));
    if (body != NULL) {
        text = dh__slack_text(body, DH__SLACK_TEXT_MAX);
        json_object_set_new(att, "text", json_string(text));
        free(text);
    }
    json_object_set_new(att, "fields", fields);
    json_object_set_new(att, "footer", json_string("deskhook"));
    json_object_set_new(att, "ts", json_integer(ev->received_ms / 1000));

    root = json_object();
    json_object_set_new(root, "text", json_string(fallback));
    json_object_set_new(root, "attachments", json_pack("[o]", att));

    free(subject);
    free(body);
    free(ticket);
    free(status);
    free(priority);
    free(email);
    free(title);
    free(fallback);
    return root;
}

/* ---- bodies ---- */

/* Parses the stored document. A document with an integer beyond 64 bits
 * is still JSON: it is read again with integers as reals. NULL when it is
 * not JSON at all. */
static json_t *dh__load_doc(const struct dh_event_view *ev, char *err, size_t errlen)
{
    json_error_t je;
    json_t *doc;

    if (ev->doc == NULL) {
        dh__err(err, errlen, "the event has no document");
        return NULL;
    }
    doc = json_loadb(ev->doc, ev->doc_len, JSON_DECODE_ANY, &je);
    if (doc == NULL)
        doc = json_loadb(ev->doc, ev->doc_len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &je);
    if (doc == NULL)
        dh__err(err, errlen, "the event's document is not JSON (%s at byte %d)", je.text,
                je.position);
    return doc;
}

/* {"event":…,"timestamp":…,"data":<the document's bytes>}, bounded by
 * max_payload as it is written. */
static int dh__standard(const struct dh_endpoint *e, const struct dh_event_view *ev,
                        const char *name, const char *iso, struct dh_buf *b)
{
    const char *d = ev->doc;
    size_t n = ev->doc_len;
    int rc = 0;

    /* The stored document is compact; trim anything around it anyway. */
    while (n > 0 && (*d == ' ' || *d == '\t' || *d == '\r' || *d == '\n')) {
        d++;
        n--;
    }
    while (n > 0 && (d[n - 1] == ' ' || d[n - 1] == '\t' || d[n - 1] == '\r' || d[n - 1] == '\n'))
        n--;
    dh_buf_init(b, e->max_payload);
    if (rc == 0)
        rc = dh_buf_puts(b, "{\"event\":");
    if (rc == 0)
        rc = dh_json_write_string(b, name, strlen(name));
    if (rc == 0)
        rc = dh_buf_puts(b, ",\"timestamp\":\"");
    if (rc == 0)
        rc = dh_buf_puts(b, iso);
    if (rc == 0)
        rc = dh_buf_puts(b, "\",\"data\":");
    if (rc == 0)
        rc = dh_buf_append(b, d, n);
    if (rc == 0)
        rc = dh_buf_puts(b, "}");
    return rc < 0 ? DH_E_TOO_LARGE : 0;
}

/* ---- headers and signatures ---- */

/* A header value the caller passed must not end the header early. */
static int dh__header_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7F)
            return 0;
    return 1;
}

int dh_format_sign_standard(const struct dh_endpoint_secret *secrets, size_t nsecrets,
                            const char *msg_id, int64_t timestamp_s, const char *body,
                            size_t len, char *out, size_t outlen)
{
    char ts[24], b64[DH_HMAC_MAX * 2];
    unsigned char mac[DH_HMAC_MAX];
    size_t used = 0;
    int rc = 0;

    if (nsecrets == 0)
        return -EINVAL;
    if (outlen < nsecrets * DH_FORMAT_SIG_PER_SECRET + 1)
        return -ENOSPC;
    snprintf(ts, sizeof(ts), "%" PRId64, timestamp_s);
    for (size_t i = 0; i < nsecrets; i++) {
        struct dh_hmac_key *k = NULL;
        struct dh_iov parts[5] = {
            {msg_id, strlen(msg_id)}, {".", 1}, {ts, strlen(ts)}, {".", 1}, {body, len},
        };
        int n;

        rc = dh_hmac_key_new("sha256", secrets[i].key, secrets[i].len, &k);
        if (rc < 0)
            goto out;
        n = dh_hmac_compute(k, parts, 5, mac);
        dh_hmac_key_free(k);
        if (n < 0) {
            rc = n;
            goto out;
        }
        dh_base64_encode(mac, (size_t)n, b64);
        used += (size_t)snprintf(out + used, outlen - used, "%sv1,%s", i ? " " : "", b64);
    }
out:
    explicit_bzero(mac, sizeof(mac));
    if (rc < 0 && outlen > 0)
        out[0] = '\0';
    return rc;
}

/* X-Webhook-Signature: the hex HMAC-SHA256 of the body with the first
 * secret. out holds 2 * DH_HMAC_MAX + 1 bytes. */
static int dh__sign_hex(const struct dh_endpoint_secret *s, const char *body, size_t len,
                        char *out)
{
    struct dh_hmac_key *k = NULL;
    struct dh_iov part = {body, len};
    unsigned char mac[DH_HMAC_MAX];
    int n;

    n = dh_hmac_key_new("sha256", s->key, s->len, &k);
    if (n == 0)
        n = dh_hmac_compute(k, &part, 1, mac);
    dh_hmac_key_free(k);
    if (n < 0)
        return n;
    dh_hex_encode(mac, (size_t)n, out);
    explicit_bzero(mac, sizeof(mac));
    return 0;
}

static void dh__header(struct dh_outbound *o, char *line)
{
    o->headers[o->nheaders++] = line;
}

static int dh__headers(const struct dh_endpoint *e, const char *name, const char *webhook_id,
                       int64_t now_s, struct dh_outbound *o, char *err, size_t errlen)
{
    char *sig = NULL;
    int rc = 0;

    /* Four fixed headers, Authorization, the custom ones and at most
     * three for the signature. */
    o->headers = dh_calloc(4 + 1 + e->nheaders + 3, sizeof(char *));
    dh__header(o, dh_strdup("Content-Type: application/json"));
    dh__header(o, dh_strdup("User-Agent: deskhook/" DH_VERSION));
    dh__header(o, dh_asprintf("X-Webhook-Event: %s", name));
    dh__header(o, dh_asprintf("X-Webhook-Id: %s", webhook_id));

    if (e->bearer != NULL) {
        dh__header(o, dh_asprintf("Authorization: Bearer %s", e->bearer));
    } else if (e->basic != NULL) {
        size_t n = strlen(e->basic);
        char *enc = dh_malloc(4 * ((n + 2) / 3) + 1);
        dh_base64_encode((const unsigned char *)e->basic, n, enc);
        dh__header(o, dh_asprintf("Authorization: Basic %s", enc));
        explicit_bzero(enc, strlen(enc));
        free(enc);
    }
    for (size_t i = 0; i < e->nheaders; i++)
        dh__header(o, dh_asprintf("%s: %s", e->header_names[i], e->header_values[i]));

    if (e->signing == DH_SIGN_STANDARD) {
        size_t cap = e->nsecrets * DH_FORMAT_SIG_PER_SECRET + 1;
        sig = dh_malloc(cap);
        rc = dh_format_sign_standard(e->secrets, e->nsecrets, webhook_id, now_s, o->body, o->len,
                                     sig, cap);
        if (rc < 0) {
            dh__err(err, errlen, "cannot sign: %s",
                    e->nsecrets == 0 ? "the endpoint has no secret" : dh_strerror(rc));
            rc = e->nsecrets == 0 ? DH_E_BAD_REQUEST : DH_E_INTERNAL;
            goto out;
        }
        dh__header(o, dh_asprintf("webhook-id: %s", webhook_id));
        dh__header(o, dh_asprintf("webhook-timestamp: %" PRId64, now_s));
        dh__header(o, dh_asprintf("webhook-signature: %s", sig));
    } else if (e->signing == DH_SIGN_HEX) {
        char hex[2 * DH_HMAC_MAX + 1];
        if (e->nsecrets == 0) {
            dh__err(err, errlen, "cannot sign: the endpoint has no secret");
            rc = DH_E_BAD_REQUEST;
            goto out;
        }
        rc = dh__sign_hex(&e->secrets[0], o->body, o->len, hex);
        if (rc < 0) {
            dh__err(err, errlen, "cannot sign: %s", dh_strerror(rc));
            rc = DH_E_INTERNAL;
            goto out;
        }
        dh__header(o, dh_asprintf("X-Webhook-Signature: %s", hex));
    }
out:
    free(sig);
    return rc;
}

int dh_format_build(const struct dh_endpoint *e, const struct dh_event_view *ev,
                    const char *webhook_id, int64_t now_s, struct dh_outbound *out, char *err,
                    size_t errlen)
{
    const char *name = dh_endpoint_event_name(e, ev->type);
    char iso[DH__ISO_LEN];
    json_t *doc = NULL, *body = NULL, *ctx = NULL;
    struct dh_buf b;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    dh_buf_init(&b, 0);
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (!dh__header_safe(name) || !dh__header_safe(webhook_id)) {
        dh__err(err, errlen, "the event type or webhook id has a control character");
        rc = DH_E_BAD_REQUEST;
        goto out;
    }
    if ((doc = dh__load_doc(ev, err, errlen)) == NULL) {
        rc = DH_E_BAD_REQUEST;
        goto out;
    }
    dh_clock_format_iso(ev->received_ms, iso, sizeof(iso));

    switch (e->format) {
    case DH_FORMAT_STANDARD:
        rc = dh__standard(e, ev, name, iso, &b);
        if (rc < 0) {
            dh__err(err, errlen, "the body is larger than max_payload (%" PRIu64 " bytes)",
                    e->max_payload);
            goto out;
        }
        out->body = dh_buf_steal(&b, &out->len);
        break;
    case DH_FORMAT_SLACK:
        body = dh__slack(ev, name, doc);
        break;
    case DH_FORMAT_TEMPLATE:
        if (e->tmpl == NULL) {
            dh__err(err, errlen, "the endpoint has no template");
            rc = DH_E_BAD_REQUEST;
            goto out;
        }
        ctx = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "event", name, "type", ev->type,
                        "timestamp", iso, "id", ev->id ? ev->id : "", "source",
                        ev->source ? ev->source : "", "webhook_id", webhook_id, "data", doc);
        if (ctx == NULL) {
            dh__err(err, errlen, "the event's fields are not valid UTF-8");
            rc = DH_E_BAD_REQUEST;
            goto out;
        }
        body = dh_template_render(e->tmpl, ctx);
        break;
    }
    if (body != NULL) {
        out->body = json_dumps(body, DH_JSON_DUMP_FLAGS | JSON_ENCODE_ANY);
        if (out->body == NULL) {
            dh__err(err, errlen, "the %s body cannot be written as JSON",
                    e->format == DH_FORMAT_SLACK ? "slack" : "template");
            rc = DH_E_BAD_REQUEST;
            goto out;
        }
        out->len = strlen(out->body);
        if (out->len > e->max_payload) {
            dh__err(err, errlen,
                    "the body is %zu bytes, larger than max_payload (%" PRIu64 " bytes)",
                    out->len, e->max_payload);
            rc = DH_E_TOO_LARGE;
            goto out;
        }
    }
    rc = dh__headers(e, name, webhook_id, now_s, out, err, errlen);
out:
    if (rc < 0)
        dh_outbound_clear(out);
    dh_buf_free(&b);
    json_decref(ctx);
    json_decref(body);
    json_decref(doc);
    return rc;
}

void dh_outbound_clear(struct dh_outbound *o)
{
    if (o == NULL)
        return;
    free(o->body);
    for (size_t i = 0; i < o->nheaders; i++) {
        /* Authorization carries a credential: do not leave it in freed memory. */
        explicit_bzero(o->headers[i], strlen(o->headers[i]));
        free(o->headers[i]);
    }
    free(o->headers);
    memset(o, 0, sizeof(*o));
}
