/*
 * format.h: the request an endpoint receives for one event: body, headers
 * and signature.
 *
 * Pure functions over an endpoint and a stored event, so the same bytes can
 * be rebuilt for every attempt (only webhook-timestamp and the signature
 * change). Any thread.
 *
 * Formats:
 *   standard  {"event": <renamed type>, "timestamp": <received, ISO 8601 UTC>,
 *              "data": <the normalized document>}
 *   slack     {"text": fallback, "attachments": [{"color", "title", "text",
 *              "fields", "footer", "ts"}]} coloured by event type
 *   template  the endpoint's JSON template rendered over
 *             {event, type, timestamp, id, source, webhook_id, data}
 *
 * Headers, always: Content-Type: application/json,
 * User-Agent: deskhook/<version>, X-Webhook-Event: <renamed type>,
 * X-Webhook-Id: <webhook id>; then the endpoint's auth (Authorization:
 * Bearer/Basic, custom headers) and its signature:
 *   standard-webhooks  webhook-id, webhook-timestamp (seconds) and
 *                      webhook-signature: "v1,<base64>" per secret, space
 *                      separated, over "<id>.<timestamp>.<body>"
 *   hex                X-Webhook-Signature: hex HMAC-SHA256 of the body with
 *                      the first secret
 */
#ifndef DH_FORMAT_H
#define DH_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "delivery/endpoint.h"

/* A stored event as the formatter needs it; the strings are borrowed. */
struct dh_event_view {
    const char *id;
    const char *source;
    const char *type;
    int64_t received_ms;
    const char *doc; /* the normalized document, JSON text */
    size_t doc_len;
};

/* One request, owned by the caller; release with dh_outbound_clear. */
struct dh_outbound {
    char *body;
    size_t len;
    char **headers; /* "Name: value", nheaders of them */
    size_t nheaders;
};

/* Builds the request for ev to e with webhook_id, signed at now_s (Unix
 * seconds). Returns 0, DH_E_TOO_LARGE when the body exceeds e->max_payload,
 * or DH_E_BAD_REQUEST (a template that does not render, a document that is
 * not JSON) with a reason in err. */
int dh_format_build(const struct dh_endpoint *e, const struct dh_event_view *ev,
                    const char *webhook_id, int64_t now_s, struct dh_outbound *out, char *err,
                    size_t errlen);
void dh_outbound_clear(struct dh_outbound *o);

/* The Slack attachment colour for an event type (a "#rrggbb" string). */
const char *dh_format_slack_color(const char *type);

/* Room for the signature of one secret: "v1," + base64 of 32 bytes + ' '. */
#define DH_FORMAT_SIG_PER_SECRET 48

/* Writes the Standard Webhooks signature of body into out: "v1,<base64
 * HMAC-SHA256>" per secret, space separated, over
 * "<msg_id>.<timestamp_s>.<body>". out needs nsecrets *
 * DH_FORMAT_SIG_PER_SECRET + 1 bytes. Returns 0, -ENOSPC (out too small),
 * -EINVAL (no secret) or a crypto error. Any thread. */
int dh_format_sign_standard(const struct dh_endpoint_secret *secrets, size_t nsecrets,
                            const char *msg_id, int64_t timestamp_s, const char *body,
                            size_t len, char *out, size_t outlen);

#endif
