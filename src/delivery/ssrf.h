/*
 * ssrf.h: the guard on outbound destinations.
 *
 * Webhook receivers are configured by users (and, over the admin API, by
 * whoever holds the token), so a destination must not reach the gateway's
 * own network: loopback, private (RFC 1918), CGNAT, link-local (with the
 * cloud metadata address), unique-local IPv6, multicast and reserved
 * addresses are refused unless an allow list names them. The check is made
 * on the address actually connected, so a public name resolving to a
 * private address is refused too. Pure functions; any thread.
 */
#ifndef DH_SSRF_H
#define DH_SSRF_H

#include <stddef.h>

#include <sys/socket.h>

#include "core/cidr.h"

/* Returns 1 when a connection to sa may be made: a public address, or one
 * inside allow (nallow ranges, e.g. allow_private: [127.0.0.0/8]). IPv4
 * mapped or NAT64-embedded in IPv6 is judged as the IPv4 address it
 * carries. */
int dh_ssrf_allowed(const struct sockaddr *sa, const struct dh_cidr *allow, size_t nallow);

/* Parses a comma-separated list of ranges ("127.0.0.0/8,::1/128", the form
 * of DESKHOOK_ALLOW_PRIVATE) into a new array (*out, *n; free() it).
 * Returns 0, or -EINVAL naming the bad entry in err. */
int dh_ssrf_parse_list(const char *s, struct dh_cidr **out, size_t *n, char *err, size_t errlen);

#endif
