/*
 * ingest.h: from an HTTP request to a record ready to commit.
 *
 * The HTTP layer routes a path to a source, runs the header checks as soon
 * as the headers are in, collects the body (bounded by the source's
 * max_body), then calls dh_ingest_prepare(), which runs the remaining checks
 * in the documented order (authentication, rate limit, JSON, required
 * fields) and builds the normalized document and the dedupe key. Dedupe
 * itself and the commit happen on the commit thread. Nothing here touches
 * the network or the store.
 *
 * struct dh_ingest is built at start and read-only afterwards, except each
 * source's rate-limit bucket, which has its own lock. Any request thread.
 */
#ifndef DH_INGEST_H
#define DH_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "ingest/auth.h"
#include "ingest/preset.h"
#include "ingest/ratelimit.h"
#include "store/store.h"

struct dh_ingest_source {
    const struct dh_config_source *cfg;
    const struct dh_preset *preset;
    struct dh_auth *auth;
    int has_rate_limit;
    struct dh_ratelimit rl;
    uint64_t dedupe_window_ms;
    const char **required; /* the preset's, then the source's */
    size_t nrequired;
};

struct dh_ingest {
    struct dh_ingest_source *sources;
    size_t nsources;
    int max_json_depth;
};

/* Builds the runtime sources from a validated config, checking what only
 * ingest knows (preset names, required field names); problems go to el with
 * file:line. Returns 0 or DH_E_CONFIG. */
int dh_ingest_new(const struct dh_config *c, struct dh_ingest **out, struct dh_errlist *el);
void dh_ingest_free(struct dh_ingest *in);

/* Maps a request path to a source. Returns 0 with *src and the event type
 * the path names (or "") in event_type; DH_E_UNKNOWN_SOURCE for a path under
 * /webhooks/ that names no source; DH_E_INVALID_EVENT_TYPE; DH_E_NOT_FOUND
 * for any other path. */
int dh_ingest_route(const struct dh_ingest *in, const char *path,
                    const struct dh_ingest_source **src, char *event_type, size_t etlen);

/* The checks that need only headers: content type, then declared size.
 * content_length is -1 when unknown. Returns 0, DH_E_TOO_LARGE or
 * DH_E_MEDIA_TYPE. */
int dh_ingest_check_headers(const struct dh_ingest_source *src, const char *content_type,
                            int64_t content_length);

struct dh_ingest_request {
    const struct dh_ingest_source *src;
    const char *path_event_type; /* "" when the path names none */
    dh_header_fn get_header;
    void *hctx;
    const char *content_type;
    const char *body;
    size_t len;
};

struct dh_ingest_error {
    char message[300];
    int64_t retry_after_s; /* for DH_E_RATE_LIMITED */
};

/* Runs authentication, the rate limit, JSON parsing and required fields,
 * then fills ev (id, names, type, dedupe key, normalized document; not the
 * raw body, which the caller moves in). Returns 0, or a DH_E_* code with a
 * message for the client in err. */
int dh_ingest_prepare(struct dh_ingest *in, const struct dh_ingest_request *rq,
                      struct dh_event_rec *ev, struct dh_ingest_error *err);

#endif
