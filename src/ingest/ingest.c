/*
 * ingest.c: routing, checks and record building for inbound webhooks
 * (ingest.h).
 */
#include "ingest/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/id.h"
#include "core/jsonx.h"
#include "ingest/normalize.h"

#define DH__DELIVERY_ID_MAX 256
#define DH__RATE_KEYS_MAX 10000 /* distinct keys kept per keyed rate limit */
#define DH__BATCH_MAX 1000     /* elements in one array body */

int dh_ingest_new(const struct dh_config *c, struct dh_ingest **out, struct dh_errlist *el)
{
    struct dh_ingest *in = dh_new(struct dh_ingest);
    char names[256];
    size_t before = el->n;

    dh_preset_names(names, sizeof(names));
    in->max_json_depth = (int)c->max_json_depth;
    in->sources = dh_calloc(c->nsources ? c->nsources : 1, sizeof(*in->sources));
    for (size_t i = 0; i < c->nsources; i++) {
        const struct dh_config_source *cs = &c->sources[i];
        struct dh_ingest_source *s = &in->sources[in->nsources++];
        char err[256] = "";

        s->cfg = cs;
        s->preset = dh_preset_find(cs->preset);
        if (s->preset == NULL) {
            dh_errlist_add(el, c->file, cs->preset_line,
                           "preset \"%s\" is not known (known presets: %s)", cs->preset, names);
            continue;
        }
        if (dh_auth_build(&cs->auth, &s->auth, err, sizeof(err)) < 0)
            dh_errlist_add(el, c->file, cs->line, "source %s: %s", cs->name ? cs->name : "?", err);
        s->dedupe_window_ms = cs->dedupe_window_ms ? cs->dedupe_window_ms : c->dedupe_window_ms;
        if (cs->rate_count > 0 && cs->rate_key != NULL) {
            if (!dh_preset_known_field(cs->rate_key))
                dh_errlist_add(el, c->file, cs->line,
                               "rate_limit.key: \"%s\" is not a ticket-model field (for "
                               "example platform, customer.email)",
                               cs->rate_key);
            s->krl = dh_ratelimit_keyed_new(cs->rate_count, cs->rate_period_ms,
                                            DH__RATE_KEYS_MAX);
        } else if (cs->rate_count > 0) {
            s->has_rate_limit = 1;
            dh_ratelimit_init(&s->rl, cs->rate_count, cs->rate_period_ms);
        }
        /* The preset's fields, with the source's own paths where it gives
         * them (the path arrays stay owned by the config). */
        s->fields = dh_calloc(s->preset->nfields + cs->nfields + 1, sizeof(*s->fields));
        for (size_t k = 0; k < s->preset->nfields; k++)
            s->fields[s->nfields++] = s->preset->fields[k];
        for (size_t k = 0; k < cs->nfields; k++) {
            const struct dh_config_field *o = &cs->fields[k];
            struct dh_preset_field *f = NULL;
            if (!dh_preset_model_path(o->target)) {
                dh_errlist_add(el, c->file, cs->fields_line,
                               "fields: \"%s\" is not under ticket., customer., message. or "
                               "metadata (or platform)",
                               o->target);
                continue;
            }
            for (size_t j = 0; j < s->nfields && f == NULL; j++)
                if (strcmp(s->fields[j].target, o->target) == 0)
                    f = &s->fields[j];
            if (f == NULL) {
                f = &s->fields[s->nfields++];
                memset(f, 0, sizeof(*f));
                f->target = o->target;
                /* Metadata and tags keep the sender's shape; the rest are
                 * strings, as the preset's own fields are by default. */
                f->any_type = strncmp(o->target, "metadata", 8) == 0 ||
                              strcmp(o->target, "ticket.tags") == 0;
            }
            f->paths = o->paths;
            f->npaths = o->npaths;
        }
        for (size_t k = 0; k < cs->nevent_map; k++)
            if (!dh_normalize_event_type_valid(cs->event_map[2 * k + 1]))
                dh_errlist_add(el, c->file, cs->line,
                               "event_map: \"%s\" is not a valid event type (1 to 64 of "
                               "A-Z a-z 0-9 . _ : -)",
                               cs->event_map[2 * k + 1]);
        s->required = dh_calloc(s->preset->nrequired + cs->nrequired + 1, sizeof(char *));
        for (size_t k = 0; k < s->preset->nrequired; k++)
            s->required[s->nrequired++] = s->preset->required[k];
        for (size_t k = 0; k < cs->nrequired; k++) {
            int own = 0;
            for (size_t j = 0; j < cs->nfields; j++)
                own |= strcmp(cs->fields[j].target, cs->required[k]) == 0;
            if (!own && !dh_preset_known_field(cs->required[k]))
                dh_errlist_add(el, c->file, cs->required_line,
                               "required: \"%s\" is not a ticket-model field (for example "
                               "ticket.subject, customer.email)",
                               cs->required[k]);
            s->required[s->nrequired++] = cs->required[k];
        }
    }
    *out = in;
    if (el->n > before) {
        dh_ingest_free(in);
        *out = NULL;
        return DH_E_CONFIG;
    }
    return 0;
}

