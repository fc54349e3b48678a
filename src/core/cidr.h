/*
 * cidr.h: IPv4 and IPv6 address ranges ("10.0.0.0/8", "2001:db8::/32", or a
 * single address) and matching addresses against them. IPv4-mapped IPv6
 * addresses (::ffff:a.b.c.d) match IPv4 ranges. Pure functions; any thread.
 */
#ifndef DH_CIDR_H
#define DH_CIDR_H

#include <stddef.h>

#include <sys/socket.h>

struct dh_cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int bits;
};

/* Parses s into *out. Returns 0 or -EINVAL. */
int dh_cidr_parse(const char *s, struct dh_cidr *out);
/* Returns 1 when the textual address ip is inside one of n ranges. */
int dh_cidr_match_str(const struct dh_cidr *ranges, size_t n, const char *ip);
/* Returns 1 when the socket address is inside one of n ranges. */
int dh_cidr_match_sa(const struct dh_cidr *ranges, size_t n, const struct sockaddr *sa);
/* Writes the textual form of a socket address (no port) into out. */
void dh_cidr_format_sa(const struct sockaddr *sa, char *out, size_t outlen);

#endif
