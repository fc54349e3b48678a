/*
 * outcome.c: outcome names and the retry rule (outcome.h).
 */
#include "delivery/outcome.h"

static const char *const dh__names[] = {
#define X(sym, name) name,
    DH_OUTCOMES(X)
#undef X
};

const char *dh_outcome_name(enum dh_outcome o)
{
    return dh__names[o];
}

int dh_outcome_retryable(enum dh_outcome o, int status)
{
    switch (o) {
    case DH_OUT_HTTP_5XX:
    case DH_OUT_DNS_FAILED:
    case DH_OUT_CONNECT_FAILED:
    case DH_OUT_TLS_FAILED:
    case DH_OUT_TIMEOUT:
    case DH_OUT_NETWORK_ERROR:
        return 1;
    case DH_OUT_HTTP_4XX:
        /* The receiver asks us to come back later. */
        return status == 408 || status == 429;
    default:
        /* 3xx not followed, other 4xx: the receiver's considered answer.
         * too_large, ssrf_refused, payload_error: would fail again. */
        return 0;
    }
}

enum dh_outcome dh_outcome_of_status(int status)
{
    if (status >= 200 && status < 300)
        return DH_OUT_HTTP_2XX;
    if (status >= 300 && status < 400)
        return DH_OUT_HTTP_3XX;
    if (status >= 400 && status < 500)
        return DH_OUT_HTTP_4XX;
    if (status >= 500 && status < 600)
        return DH_OUT_HTTP_5XX;
    /* 1xx as a final answer, or nonsense: the exchange broke. */
    return DH_OUT_NETWORK_ERROR;
}