void dh_ingest_free(struct dh_ingest *in)
{
    if (in == NULL)
        return;
    for (size_t i = 0; i < in->nsources; i++) {
        dh_auth_free(in->sources[i].auth);
        if (in->sources[i].has_rate_limit)
            dh_ratelimit_destroy(&in->sources[i].rl);
        dh_ratelimit_keyed_free(in->sources[i].krl);
        free(in->sources[i].fields);
        free(in->sources[i].required);
    }
    free(in->sources);
    free(in);
}

/* Copies the segment of path at p up to '/' or the end into out. */
static size_t dh__segment(const char *p, char *out, size_t outlen)
{
    size_t n = strcspn(p, "/");
    if (n >= outlen)
        return (size_t)-1;
    memcpy(out, p, n);
    out[n] = '\0';
    return n;
}

/* rest is what follows a source's mount: "", "/", "/{event-type}",
 * "/batch" or more. */
static int dh__route_rest(const char *rest, char *event_type, size_t etlen, int *batch)
{
    event_type[0] = '\0';
    *batch = 0;
    if (strcmp(rest, "/batch") == 0 || strcmp(rest, "/batch/") == 0) {
        *batch = 1;
        return 0;
    }
    if (rest[0] == '\0' || strcmp(rest, "/") == 0)
        return 0;
    if (rest[0] != '/')
        return DH_E_NOT_FOUND;
    rest++;
    size_t n = strcspn(rest, "/");
    if (rest[n] == '/' && rest[n + 1] != '\0')
        return DH_E_NOT_FOUND;
    if (n >= etlen) {
        return DH_E_INVALID_EVENT_TYPE;
    }
    memcpy(event_type, rest, n);
    event_type[n] = '\0';
    return dh_normalize_event_type_valid(event_type) ? 0 : DH_E_INVALID_EVENT_TYPE;
}

int dh_ingest_route(const struct dh_ingest *in, const char *path,
                    const struct dh_ingest_source **src, char *event_type, size_t etlen,
                    int *batch)
{
    *src = NULL;
    event_type[0] = '\0';
    if (strncmp(path, "/webhooks/", 10) == 0) {
        char name[80];
        size_t n = dh__segment(path + 10, name, sizeof(name));
        if (n == (size_t)-1 || n == 0)
            return DH_E_UNKNOWN_SOURCE;
        for (size_t i = 0; i < in->nsources; i++) {
            if (strcmp(in->sources[i].cfg->name, name) == 0 && in->sources[i].preset != NULL) {
                int rc = dh__route_rest(path + 10 + n, event_type, etlen, batch);
                if (rc == DH_E_NOT_FOUND)
                    rc = DH_E_UNKNOWN_SOURCE;
                if (rc == 0)
                    *src = &in->sources[i];
                return rc;
            }
        }
        return DH_E_UNKNOWN_SOURCE;
    }
    for (size_t i = 0; i < in->nsources; i++) {
        const struct dh_config_source *cs = in->sources[i].cfg;
        for (size_t k = 0; k < cs->npaths; k++) {
            size_t ml = strlen(cs->paths[k]);
            while (ml > 1 && cs->paths[k][ml - 1] == '/')
                ml--;
            if (strncmp(path, cs->paths[k], ml) != 0 || (path[ml] != '\0' && path[ml] != '/'))
                continue;
            int rc = dh__route_rest(path + ml, event_type, etlen, batch);
            if (rc == 0)
                *src = &in->sources[i];
            if (rc != DH_E_NOT_FOUND)
                return rc;
        }
    }
    return DH_E_NOT_FOUND;
}

