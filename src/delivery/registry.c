/*
 * registry.c: endpoint sets swapped under a lock (registry.h).
 */
#include "delivery/registry.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/id.h"
#include "core/log.h"

struct dh_registry {
    pthread_mutex_t lock; /* guards cur, the swap, and entry reasons */
    struct dh_epset *cur;
    struct dh_store *st;
    struct dh_committer *com;
};

void dh_ep_entry_ref(struct dh_ep_entry *e)
{
    atomic_fetch_add(&e->refs, 1);
}

void dh_ep_entry_unref(struct dh_ep_entry *e)
{
    if (e == NULL || atomic_fetch_sub(&e->refs, 1) != 1)
        return;
    dh_endpoint_free(e->ep);
    free(e);
}

static struct dh_ep_entry *dh__entry_new(struct dh_endpoint *ep)
{
    struct dh_ep_entry *e = dh_new(struct dh_ep_entry);
    e->ep = ep;
    atomic_init(&e->refs, 1);
    atomic_init(&e->paused, 0);
    return e;
}

/* A set of n entries; takes a new reference to each. */
static struct dh_epset *dh__set_new(struct dh_ep_entry **v, size_t n)
{
    struct dh_epset *s = dh_new(struct dh_epset);
    atomic_init(&s->refs, 1);
    s->v = dh_calloc(n ? n : 1, sizeof(*s->v));
    for (size_t i = 0; i < n; i++) {
        s->v[i] = v[i];
        dh_ep_entry_ref(v[i]);
    }
    s->n = n;
    return s;
}

void dh_epset_release(struct dh_epset *set)
{
    if (set == NULL || atomic_fetch_sub(&set->refs, 1) != 1)
        return;
    for (size_t i = 0; i < set->n; i++)
        dh_ep_entry_unref(set->v[i]);
    free(set->v);
    free(set);
}

struct dh_epset *dh_registry_acquire(struct dh_registry *reg)
{
    pthread_mutex_lock(&reg->lock);
    struct dh_epset *s = reg->cur;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&reg->lock);
    return s;
}

struct dh_ep_entry *dh_epset_find(const struct dh_epset *set, const char *key)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->v[i]->ep->id, key) == 0 || strcmp(set->v[i]->ep->name, key) == 0)
            return set->v[i];
    return NULL;
}

/* Swaps next in (lock held); the old set goes when its readers are done. */
static void dh__swap(struct dh_registry *reg, struct dh_epset *next)
{
    struct dh_epset *old = reg->cur;
    reg->cur = next;
    dh_epset_release(old);
}

static int dh__parse_config(const struct dh_config *cfg, struct dh_ep_entry ***out, size_t *nout,
                            struct dh_errlist *el)
{
    size_t n = cfg->endpoints ? json_array_size(cfg->endpoints) : 0;
    struct dh_ep_entry **v = dh_calloc(n ? n : 1, sizeof(*v));
    size_t nv = 0;
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        const json_t *spec = json_array_get(cfg->endpoints, i);
        int line = cfg->endpoint_lines[i];
        struct dh_endpoint *ep = NULL;
        char err[1024];

        if (!json_is_object(spec)) {
            dh_errlist_add(el, cfg->file, line, "each endpoint must be a map");
            rc = DH_E_CONFIG;
            continue;
        }
        /* Names are compared as written, so a repeat is reported even when
         * the first of the two has problems of its own. */
        const char *name = json_string_value(json_object_get(spec, "name"));
        for (size_t j = 0; name != NULL && j < i; j++)
            if (json_equal(json_object_get(json_array_get(cfg->endpoints, j), "name"),
                           json_object_get(spec, "name"))) {
                dh_errlist_add(el, cfg->file, line, "endpoint \"%s\" is defined twice", name);
                rc = DH_E_CONFIG;
                break;
            }
        if (dh_endpoint_parse(spec, NULL, 1, &ep, err, sizeof(err)) < 0) {
            dh_errlist_add(el, cfg->file, line, "endpoint %s: %s", name ? name : "(unnamed)",
                           err);
            rc = DH_E_CONFIG;
            continue;
        }
        v[nv++] = dh__entry_new(ep);
    }
    *out = v;
    *nout = nv;
    return rc;
}

