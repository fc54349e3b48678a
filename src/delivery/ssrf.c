/*
 * ssrf.c: refusing destinations inside the gateway's own network (ssrf.h).
 */
#include "delivery/ssrf.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

/* Everything that is not a public unicast address. */
static const char *const dh__blocked_text[] = {
    "0.0.0.0/8",       /* "this network" */
    "10.0.0.0/8",      /* RFC 1918 */
    "100.64.0.0/10",   /* CGNAT */
    "127.0.0.0/8",     /* loopback */
    "169.254.0.0/16",  /* link-local, with the metadata address 169.254.169.254 */
    "172.16.0.0/12",   /* RFC 1918 */
    "192.0.0.0/24",    /* IETF protocol assignments */
    "192.0.2.0/24",    /* documentation */
    "192.168.0.0/16",  /* RFC 1918 */
    "198.18.0.0/15",   /* benchmarking */
    "198.51.100.0/24", /* documentation */
    "203.0.113.0/24",  /* documentation */
    "224.0.0.0/4",     /* multicast */
    "240.0.0.0/4",     /* reserved, and broadcast */
    "::/128",          /* unspecified */
    "::1/128",         /* loopback */
    "fc00::/7",        /* unique local, with fd00:ec2::254 (metadata) */
    "fe80::/10",       /* link-local */
    "ff00::/8",        /* multicast */
    "2001:db8::/32",   /* documentation */
};

#define DH__NBLOCKED (sizeof(dh__blocked_text) / sizeof(dh__blocked_text[0]))

static struct dh_cidr dh__blocked_ranges[DH__NBLOCKED]; /* parsed once, then read-only */
static pthread_once_t dh__blocked_once = PTHREAD_ONCE_INIT;

static void dh__parse_blocked(void)
{
    for (size_t i = 0; i < DH__NBLOCKED; i++)
        dh_cidr_parse(dh__blocked_text[i], &dh__blocked_ranges[i]);
}

static int dh__blocked(const struct sockaddr *sa)
{
    pthread_once(&dh__blocked_once, dh__parse_blocked);
    return dh_cidr_match_sa(dh__blocked_ranges, DH__NBLOCKED, sa);
}

int dh_ssrf_allowed(const struct sockaddr *sa, const struct dh_cidr *allow, size_t nallow)
{
    struct sockaddr_in v4;

    if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
        return 0;
    if (sa->sa_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
        if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0) {
            /* Judged as the IPv4 address inside. */
            memset(&v4, 0, sizeof(v4));
            v4.sin_family = AF_INET;
            memcpy(&v4.sin_addr, a + 12, 4);
            sa = (const struct sockaddr *)&v4;
        }
    }
    if (nallow > 0 && dh_cidr_match_sa(allow, nallow, sa))
        return 1;
    return !dh__blocked(sa);
}

int dh_ssrf_parse_list(const char *s, struct dh_cidr **out, size_t *n, char *err, size_t errlen)
{
    size_t cap = 1;
    *out = NULL;
    *n = 0;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    *out = dh_calloc(cap, sizeof(**out));
    while (*s) {
        char item[64];
        size_t len = strcspn(s, ",");
        const char *t = s;
        while (len > 0 && *t == ' ') {
            t++;
            len--;
        }
        while (len > 0 && t[len - 1] == ' ')
            len--;
        if (len > 0) {
            if (len >= sizeof(item) ||
                (memcpy(item, t, len), item[len] = '\0', dh_cidr_parse(item, &(*out)[*n]) < 0)) {
                snprintf(err, errlen, "\"%.*s\" is not an address or CIDR range", (int)len, t);
                free(*out);
                *out = NULL;
                *n = 0;
                return -EINVAL;
            }
            (*n)++;
        }
        s += strcspn(s, ",");
        if (*s == ',')
            s++;
    }
    return 0;
}