static int dh__is_json_type(const char *ct)
{
    size_t n;
    if (ct == NULL)
        return 0;
    while (*ct == ' ')
        ct++;
    n = strcspn(ct, ";");
    while (n > 0 && ct[n - 1] == ' ')
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return 1;
    /* application/<anything>+json, e.g. application/cloudevents+json */
    return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
           strncasecmp(ct + n - 5, "+json", 5) == 0;
}

int dh_ingest_check_headers(const struct dh_ingest_source *src, const char *content_type,
                            int64_t content_length)
{
    /* Size before content type: the documented order. */
    if (content_length >= 0 && (uint64_t)content_length > src->cfg->max_body)
        return DH_E_TOO_LARGE;
    if (!dh__is_json_type(content_type))
        return DH_E_MEDIA_TYPE;
    return 0;
}

static int dh__present(const struct dh_norm *nv, const char *path)
{
    size_t pl = strlen(path);
    for (size_t i = 0; i < nv->n; i++) {
        const char *t = nv->v[i].target;
        if (strncmp(t, path, pl) == 0 && (t[pl] == '\0' || t[pl] == '.') && nv->v[i].len > 0)
            return 1;
    }
    return 0;
}

/* The event type of one event: path, provider header, payload, source
 * default; then renamed by the maps. buf holds a type read from the
 * payload. */
static const char *dh__event_type(const struct dh_ingest_source *src,
                                  const struct dh_ingest_request *rq, const struct dh_jscan *js,
                                  int root, char *buf, size_t buflen)
{
    const struct dh_preset *p = src->preset;
    const char *type = NULL;

    if (rq->path_event_type[0] != '\0')
        type = rq->path_event_type;
    if (type == NULL && p->event_header != NULL) {
        const char *h = rq->get_header(rq->hctx, p->event_header);
        if (h != NULL && dh_normalize_event_type_valid(h))
            type = h;
    }
    if (type == NULL)
        type = dh_normalize_event_type(p, js, root, buf, buflen);
    if (type == NULL)
        type = src->cfg->default_event ? src->cfg->default_event : "ticket.created";
    return dh_normalize_map_event_type(p, src->cfg->event_map, src->cfg->nevent_map, type);
}

/* Writes the normalized document: the gateway's own fields, then the
 * preset's, nested by their dotted names. */
static char *dh__write_doc(const struct dh_event_rec *ev, const char *type, const char *ts,
                           const struct dh_norm *nv, size_t *len)
{
    struct dh_buf b;

    dh_buf_init(&b, (size_t)1 << 30);
    dh_buf_puts(&b, "{\"id\":\"");
    dh_buf_puts(&b, ev->id);
    dh_buf_puts(&b, "\",\"source\":");
    dh_json_write_string(&b, ev->source, strlen(ev->source));
    dh_buf_puts(&b, ",\"provider\":");
    dh_json_write_string(&b, ev->provider, strlen(ev->provider));
    dh_buf_puts(&b, ",\"type\":");
    dh_json_write_string(&b, type, strlen(type));
    dh_buf_puts(&b, ",\"received_at\":\"");
    dh_buf_puts(&b, ts);
    dh_buf_puts(&b, "\",\"dedupe_key\":\"");
    dh_buf_puts(&b, ev->dedupe_key);
    dh_buf_puts(&b, "\"");
    if (ev->auth_index >= 0) {
        /* Which secret or token proved it (rotation), never its value. */
        char idx[48];
        snprintf(idx, sizeof(idx), ",\"auth\":{\"matched\":%d}", ev->auth_index);
        dh_buf_puts(&b, idx);
    }
    dh_norm_write(nv, &b);
    dh_buf_puts(&b, "}");
    return dh_buf_steal(&b, len);
}

