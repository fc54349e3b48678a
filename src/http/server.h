/*
 * server.h: the two HTTP listeners (public webhooks + /health, and admin).
 *
 * DESIGN
 * Each listener is a libmicrohttpd daemon in epoll mode with its own event
 * thread(s) (limits.http_threads for the public one, one for admin). A
 * webhook request is read into a bounded buffer, checked and normalized on
 * the event thread (ingest.h), then its connection is suspended and the
 * record handed to the commit thread; when the commit is durable the commit
 * thread resumes the connection and the event thread answers. No thread
 * ever blocks waiting for the store, so a batch can hold every request that
 * arrived during the previous fsync.
 *
 * Per request (struct dh__req, owned by the connection's event thread; the
 * commit thread touches only its commit item, between submit and resume):
 *
 *   NEW ──headers ok──▶ READING ──body whole, checks ok──▶ COMMITTING
 *    │                     │                                   │ resume
 *    └──error──▶ answered ◀┘◀───────────── answered ◀──────────┘
 *
 * Stopping: quiesce (close the listen socket), wait for requests in flight,
 * stop the commit thread (which resumes every suspended connection), then
 * stop the daemons.
 */
#ifndef DH_SERVER_H
#define DH_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "delivery/engine.h"
#include "delivery/registry.h"
#include "ingest/ingest.h"
#include "store/commit.h"
#include "store/store.h"

struct dh_server;

struct dh_server_deps {
    const struct dh_config *cfg;
    const char *listen;       /* effective HOST:PORT (flags override the file) */
    const char *admin_listen;
    struct dh_ingest *ingest;
    struct dh_store *store;
    struct dh_committer *committer;
    struct dh_registry *registry;
    struct dh_engine *engine;
};

/* Binds both listeners and starts serving. Returns 0, or a negative code
 * with a one-line reason in err (for example the port is in use). Main
 * thread. */
int dh_server_start(const struct dh_server_deps *deps, struct dh_server **out, char *err,
                    size_t errlen);
/* Writes the bound addresses ("127.0.0.1:41234"), useful with port 0. */
void dh_server_addresses(struct dh_server *s, char *pub, size_t publen, char *adm, size_t admlen);
/* Stops accepting webhooks and waits up to timeout_ms for the requests in
 * flight to be answered. Returns the number still in flight. Main thread. */
int dh_server_quiesce(struct dh_server *s, int64_t timeout_ms);
/* Waits (up to timeout_ms) for requests in flight, then stops both daemons
 * and frees s. The commit thread must have been stopped first, so no
 * connection is left suspended. NULL is fine. Main thread. */
void dh_server_stop(struct dh_server *s, int64_t timeout_ms);

#endif
