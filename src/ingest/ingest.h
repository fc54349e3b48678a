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

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/error.h"
#include "ingest/auth.h"
#include "ingest/preset.h"
#include "ingest/ratelimit.h"
#include "store/store.h"

/* Outcome counters of a source: accepted, duplicate, then one per DH_E_*
 * code (rejections). */
#define DH_INGEST_NCOUNTS (2 + (DH_E__END - DH_E__BASE))

struct dh_ingest_source {
    const struct dh_config_source *cfg;
    const struct dh_preset *preset;
    struct dh_preset_field *fields; /* the preset's, with the source's overrides */
    size_t nfields;
    struct dh_auth *auth;
    int has_rate_limit;
    struct dh_ratelimit rl;        /* when the limit has no key */
    struct dh_ratelimit_keyed *krl; /* one bucket per value of cfg->rate_key */
    uint64_t dedupe_window_ms;
    const char **required; /* the preset's, then the source's */
    size_t nrequired;
    atomic_ullong counts[DH_INGEST_NCOUNTS]; /* any thread, relaxed */
};

/* Fills the ids of the endpoints an event of type from source goes to
 * (allocated; *n of them). Any request thread. */
typedef void (*dh_ingest_targets_fn)(void *arg, const char *source, const char *type,
                                     char ***ids, size_t *n);

struct dh_ingest {
    struct dh_ingest_source *sources;
    size_t nsources;
    int max_json_depth;
    dh_ingest_targets_fn targets; /* set once before serving; NULL: no fan-out */
    void *targets_arg;
};

/* Builds the runtime sources from a validated config, checking what only
 * ingest knows (preset names, required field names); problems go to el with
 * file:line. Returns 0 or DH_E_CONFIG. */
int dh_ingest_new(const struct dh_config *c, struct dh_ingest **out, struct dh_errlist *el);
void dh_ingest_free(struct dh_ingest *in);

/* Maps a request path to a source. Returns 0 with *src, the event type the
 * path names (or "") in event_type, and *batch set for ".../batch";
 * DH_E_UNKNOWN_SOURCE for a path under /webhooks/ that names no source;
 * DH_E_INVALID_EVENT_TYPE; DH_E_NOT_FOUND for any other path. */
int dh_ingest_route(const struct dh_ingest *in, const char *path,
                    const struct dh_ingest_source **src, char *event_type, size_t etlen,
                    int *batch);

/* The checks that need only headers: content type, then declared size.
 * content_length is -1 when unknown. Returns 0, DH_E_TOO_LARGE or
 * DH_E_MEDIA_TYPE. */
int dh_ingest_check_headers(const struct dh_ingest_source *src, const char *content_type,
                            int64_t content_length);

struct dh_ingest_request {
    const struct dh_ingest_source *src;
    const char *path_event_type; /* "" when the path names none */
    int batch;                   /* POST .../batch: a JSON array of events */
    dh_header_fn get_header;
    void *hctx;
    const char *method;
    const char *uri;             /* raw request URI (path and query) */
    const struct sockaddr *peer; /* the connected client */
    const char *content_type;
    const char *body;
    size_t len;
};

struct dh_ingest_error {
    char message[300];
    int64_t retry_after_s; /* for DH_E_RATE_LIMITED */
};

/* The outcome of one element of an array body (a batch, or a platform that
 * sends several events in one request). */
struct dh_ingest_element {
    int rc;            /* 0, or why this element was refused */
    char message[200];
    int ev;            /* its record in item->evs, or -1 when refused */
};

struct dh_ingest_result {
    int array;                          /* the body was an array of events */
    struct dh_ingest_element *elements; /* nelements, when array */
    size_t nelements;
};

/* Runs authentication, the rate limit, JSON parsing, normalization and
 * required fields, and fills item (kind, evs, nevs) with one record per
 * event, each with its own copy of its raw bytes. For an array body, an
 * element that fails is reported in res and does not stop the others; the
 * call fails only when the request as a whole does (auth, rate, JSON, or
 * no element could be used when the request is not a batch). Returns 0, or a
 * DH_E_* code with a message for the client in err. The caller releases
 * item's records with dh_ingest_item_clear and res with
 * dh_ingest_result_clear. */
int dh_ingest_prepare(struct dh_ingest *in, const struct dh_ingest_request *rq,
                      struct dh_commit_item *item, struct dh_ingest_result *res,
                      struct dh_ingest_error *err);
void dh_ingest_item_clear(struct dh_commit_item *item);

/* Counts one outcome of a source: rc 0 (accepted, or a duplicate when
 * duplicate is set) or the DH_E_* code it was refused with. Any thread. */
void dh_ingest_count(const struct dh_ingest_source *src, int rc, int duplicate);
/* Returns {"<source>": {"accepted": N, "duplicate": N, "rejected": {"<code>": N}}}
 * (a new reference). Any thread. */
json_t *dh_ingest_stats(const struct dh_ingest *in);
void dh_ingest_result_clear(struct dh_ingest_result *res);

#endif