/* Builds one record from the event at token root. dedupe_part is what the
 * dedupe key hashes besides the source (a delivery id, or bytes). Returns 0
 * or DH_E_MISSING_FIELD / DH_E_RATE_LIMITED with a message. */
static int dh__build(const struct dh_ingest_request *rq, int auth_index,
                     const struct dh_jscan *js, int root, const char *dedupe_kind,
                     const char *dedupe_part, size_t dedupe_len, const char *raw, size_t raw_len,
                     struct dh_event_rec *ev, char *msg, size_t msglen, int64_t *retry_after_s)
{
    const struct dh_ingest_source *src = rq->src;
    const struct dh_preset *p = src->preset;
    char typebuf[DH_EVENT_TYPE_MAX + 1];
    const char *type = dh__event_type(src, rq, js, root, typebuf, sizeof(typebuf));
    struct dh_norm nv;
    unsigned char d[32];
    char hex[65], ts[40];
    int rc = 0;

    memset(ev, 0, sizeof(*ev));
    ev->auth_index = auth_index;
    dh_id_new("evt", ev->id);
    ev->received_ms = dh_clock_wall_ms();
    dh_clock_format_iso(ev->received_ms, ts, sizeof(ts));
    {
        struct dh_iov parts[3] = {{src->cfg->name, strlen(src->cfg->name)},
                                  {"\n", 1},
                                  {dedupe_part, dedupe_len}};
        dh_sha256(parts, 3, d);
        dh_hex_encode(d, 32, hex);
        snprintf(ev->dedupe_key, sizeof(ev->dedupe_key), "%s:%s", dedupe_kind, hex);
    }
    dh_normalize(p, src->fields, src->nfields, js, root, &nv);
    dh_norm_default(&nv, "platform", p->provider);

    for (size_t i = 0; i < src->nrequired; i++) {
        if (!dh__present(&nv, src->required[i])) {
            if (src->cfg->required_message != NULL)
                snprintf(msg, msglen, "%s", src->cfg->required_message);
            else
                snprintf(msg, msglen, "required field %s is missing", src->required[i]);
            rc = DH_E_MISSING_FIELD;
            goto out;
        }
    }
    if (src->krl != NULL) {
        /* A keyed limit needs the field's value, so it runs after parsing. */
        const char *key = dh_norm_get(&nv, src->cfg->rate_key);
        rc = dh_ratelimit_keyed_take(src->krl, key ? key : "", dh_clock_mono_ms(),
                                     retry_after_s);
        if (rc < 0) {
            snprintf(msg, msglen, "source %s allows %llu requests per %llu ms for %s=%.60s",
                     src->cfg->name, (unsigned long long)src->cfg->rate_count,
                     (unsigned long long)src->cfg->rate_period_ms, src->cfg->rate_key,
                     key ? key : "(none)");
            goto out;
        }
    }
    ev->source = dh_strdup(src->cfg->name);
    ev->provider = dh_strdup(p->provider);
    ev->type = dh_strdup(type);
    ev->ticket_id = dh_strdup(dh_norm_get(&nv, "ticket.id"));
    ev->content_type = dh_strdup(rq->content_type);
    ev->dedupe_window_ms = (int64_t)src->dedupe_window_ms;
    ev->doc = dh__write_doc(ev, type, ts, &nv, &ev->doc_len);
    ev->raw = dh_malloc(raw_len + 1);
    memcpy(ev->raw, raw, raw_len);
    ev->raw[raw_len] = '\0';
    ev->raw_len = raw_len;
out:
    dh_norm_clear(&nv);
    if (rc < 0)
        dh_event_rec_clear(ev);
    return rc;
}

/* One element of an array body: its own bytes, and a dedupe key from its
 * delivery id or, failing that, its canonical JSON (keys sorted). */
