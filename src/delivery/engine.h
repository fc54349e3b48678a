/*
 * engine.h: the outbound delivery engine: one thread driving libcurl multi.
 *
 * DESIGN
 * The engine thread owns every transfer. It claims due deliveries through
 * the commit thread (store.h DH_COMMIT_CALL: a lease written in the same
 * group-committed transactions as the events), sends them with libcurl's
 * multi interface (keep-alive, HTTP/2 where offered, no thread per
 * request), and hands the outcomes back the same way, batched. Nothing it
 * does blocks an ingest thread: claims and results are just more items in
 * the commit queue, and the commit thread wakes the engine
 * (curl_multi_wakeup) when an item is durable or new deliveries are due.
 *
 * Per endpoint, in memory on the engine thread: requests in flight
 * (max_in_flight), a token bucket (rate) and the circuit breaker. The SSRF
 * guard judges the address actually connected, in the open-socket callback
 * (new connections) and the pre-request callback (every request, also on a
 * reused connection).
 *
 * Crash safety: a claimed delivery is in_flight until its lease ends
 * (timeout + delivery.lease_margin); a delivery is marked delivered only in the result
 * written after a 2xx. After a crash the store puts every in_flight
 * delivery back to pending, so it is sent again with the same webhook-id.
 *
 * Threads: dh_engine_kick, dh_engine_resume and dh_engine_status may be
 * called from any thread; start/stop/free from the main thread.
 */
#ifndef DH_ENGINE_H
#define DH_ENGINE_H

#include <jansson.h>

#include "config/config.h"
#include "delivery/registry.h"
#include "store/commit.h"
#include "store/store.h"

struct dh_engine;

/* Starts the engine thread. The SSRF allow-list is delivery.allow_private
 * plus DESKHOOK_ALLOW_PRIVATE. Returns 0, or a negative code with a reason
 * in err (a bad DESKHOOK_ALLOW_PRIVATE, curl failing to start). */
int dh_engine_start(const struct dh_config *cfg, struct dh_store *st, struct dh_committer *com,
                    struct dh_registry *reg, struct dh_engine **out, char *err, size_t errlen);
/* Stops claiming, abandons transfers in flight (their leases make them go
 * out again after a restart), writes the results it has, and joins the
 * thread. Call before the committer stops. */
void dh_engine_stop(struct dh_engine *eng);
/* Frees the engine; after the committer has stopped. NULL is fine. */
void dh_engine_free(struct dh_engine *eng);

/* Wakes the engine to look for due deliveries (the committer's kick). */
void dh_engine_kick(void *eng);
/* After a resume: closes the endpoint's breaker and looks for work. */
void dh_engine_resume(struct dh_engine *eng, const char *endpoint_id);
/* {"breaker": {"state", "consecutive_failures", "probe_at"}, "in_flight": N}
 * for an endpoint. New reference. */
json_t *dh_engine_status(struct dh_engine *eng, const char *endpoint_id);

#endif
