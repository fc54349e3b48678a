/*
 * error.h: the one error convention.
 *
 * Functions return 0 on success or a negative code: either -errno for system
 * errors, or one of the DH_E_* codes below (all below -10000, so they never
 * collide with errno). One X-macro builds the enum, dh_strerror(), the stable
 * machine code that HTTP error bodies carry ("invalid_signature") and the
 * HTTP status each maps to. Where a caller needs detail (a config line, the
 * name of a missing field) the function also fills an error buffer.
 */
#ifndef DH_ERROR_H
#define DH_ERROR_H

#include <stddef.h>

/* X(name, http status, code, default message) */
#define DH_ERRORS(X)                                                                    \
    X(INVALID_JSON, 400, "invalid_json", "the body is not valid JSON")                  \
    X(MISSING_FIELD, 400, "missing_field", "a required field is missing")               \
    X(INVALID_EVENT_TYPE, 400, "invalid_event_type", "the event type is not valid")     \
    X(BAD_REQUEST, 400, "bad_request", "the request is not valid")                      \
    X(INVALID_SIGNATURE, 401, "invalid_signature", "the signature does not match")      \
    X(MISSING_SIGNATURE, 401, "missing_signature", "the signature header is missing")   \
    X(INVALID_TOKEN, 401, "invalid_token", "the token is missing or not valid")         \
    X(TIMESTAMP, 401, "timestamp_out_of_tolerance", "the timestamp is too old or new")  \
    X(UNAUTHORIZED, 401, "unauthorized", "a valid bearer token is required")            \
    X(IP_NOT_ALLOWED, 403, "ip_not_allowed", "the client address is not allowed")       \
    X(UNKNOWN_SOURCE, 404, "unknown_source", "no source is configured at this path")    \
    X(NOT_FOUND, 404, "not_found", "not found")                                         \
    X(METHOD, 405, "method_not_allowed", "the method is not allowed on this path")      \
    X(CONFLICT, 409, "conflict", "the request conflicts with the current state")       \
    X(READ_ONLY, 409, "read_only", "defined in the config file: change it there")      \
    X(TIMEOUT, 408, "request_timeout", "the request took too long to arrive")           \
    X(TOO_LARGE, 413, "payload_too_large", "the body is larger than the source allows") \
    X(MEDIA_TYPE, 415, "unsupported_media_type", "the content type must be JSON")       \
    X(RATE_LIMITED, 429, "rate_limited", "too many requests for this source")           \
    X(INTERNAL, 500, "internal_error", "internal error")                                \
    X(STORE_UNAVAILABLE, 503, "store_unavailable", "the store cannot accept writes")    \
    X(SHUTTING_DOWN, 503, "shutting_down", "the gateway is shutting down")              \
    X(CONFIG, 500, "config_error", "the configuration is not valid")                    \
    X(STORE_LOCKED, 500, "store_locked", "the store is in use by another process")

enum dh_error {
    DH_E__BASE = -10000,
#define DH__ERR_ENUM(name, status, code, msg) DH_E_##name,
    DH_ERRORS(DH__ERR_ENUM)
#undef DH__ERR_ENUM
    DH_E__END
};

/* Returns a static human message for rc (DH_E_* or -errno). Any thread. */
const char *dh_strerror(int rc);
/* Returns the stable machine code for rc ("invalid_json"); "internal_error"
 * for system errors. Any thread. */
const char *dh_error_code(int rc);
/* Returns the HTTP status rc maps to (500 for system errors). Any thread. */
int dh_error_status(int rc);

#endif