static int dh__build_element(const struct dh_ingest_request *rq, int auth_index,
                             const struct dh_jscan *js, int elem, struct dh_event_rec *ev,
                             char *msg, size_t msglen, int64_t *retry_after_s)
{
    const struct dh_jtok *t = &js->toks[elem];
    const char *raw = js->buf + t->start;
    size_t raw_len = t->end - t->start;
    char did[DH__DELIVERY_ID_MAX + 1];
    const char *id;
    char *canon = NULL;
    int rc;

    if (t->type != DH_J_OBJECT) {
        snprintf(msg, msglen, "each element must be a JSON object");
        return DH_E_INVALID_JSON;
    }
    id = dh_normalize_delivery_id(rq->src->preset, js, elem, did, sizeof(did));
    if (id == NULL) {
        /* Off the hot path: jansson gives the canonical form. */
        json_t *j = json_loadb(raw, raw_len, JSON_ALLOW_NUL, NULL);
        canon = j ? json_dumps(j, DH_JSON_DUMP_FLAGS | JSON_SORT_KEYS) : NULL;
        json_decref(j);
        if (canon == NULL) {
            snprintf(msg, msglen, "the element cannot be encoded");
            return DH_E_INVALID_JSON;
        }
    }
    rc = dh__build(rq, auth_index, js, elem, id ? "id" : "sha256", id ? id : canon,
                   id ? strlen(id) : strlen(canon), raw, raw_len, ev, msg, msglen,
                   retry_after_s);
    free(canon);
    return rc;
}

int dh_ingest_prepare(struct dh_ingest *in, const struct dh_ingest_request *rq,
                      struct dh_commit_item *item, struct dh_ingest_result *res,
                      struct dh_ingest_error *err)
{
    const struct dh_ingest_source *src = rq->src;
    const struct dh_preset *p = src->preset;
    struct dh_jscan js = {0};
    char where[200];
    int auth_index = -1;
    int want_array = rq->batch || p->array_events;
    int rc;

    err->message[0] = '\0';
    err->retry_after_s = 0;
    memset(res, 0, sizeof(*res));
    item->kind = DH_COMMIT_EVENT;
    item->evs = NULL;
    item->nevs = 0;

    {
        struct dh_auth_request ar = {rq->get_header, rq->hctx, rq->method, rq->uri,
                                     rq->peer, rq->body, rq->len};
        rc = dh_auth_check(src->auth, &ar, &auth_index, err->message, sizeof(err->message));
    }
    if (rc < 0)
        goto out;

    if (src->has_rate_limit) {
        rc = dh_ratelimit_take((struct dh_ratelimit *)&src->rl, dh_clock_mono_ms(),
                               &err->retry_after_s);
        if (rc < 0) {
            snprintf(err->message, sizeof(err->message),
                     "source %s allows %llu requests per %llu ms; retry in %lld s",
                     src->cfg->name, (unsigned long long)src->cfg->rate_count,
                     (unsigned long long)src->cfg->rate_period_ms, (long long)err->retry_after_s);
            goto out;
        }
    }

    rc = dh_jscan_parse(&js, rq->body, rq->len, in->max_json_depth, where, sizeof(where));
    if (rc < 0) {
        snprintf(err->message, sizeof(err->message), "invalid JSON at %s", where);
        goto out;
    }
    if (want_array && js.toks[0].type != DH_J_ARRAY) {
        snprintf(err->message, sizeof(err->message), "the body must be a JSON array of events");
        rc = DH_E_INVALID_JSON;
        goto out;
    }
    if (!want_array && js.toks[0].type != DH_J_OBJECT) {
        snprintf(err->message, sizeof(err->message), "the body must be a JSON object, not %s",
                 js.toks[0].type == DH_J_ARRAY ? "an array (send arrays to .../batch)"
                                               : "a scalar");
        rc = DH_E_INVALID_JSON;
        goto out;
    }

    if (!want_array) {
        const char *did = p->delivery_id_header
                              ? rq->get_header(rq->hctx, p->delivery_id_header)
                              : NULL;
        char pid[DH__DELIVERY_ID_MAX + 1];
        if (did == NULL || did[0] == '\0' || strlen(did) > DH__DELIVERY_ID_MAX)
            did = dh_normalize_delivery_id(p, &js, 0, pid, sizeof(pid));
        item->evs = &item->one;
        rc = dh__build(rq, auth_index, &js, 0, did ? "id" : "sha256", did ? did : rq->body,
                       did ? strlen(did) : rq->len, rq->body, rq->len, &item->one,
                       err->message, sizeof(err->message), &err->retry_after_s);
        if (rc < 0)
            goto out;
        item->nevs = 1;
        goto out;
    }

