/*
 * cidr.c: address ranges (cidr.h).
 */
#include "core/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dh_cidr_parse(const char *s, struct dh_cidr *out)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    long bits;

    memset(out, 0, sizeof(*out));
    if (n == 0 || n >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, out->addr) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, buf, out->addr) == 1)
        out->family = AF_INET6;
    else
        return -EINVAL;
    int max = out->family == AF_INET ? 32 : 128;
    if (slash == NULL) {
        out->bits = max;
        return 0;
    }
    char *end = NULL;
    bits = strtol(slash + 1, &end, 10);
    if (end == slash + 1 || *end != '\0' || bits < 0 || bits > max)
        return -EINVAL;
    out->bits = (int)bits;
    return 0;
}

static int dh__in(const struct dh_cidr *c, int family, const unsigned char *addr)
{
    int full, rest;
    if (c->family != family)
        return 0;
    full = c->bits / 8;
    rest = c->bits % 8;
    if (memcmp(c->addr, addr, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (c->addr[full] & mask) == (addr[full] & mask);
}

static int dh__match(const struct dh_cidr *r, size_t n, int family, const unsigned char *addr)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    for (size_t i = 0; i < n; i++) {
        if (dh__in(&r[i], family, addr))
            return 1;
        if (family == AF_INET6 && memcmp(addr, mapped, 12) == 0 && dh__in(&r[i], AF_INET, addr + 12))
            return 1;
    }
    return 0;
}

int dh_cidr_match_str(const struct dh_cidr *ranges, size_t n, const char *ip)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, ip, a) == 1)
        return dh__match(ranges, n, AF_INET, a);
    if (inet_pton(AF_INET6, ip, a) == 1)
        return dh__match(ranges, n, AF_INET6, a);
    return 0;
}

int dh_cidr_match_sa(const struct dh_cidr *ranges, size_t n, const struct sockaddr *sa)
{
    if (sa == NULL)
        return 0;
    if (sa->sa_family == AF_INET)
        return dh__match(ranges, n, AF_INET,
                         (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr);
    if (sa->sa_family == AF_INET6)
        return dh__match(ranges, n, AF_INET6,
                         (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return 0;
}

void dh_cidr_format_sa(const struct sockaddr *sa, char *out, size_t outlen)
{
    out[0] = '\0';
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outlen);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)outlen);
}
