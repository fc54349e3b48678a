/*
 * config.h: the gateway's configuration, loaded from one YAML file.
 *
 * One option table (config.c) names every scalar key with its type, bounds,
 * default and help; it drives parsing, `deskhook check` and the reference in
 * docs/configuration.md. Loading collects every problem with file:line
 * instead of stopping at the first. A loaded config is immutable and shared
 * read-only by all threads.
 */
#ifndef DH_CONFIG_H
#define DH_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "config/yamltree.h"

struct dh_config_hmac {
    char *header;    /* e.g. X-Webhook-Signature */
    char *algorithm; /* sha1 | sha256 | sha512 */
    char *encoding;  /* hex | base64 */
    char *prefix;    /* optional, e.g. "sha256=" (also accepted when absent) */
    char *signed_template;  /* what is signed, e.g. "{timestamp}.{body}"; NULL: the body */
    char *timestamp_header; /* with {timestamp}: the header carrying it */
    uint64_t tolerance_ms;  /* 0: the default (5 minutes) */
    char **secrets;
    size_t nsecrets;
};

/* A platform signature scheme by name (zendesk, stripe, …). The name is
 * checked by ingest, which knows the schemes. */
struct dh_config_sig {
    char *scheme;
    int line;
    char **secrets; /* or PEM public keys, for freshchat */
    size_t nsecrets;
    uint64_t tolerance_ms; /* 0: the default (5 minutes) */
    char *base_url;        /* hubspot: the public URL the gateway is reached at */
};

struct dh_config_ips {
    int line;
    char **cidrs;
    size_t ncidrs;
    char **proxies; /* peers whose X-Forwarded-For is believed */
    size_t nproxies;
};

struct dh_config_tokens {
    char *name; /* header name, for the `header` scheme */
    char **tokens;
    size_t ntokens;
};

struct dh_config_auth {
    int none; /* `auth: none` written explicitly */
    struct dh_config_hmac *hmac;
    struct dh_config_tokens *bearer;
    struct dh_config_tokens *header;
    char **basic_users; /* "name:password" pairs */
    size_t nbasic;
    struct dh_config_sig *sigs;
    size_t nsigs;
    struct dh_config_ips *ips;
};

/* A source's own payload paths for one ticket-model field. */
struct dh_config_field {
    char *target; /* e.g. "ticket.subject" */
    char **paths;
    size_t npaths;
};

struct dh_config_source {
    int line;
    char *name;
    char *preset;
    int preset_line;
    int required_line;
    char **paths;
    size_t npaths;
    char *default_event;
    uint64_t max_body;
    uint64_t dedupe_window_ms; /* 0: use the global one */
    uint64_t rate_count;       /* 0: unlimited */
    uint64_t rate_period_ms;
    char *rate_key;            /* one bucket per value of this field, or NULL */
    struct dh_config_field *fields; /* overrides of the preset's paths */
    size_t nfields;
    int fields_line;
    char **event_map;          /* from, to, from, to, ... */
    size_t nevent_map;         /* pairs */
    char **required;
    size_t nrequired;
    char *required_message; /* replaces the missing_field message, or NULL */
    unsigned response_status; /* 0: 200 */
    json_t *response_body;    /* template over the event, or NULL */
    json_t *error_body;       /* template over {error: {code, message}, status}, or NULL */
    char *health_path;        /* GET here answers health_body */
    json_t *health_body;
    struct dh_config_auth auth;
};

struct dh_config {
    char *file;
    char *listen;
    char *admin_listen;
    char *admin_token;
    char *store;
    uint64_t dedupe_window_ms;
    char *log_level;
    int log_access;
    uint64_t max_connections;
    uint64_t http_threads;
    uint64_t request_timeout_ms;
    uint64_t idle_timeout_ms;
    uint64_t max_header_bytes;
    uint64_t max_json_depth;
    uint64_t commit_max_batch;
    uint64_t shutdown_timeout_ms;
    struct dh_config_source *sources;
    size_t nsources;
    char **delivery_allow;      /* delivery.allow_private: CIDRs */
    size_t ndelivery_allow;
    uint64_t delivery_max_in_flight;
    uint64_t delivery_lease_margin_ms;
    json_t *endpoints;          /* the `endpoints:` items as JSON (validated by
                                 * delivery/registry.h), or NULL */
    int *endpoint_lines;        /* the line of each item */
};

/* Loads and validates path. Returns 0 and *out, or DH_E_CONFIG with every
 * problem added to el; *out is then a partial config (or NULL when the YAML
 * could not be read at all) that the caller may check further and must free.
 * Other negative codes: the file could not be read (also added to el). */
int dh_config_load(const char *path, struct dh_config **out, struct dh_errlist *el);
/* Frees a config; NULL is fine. */
void dh_config_free(struct dh_config *c);
/* Finds a source by name; NULL when absent. */
const struct dh_config_source *dh_config_source(const struct dh_config *c, const char *name);
/* Splits "host:port" or "[v6]:port" into host (hostlen bytes) and port;
 * returns 0 or -EINVAL. */
int dh_config_split_addr(const char *s, char *host, size_t hostlen, unsigned *port);
/* Writes the option reference (Markdown) to stdout: the same table that
 * drives the parser. */
void dh_config_print_reference(void);

#endif
