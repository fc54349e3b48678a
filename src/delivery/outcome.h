/*
 * outcome.h: the closed set of attempt outcomes and what each one means for
 * the delivery (docs/delivery.md lists them for users).
 */
#ifndef DH_OUTCOME_H
#define DH_OUTCOME_H

#define DH_OUTCOMES(X)                                                                          \
    X(HTTP_2XX, "http_2xx")                                                                     \
    X(HTTP_3XX, "http_3xx")                                                                     \
    X(HTTP_4XX, "http_4xx")                                                                     \
    X(HTTP_5XX, "http_5xx")                                                                     \
    X(DNS_FAILED, "dns_failed")                                                                 \
    X(CONNECT_FAILED, "connect_failed")                                                         \
    X(TLS_FAILED, "tls_failed")                                                                 \
    X(TIMEOUT, "timeout")                                                                       \
    X(NETWORK_ERROR, "network_error")                                                           \
    X(TOO_LARGE, "too_large")                                                                   \
    X(SSRF_REFUSED, "ssrf_refused")                                                             \
    X(PAYLOAD_ERROR, "payload_error")

enum dh_outcome {
#define X(sym, name) DH_OUT_##sym,
    DH_OUTCOMES(X)
#undef X
};

/* The outcome's name as stored and shown ("http_5xx"). */
const char *dh_outcome_name(enum dh_outcome o);

/* 1 when an attempt that ended so may be retried: 5xx, 408, 429, and the
 * network failures. status is the HTTP status for the http_* outcomes. */
int dh_outcome_retryable(enum dh_outcome o, int status);

/* The outcome of an HTTP answer with this status. */
enum dh_outcome dh_outcome_of_status(int status);

#endif