static void dh__free_entries(struct dh_ep_entry **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dh_ep_entry_unref(v[i]);
    free(v);
}

int dh_registry_check(const struct dh_config *cfg, struct dh_errlist *el)
{
    struct dh_ep_entry **v = NULL;
    size_t n = 0;
    int rc = dh__parse_config(cfg, &v, &n, el);
    dh__free_entries(v, n);
    return rc;
}

int dh_registry_new(const struct dh_config *cfg, struct dh_store *st, struct dh_registry **out,
                    struct dh_errlist *el)
{
    struct dh_registry *reg = NULL;
    struct dh_ep_entry **v = NULL;
    size_t n = 0;
    json_t *stored = NULL, *states = NULL;
    int rc;

    *out = NULL;
    rc = dh__parse_config(cfg, &v, &n, el);
    if (rc < 0)
        goto out;
    rc = st->ops->ep_load(st, &stored, &states);
    if (rc < 0) {
        dh_errlist_add(el, cfg->file, 0, "cannot read the stored endpoints");
        goto out;
    }
    v = dh_realloc(v, (n + json_array_size(stored) + 1) * sizeof(*v));
    for (size_t i = 0; i < json_array_size(stored); i++) {
        json_t *row = json_array_get(stored, i);
        const char *id = json_string_value(json_object_get(row, "id"));
        json_t *spec = json_loads(json_string_value(json_object_get(row, "spec")), 0, NULL);
        struct dh_endpoint *ep = NULL;
        char err[1024];
        int clash = 0;

        for (size_t j = 0; j < n; j++)
            clash |= strcmp(v[j]->ep->name,
                            json_string_value(json_object_get(row, "name"))) == 0;
        if (spec == NULL || clash || dh_endpoint_parse(spec, id, 0, &ep, err, sizeof(err)) < 0) {
            /* Kept in the store untouched; the log says why it is not used. */
            dh_warn("stored endpoint not loaded", DH_LS("endpoint", id),
                    DH_LS("reason", clash ? "a config endpoint has its name" : "invalid"));
            json_decref(spec);
            continue;
        }
        json_decref(spec);
        v[n++] = dh__entry_new(ep);
    }
    for (size_t i = 0; i < json_array_size(states); i++) {
        json_t *row = json_array_get(states, i);
        const char *id = json_string_value(json_object_get(row, "id"));
        for (size_t j = 0; j < n; j++)
            if (strcmp(v[j]->ep->id, id) == 0 &&
                json_is_true(json_object_get(row, "paused"))) {
                const char *why = json_string_value(json_object_get(row, "reason"));
                atomic_store(&v[j]->paused, 1);
                snprintf(v[j]->reason, sizeof(v[j]->reason), "%s", why ? why : "");
            }
    }
    reg = dh_new(struct dh_registry);
    pthread_mutex_init(&reg->lock, NULL);
    reg->st = st;
    reg->cur = dh__set_new(v, n);
    *out = reg;
    rc = 0;
out:
    dh__free_entries(v, n);
    json_decref(stored);
    json_decref(states);
    return rc;
}

void dh_registry_attach(struct dh_registry *reg, struct dh_committer *com)
{
    reg->com = com;
}

void dh_registry_free(struct dh_registry *reg)
{
    if (reg == NULL)
        return;
    dh_epset_release(reg->cur);
    pthread_mutex_destroy(&reg->lock);
    free(reg);
}

void dh_registry_targets(void *arg, const char *source, const char *type, char ***ids,
                         size_t *n)
{
    struct dh_epset *set = dh_registry_acquire(arg);
    char **v = NULL;
    size_t nv = 0;

    for (size_t i = 0; i < set->n; i++) {
        if (!dh_endpoint_matches(set->v[i]->ep, source, type))
            continue;
        if (v == NULL)
            v = dh_calloc(set->n, sizeof(*v));
        v[nv++] = dh_strdup(set->v[i]->ep->id);
    }
    dh_epset_release(set);
    *ids = v;
    *n = nv;
}

