/*
 * error.c: names, codes and HTTP statuses of the DH_E_* codes (error.h).
 */
#include "core/error.h"

#include <string.h>

struct dh__error_info {
    int status;
    const char *code;
    const char *msg;
};

static const struct dh__error_info dh__errors[] = {
#define DH__ERR_INFO(name, status, code, msg) {status, code, msg},
    DH_ERRORS(DH__ERR_INFO)
#undef DH__ERR_INFO
};

static const struct dh__error_info *dh__lookup(int rc)
{
    if (rc > DH_E__BASE && rc < DH_E__END)
        return &dh__errors[rc - DH_E__BASE - 1];
    return NULL;
}

const char *dh_strerror(int rc)
{
    const struct dh__error_info *e = dh__lookup(rc);
    if (e != NULL)
        return e->msg;
    if (rc == 0)
        return "success";
    return strerror(rc < 0 ? -rc : rc);
}

const char *dh_error_code(int rc)
{
    const struct dh__error_info *e = dh__lookup(rc);
    return e != NULL ? e->code : "internal_error";
}

int dh_error_status(int rc)
{
    const struct dh__error_info *e = dh__lookup(rc);
    return e != NULL ? e->status : 500;
}