    /* An array: every element is its own event; bad ones do not block the
     * good ones. */
    res->array = 1;
    res->nelements = js.toks[0].count;
    if (res->nelements > DH__BATCH_MAX) {
        snprintf(err->message, sizeof(err->message), "at most %d events per request",
                 DH__BATCH_MAX);
        rc = DH_E_TOO_LARGE;
        goto out;
    }
    res->elements = dh_calloc(res->nelements ? res->nelements : 1, sizeof(*res->elements));
    item->evs = dh_calloc(res->nelements ? res->nelements : 1, sizeof(*item->evs));
    for (uint32_t i = 0, t = 1; i < res->nelements; i++, t = js.toks[t].next) {
        struct dh_ingest_element *el = &res->elements[i];
        int64_t retry = 0;
        el->ev = -1;
        el->rc = dh__build_element(rq, auth_index, &js, (int)t, &item->evs[item->nevs],
                                   el->message, sizeof(el->message), &retry);
        if (el->rc == 0)
            el->ev = (int)item->nevs++;
    }
    if (!rq->batch && item->nevs == 0) {
        /* A platform's multi-event request in which nothing was usable is
         * refused whole, with the first element's reason. */
        rc = res->nelements ? res->elements[0].rc : DH_E_INVALID_JSON;
        snprintf(err->message, sizeof(err->message), "%s",
                 res->nelements ? res->elements[0].message : "the array is empty");
        goto out;
    }
    rc = 0;
out:
    dh_jscan_free(&js);
    /* The endpoints each event fans out to, written with it. */
    for (size_t i = 0; rc == 0 && in->targets != NULL && i < item->nevs; i++)
        in->targets(in->targets_arg, item->evs[i].source, item->evs[i].type,
                    &item->evs[i].targets, &item->evs[i].ntargets);
    if (rc < 0) {
        dh_ingest_item_clear(item);
        dh_ingest_result_clear(res);
    }
    return rc;
}

void dh_ingest_item_clear(struct dh_commit_item *item)
{
    for (size_t i = 0; i < item->nevs; i++)
        dh_event_rec_clear(&item->evs[i]);
    if (item->evs != &item->one)
        free(item->evs);
    item->evs = NULL;
    item->nevs = 0;
}

void dh_ingest_result_clear(struct dh_ingest_result *res)
{
    free(res->elements);
    memset(res, 0, sizeof(*res));
}

void dh_ingest_count(const struct dh_ingest_source *src, int rc, int duplicate)
{
    struct dh_ingest_source *s = (struct dh_ingest_source *)src; /* counters only */
    size_t slot;

    if (s == NULL)
        return;
    if (rc == 0)
        slot = duplicate ? 1 : 0;
    else if (rc > DH_E__BASE && rc < DH_E__END)
        slot = 2 + (size_t)(rc - DH_E__BASE);
    else
        slot = 2 + (size_t)(DH_E_INTERNAL - DH_E__BASE);
    atomic_fetch_add_explicit(&s->counts[slot], 1, memory_order_relaxed);
}

json_t *dh_ingest_stats(const struct dh_ingest *in)
{
    json_t *out = json_object();
    for (size_t i = 0; i < in->nsources; i++) {
        const struct dh_ingest_source *s = &in->sources[i];
        json_t *rej = json_object();
        for (size_t k = 2; k < DH_INGEST_NCOUNTS; k++) {
            unsigned long long n = atomic_load_explicit(
                &((struct dh_ingest_source *)s)->counts[k], memory_order_relaxed);
            if (n > 0)
                json_object_set_new(rej, dh_error_code(DH_E__BASE + (int)(k - 2)),
                                    json_integer((json_int_t)n));
        }
        json_object_set_new(
            out, s->cfg->name,
            json_pack("{s:I,s:I,s:o}", "accepted",
                      (json_int_t)atomic_load(&((struct dh_ingest_source *)s)->counts[0]),
                      "duplicate",
                      (json_int_t)atomic_load(&((struct dh_ingest_source *)s)->counts[1]),
                      "rejected", rej));
    }
    return out;
}