/* Store writes, run on the commit thread. */
enum dh__ep_op { DH__EP_SAVE, DH__EP_DELETE, DH__EP_PAUSE };

struct dh__ep_write {
    enum dh__ep_op op;
    const char *id, *name, *reason;
    char *spec;
    int paused;
};

static int dh__ep_write_call(struct dh_store *st, struct dh_commit_item *item)
{
    struct dh__ep_write *w = item->call_arg;
    int64_t now = dh_clock_wall_ms();
    switch (w->op) {
    case DH__EP_SAVE:
        return st->ops->ep_save(st, w->id, w->name, w->spec, now);
    case DH__EP_DELETE:
        return st->ops->ep_delete(st, w->id, now);
    default:
        item->ndue = w->paused ? 0 : 1; /* a resume may make deliveries due */
        return st->ops->ep_set_paused(st, w->id, w->paused, w->reason, now);
    }
}

static int dh__name_taken(const struct dh_epset *set, const char *name, const char *except_id)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->v[i]->ep->name, name) == 0 &&
            (except_id == NULL || strcmp(set->v[i]->ep->id, except_id) != 0))
            return 1;
    return 0;
}

/* Replaces (or adds, or with ep NULL removes) the entry with id; lock held. */
static struct dh_ep_entry *dh__replace(struct dh_registry *reg, const char *id,
                                       struct dh_endpoint *ep)
{
    struct dh_epset *cur = reg->cur;
    struct dh_ep_entry **v = dh_calloc(cur->n + 1, sizeof(*v));
    struct dh_ep_entry *made = NULL;
    size_t n = 0;
    int found = 0;

    for (size_t i = 0; i < cur->n; i++) {
        if (strcmp(cur->v[i]->ep->id, id) != 0) {
            v[n++] = cur->v[i];
            continue;
        }
        found = 1;
        if (ep != NULL) {
            made = dh__entry_new(ep);
            atomic_store(&made->paused, atomic_load(&cur->v[i]->paused));
            memcpy(made->reason, cur->v[i]->reason, sizeof(made->reason));
            v[n++] = made;
        }
    }
    if (!found && ep != NULL) {
        made = dh__entry_new(ep);
        v[n++] = made;
    }
    dh__swap(reg, dh__set_new(v, n));
    free(v);
    if (made != NULL)
        dh_ep_entry_unref(made); /* the set holds it now */
    return made;
}

/* Stores spec as endpoint ep (durable first), then swaps it in; lock held.
 * Takes ep; *out gets a reference to the new entry. */
static int dh__save(struct dh_registry *reg, struct dh_endpoint *ep, const json_t *spec,
                    struct dh_ep_entry **out, char *err, size_t errlen)
{
    struct dh__ep_write w = {.op = DH__EP_SAVE, .id = ep->id, .name = ep->name};
    int rc;

    if (dh__name_taken(reg->cur, ep->name, ep->id)) {
        snprintf(err, errlen, "an endpoint named \"%s\" exists", ep->name);
        dh_endpoint_free(ep);
        return DH_E_CONFLICT;
    }
    w.spec = json_dumps(spec, JSON_COMPACT);
    rc = dh_commit_call(reg->com, dh__ep_write_call, &w);
    free(w.spec);
    if (rc < 0) {
        snprintf(err, errlen, "the store cannot save the endpoint");
        dh_endpoint_free(ep);
        return rc;
    }
    *out = dh__replace(reg, ep->id, ep);
    dh_ep_entry_ref(*out);
    return 0;
}

/* The entry an API change may touch (lock held): DH_E_NOT_FOUND, or
 * DH_E_READ_ONLY for a config endpoint ("change" or "remove" it there). */
