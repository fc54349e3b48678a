/*
 * endpoint.h: an outbound endpoint, parsed from one JSON object.
 *
 * The same parser reads endpoints from the config file (each `endpoints:`
 * item converted with dh_ytree_to_json) and from the admin API (the body
 * of POST /api/endpoints, or a stored definition merged with a PATCH), so
 * both accept exactly the same keys and report the same problems. A parsed
 * endpoint is immutable and shared read-only between threads; it is freed
 * with dh_endpoint_free once every user has let go (registry.h counts).
 *
 * Keys (all but url optional):
 *   name            unique, a-z 0-9 - _ (64 at most); the API generates one
 *   url             http:// or https:// only
 *   method          POST (default), PUT or PATCH
 *   auth            {bearer: TOKEN} | {basic: {username, password}} |
 *                   {headers: {Name: value, ...}} (headers combine with either)
 *   events          event types, "*" and suffix wildcards ("ticket.*"); ["*"]
 *   sources         source names; absent: every source
 *   signing         standard-webhooks (default) | hex | none
 *   secrets         list; standard-webhooks: whsec_<base64>; hex: any string
 *   format          standard (default) | slack | template
 *   template        JSON template over the event (format: template)
 *   timeout         duration, default 30s
 *   retry           {schedule: [durations], max_attempts: N}; defaults: the
 *                   backoff.h schedule and its length
 *   event_names     {ours: theirs} renames of outgoing event types
 *   max_in_flight   requests at once to this endpoint, default 100
 *   rate            requests per second, 0 (default): unlimited
 *   active          false: no deliveries are created for it
 *   allow_private   CIDRs this endpoint may reach despite the SSRF guard
 *   follow_redirects  default false; redirects are then re-checked by the guard
 *   pause_on_gone   default true: a 410 answer pauses the endpoint
 *   breaker         {failures: N (default 5), cooldown: duration (default 30s)}
 *   max_payload     size, default 1MiB: a larger body is outcome too_large
 *   tls             {ca_file: /path.pem}: the CAs that verify this endpoint
 */
#ifndef DH_ENDPOINT_H
#define DH_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/cidr.h"

#define DH_ENDPOINT_NAME_MAX 64

enum dh_signing { DH_SIGN_STANDARD, DH_SIGN_HEX, DH_SIGN_NONE };
enum dh_format { DH_FORMAT_STANDARD, DH_FORMAT_SLACK, DH_FORMAT_TEMPLATE };

struct dh_endpoint_secret {
    unsigned char *key; /* decoded: whsec_ base64 decoded, hex: the string's bytes */
    size_t len;
};

struct dh_endpoint {
    char *id;   /* config endpoints: their name; API ones: "ep_…" */
    char *name;
    int from_config;
    char *url;
    char *method;
    char *bearer;          /* or NULL */
    char *basic;           /* "user:password", or NULL */
    char **header_names;   /* custom headers from auth.headers */
    char **header_values;
    size_t nheaders;
    char **events;         /* patterns */
    size_t nevents;
    char **sources;        /* NULL: every source */
    size_t nsources;
    enum dh_signing signing;
    struct dh_endpoint_secret *secrets;
    size_t nsecrets;
    enum dh_format format;
    json_t *tmpl;          /* format: template */
    uint64_t timeout_ms;
    uint64_t *schedule_ms;
    size_t nschedule;
    unsigned max_attempts;
    char **rename_from;    /* event_names */
    char **rename_to;
    size_t nrenames;
    unsigned max_in_flight;
    double rate;           /* per second; 0: unlimited */
    int active;
    struct dh_cidr *allow_private;
    size_t nallow;
    int follow_redirects;
    int pause_on_gone;
    unsigned breaker_failures;
    uint64_t breaker_cooldown_ms;
    uint64_t max_payload;
    char *ca_file;         /* tls.ca_file, or NULL: the system's CAs */
    json_t *spec;          /* the definition as given (secrets included) */
};

/* Parses spec. id is the endpoint's id (NULL: the name). Every problem is
 * appended to err as "key: message" lines separated by "; " (err is always
 * NUL-terminated). Returns 0 and *out, or DH_E_BAD_REQUEST. */
int dh_endpoint_parse(const json_t *spec, const char *id, int from_config,
                      struct dh_endpoint **out, char *err, size_t errlen);
void dh_endpoint_free(struct dh_endpoint *e);

/* 1 when e is active and subscribes to events of type from source. */
int dh_endpoint_matches(const struct dh_endpoint *e, const char *source, const char *type);
/* 1 when type matches pattern: "*", "prefix.*" (any type starting with
 * "prefix."), or the exact type. */
int dh_endpoint_pattern_match(const char *pattern, const char *type);
/* The outgoing name of type after event_names (type itself when not renamed). */
const char *dh_endpoint_event_name(const struct dh_endpoint *e, const char *type);

/* The definition for the API: spec with every secret, token and password
 * replaced by "********" (and a Slack endpoint's URL, which is itself the
 * credential, cut to its scheme and host and "/" plus the mask), plus id, name and
 * "origin": "config" | "api".
 * New reference. */
json_t *dh_endpoint_to_json(const struct dh_endpoint *e);

/* Merges a PATCH body into a stored spec (object keys replace, null
 * deletes). New reference. */
json_t *dh_endpoint_merge(const json_t *spec, const json_t *patch);

#endif
