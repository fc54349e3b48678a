/*
 * store.c: picks the backend by URL scheme and owns the record helpers.
 */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

static const struct dh_store_ops *const dh__backends[] = {&dh_store_sqlite_ops};

void dh_event_rec_clear(struct dh_event_rec *ev)
{
    free(ev->source);
    free(ev->provider);
    free(ev->type);
    free(ev->ticket_id);
    free(ev->content_type);
    free(ev->doc);
    free(ev->raw);
    for (size_t i = 0; i < ev->ntargets; i++)
        free(ev->targets[i]);
    free(ev->targets);
    memset(ev, 0, sizeof(*ev));
}

void dh_dlv_claimed_clear(struct dh_dlv_claimed *c)
{
    free(c->source);
    free(c->type);
    free(c->doc);
    memset(c, 0, sizeof(*c));
}

void dh_dlv_result_clear(struct dh_dlv_result *r)
{
    free(r->error);
    free(r->resp_headers);
    free(r->resp_body);
    memset(r, 0, sizeof(*r));
}

void dh_event_row_clear(struct dh_event_row *r)
{
    free(r->doc);
    free(r->raw);
    free(r->content_type);
    memset(r, 0, sizeof(*r));
}

int dh_store_open(const char *url, struct dh_store **out, char *err, size_t errlen)
{
    const char *colon = strchr(url, ':');
    struct dh_store *st;
    int rc;

    *out = NULL;
    if (colon == NULL) {
        snprintf(err, errlen, "store \"%s\" has no scheme (use sqlite:PATH)", url);
        return -EINVAL;
    }
    for (size_t i = 0; i < sizeof(dh__backends) / sizeof(dh__backends[0]); i++) {
        const struct dh_store_ops *ops = dh__backends[i];
        if (strlen(ops->scheme) != (size_t)(colon - url) ||
            strncmp(ops->scheme, url, (size_t)(colon - url)) != 0)
            continue;
        st = dh_new(struct dh_store);
        st->ops = ops;
        st->url = dh_strdup(url);
        rc = ops->open(colon + 1, st, err, errlen);
        if (rc < 0) {
            free(st->url);
            free(st);
            return rc;
        }
        *out = st;
        return 0;
    }
    snprintf(err, errlen, "store scheme in \"%s\" is not supported (use sqlite:PATH)", url);
    return -EINVAL;
}

void dh_store_close(struct dh_store *st)
{
    if (st == NULL)
        return;
    st->ops->close(st);
    free(st->url);
    free(st);
}