static int dh__writable_entry(struct dh_registry *reg, const char *key, const char *verb,
                              struct dh_ep_entry **out, char *err, size_t errlen)
{
    struct dh_ep_entry *e = dh_epset_find(reg->cur, key);
    if (e == NULL) {
        snprintf(err, errlen, "no endpoint %s", key);
        return DH_E_NOT_FOUND;
    }
    if (e->ep->from_config) {
        snprintf(err, errlen, "endpoint %s is defined in the config file: %s it there",
                 e->ep->name, verb);
        return DH_E_READ_ONLY;
    }
    *out = e;
    return 0;
}

/* What the API shows beside a definition; a definition sent back as it
 * was read is accepted, so these are dropped rather than refused. */
static json_t *dh__writable(const json_t *in)
{
    json_t *c = json_deep_copy(in);
    json_object_del(c, "id");
    json_object_del(c, "origin");
    json_object_del(c, "status");
    return c;
}

#define DH__MASK "********"

static int dh__is_mask(const json_t *v)
{
    return json_is_string(v) && strcmp(json_string_value(v), DH__MASK) == 0;
}

/* A PATCH that carries a masked value back (as read from GET) keeps the
 * stored secret instead of storing the mask. */
static void dh__unmask(json_t *patch, const json_t *old)
{
    json_t *ps = json_object_get(patch, "secrets");
    const json_t *os = json_object_get(old, "secrets");
    json_t *pa = json_object_get(patch, "auth");
    const json_t *oa = json_object_get(old, "auth");
    size_t i;
    json_t *v;

    /* A masked Slack URL (scheme and host, then "/" and the mask) keeps the
     * stored one. */
    const char *pu = json_string_value(json_object_get(patch, "url"));
    size_t pl = pu ? strlen(pu) : 0;
    if (pl > 9 && strcmp(pu + pl - 9, "/" DH__MASK) == 0 && json_object_get(old, "url") != NULL)
        json_object_set(patch, "url", json_object_get(old, "url"));
    if (json_is_array(ps))
        json_array_foreach(ps, i, v)
            if (dh__is_mask(v) && json_array_get(os, i) != NULL)
                json_array_set(ps, i, json_array_get(os, i));
    if (!json_is_object(pa) || !json_is_object(oa))
        return;
    if (dh__is_mask(json_object_get(pa, "bearer")))
        json_object_set(pa, "bearer", json_object_get(oa, "bearer"));
    json_t *pb = json_object_get(pa, "basic");
    if (json_is_object(pb) && dh__is_mask(json_object_get(pb, "password")))
        json_object_set(pb, "password",
                        json_object_get(json_object_get(oa, "basic"), "password"));
    json_t *ph = json_object_get(pa, "headers");
    const json_t *oh = json_object_get(oa, "headers");
    const char *k;
    json_object_foreach(ph, k, v)
        if (dh__is_mask(v) && json_object_get(oh, k) != NULL)
            json_object_set(ph, k, json_object_get(oh, k));
}

int dh_registry_create(struct dh_registry *reg, const json_t *spec, struct dh_ep_entry **out,
                       char *err, size_t errlen)
{
    char id[DH_ID_MAX];
    json_t *full = NULL;
    struct dh_endpoint *ep = NULL;
    int rc;

    *out = NULL;
    if (!json_is_object(spec)) {
        snprintf(err, errlen, "the body must be a JSON object defining an endpoint");
        return DH_E_BAD_REQUEST;
    }
    dh_id_new("ep", id);
    full = dh__writable(spec);
    if (!json_is_string(json_object_get(full, "name"))) {
        /* A generated, unique name: ep_… ids are unique already. */
        char name[DH_ID_MAX];
        snprintf(name, sizeof(name), "%s", id);
        for (char *p = name; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        json_object_set_new(full, "name", json_string(name));
    }
    rc = dh_endpoint_parse(full, id, 0, &ep, err, errlen);
    if (rc < 0)
        goto out;
    /* Under the lock, so two creates of the same name cannot both pass the
     * check. */
    pthread_mutex_lock(&reg->lock);
    rc = dh__save(reg, ep, full, out, err, errlen);
    ep = NULL;
    pthread_mutex_unlock(&reg->lock);
out:
    dh_endpoint_free(ep);
    json_decref(full);
    return rc;
}

int dh_registry_update(struct dh_registry *reg, const char *key, const json_t *patch,
                       struct dh_ep_entry **out, char *err, size_t errlen)
{
    struct dh_endpoint *ep = NULL;
    json_t *merged = NULL;
    struct dh_ep_entry *e;
    int rc;

    *out = NULL;
    if (!json_is_object(patch)) {
        snprintf(err, errlen, "the body must be a JSON object with the keys to change");
        return DH_E_BAD_REQUEST;
    }
    pthread_mutex_lock(&reg->lock);
    rc = dh__writable_entry(reg, key, "change", &e, err, errlen);
    if (rc < 0)
        goto out;
    {
        json_t *p = dh__writable(patch);
        dh__unmask(p, e->ep->spec);
        merged = dh_endpoint_merge(e->ep->spec, p);
        json_decref(p);
    }
    rc = dh_endpoint_parse(merged, e->ep->id, 0, &ep, err, errlen);
    if (rc < 0)
        goto out;
    rc = dh__save(reg, ep, merged, out, err, errlen);
    ep = NULL;
out:
    pthread_mutex_unlock(&reg->lock);
    dh_endpoint_free(ep);
    json_decref(merged);
    return rc;
}

int dh_registry_delete(struct dh_registry *reg, const char *key, char *err, size_t errlen)
{
    struct dh__ep_write w = {0};
    struct dh_ep_entry *e;
    char id[DH_ID_MAX + 16];
    int rc;

    pthread_mutex_lock(&reg->lock);
    rc = dh__writable_entry(reg, key, "remove", &e, err, errlen);
    if (rc < 0)
        goto out;
    snprintf(id, sizeof(id), "%s", e->ep->id);
    w.op = DH__EP_DELETE;
    w.id = id;
    rc = dh_commit_call(reg->com, dh__ep_write_call, &w);
    if (rc < 0) {
        snprintf(err, errlen, "the store cannot delete the endpoint");
        goto out;
    }
    dh__replace(reg, id, NULL);
out:
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int dh_registry_set_paused(struct dh_registry *reg, const char *key, int paused,
                           const char *reason, struct dh_ep_entry **out)
{
    struct dh__ep_write w = {0};
    struct dh_ep_entry *e;
    int rc;

    *out = NULL;
    pthread_mutex_lock(&reg->lock);
    e = dh_epset_find(reg->cur, key);
    if (e == NULL) {
        rc = DH_E_NOT_FOUND;
        goto out;
    }
    w.op = DH__EP_PAUSE;
    w.id = e->ep->id;
    w.paused = paused;
    w.reason = reason;
    rc = dh_commit_call(reg->com, dh__ep_write_call, &w);
    if (rc < 0)
        goto out;
    snprintf(e->reason, sizeof(e->reason), "%s", paused && reason ? reason : "");
    atomic_store(&e->paused, paused);
    dh_ep_entry_ref(e);
    *out = e;
    dh_info(paused ? "endpoint paused" : "endpoint resumed", DH_LS("endpoint", e->ep->name),
            DH_LS("reason", paused && reason ? reason : ""));
out:
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

void dh_registry_mark_paused(struct dh_registry *reg, struct dh_ep_entry *e, const char *reason)
{
    pthread_mutex_lock(&reg->lock);
    snprintf(e->reason, sizeof(e->reason), "%s", reason);
    atomic_store(&e->paused, 1);
    pthread_mutex_unlock(&reg->lock);
}

void dh_registry_reason(struct dh_registry *reg, const struct dh_ep_entry *e, char *out,
                        size_t outlen)
{
    pthread_mutex_lock(&reg->lock);
    snprintf(out, outlen, "%s", e->reason);
    pthread_mutex_unlock(&reg->lock);
}
