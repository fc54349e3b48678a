/*
 * test_ssrf.c: the outbound guard refuses the gateway's own network and
 * lets public addresses and explicitly allowed ranges through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "delivery/ssrf.h"

static int allowed(const char *ip, const char *allow)
{
    struct sockaddr_storage ss;
    struct dh_cidr *ranges = NULL;
    size_t n = 0;
    char err[100];
    int ok;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
        ss.ss_family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
        ss.ss_family = AF_INET6;
    else
        fail_msg("bad test address %s", ip);
    if (allow != NULL)
        assert_int_equal(dh_ssrf_parse_list(allow, &ranges, &n, err, sizeof(err)), 0);
    ok = dh_ssrf_allowed((struct sockaddr *)&ss, ranges, n);
    free(ranges);
    return ok;
}

static void test_refuses_own_network(void **state)
{
    static const char *const refused[] = {
        "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
        "100.64.0.1", "169.254.169.254", "0.0.0.0", "224.0.0.1", "255.255.255.255",
        "::1", "::", "fd00:ec2::254", "fc00::1", "fe80::1", "ff02::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe" /* 169.254.169.254 */,
    };
    (void)state;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (allowed(refused[i], NULL))
            fail_msg("%s should be refused", refused[i]);
}

static void test_public_and_allowed(void **state)
{
    (void)state;
    assert_true(allowed("93.184.216.34", NULL));
    assert_true(allowed("8.8.8.8", NULL));
    assert_true(allowed("172.32.0.1", NULL)); /* just past 172.16/12 */
    assert_true(allowed("2606:4700::1111", NULL));
    assert_true(allowed("::ffff:8.8.8.8", NULL));
    /* DESKHOOK_ALLOW_PRIVATE=127.0.0.0/8,::1/128 opens exactly those. */
    assert_true(allowed("127.0.0.1", "127.0.0.0/8, ::1/128"));
    assert_true(allowed("::1", "127.0.0.0/8,::1/128"));
    assert_true(allowed("::ffff:127.0.0.1", "127.0.0.0/8"));
    assert_false(allowed("10.0.0.1", "127.0.0.0/8,::1/128"));
    assert_false(allowed("169.254.169.254", "127.0.0.0/8"));
}

static void test_parse_list_errors(void **state)
{
    struct dh_cidr *r = NULL;
    size_t n = 9;
    char err[100];
    (void)state;
    assert_int_equal(dh_ssrf_parse_list("127.0.0.0/8,nope", &r, &n, err, sizeof(err)), -22);
    assert_null(r);
    assert_non_null(strstr(err, "\"nope\""));
    assert_int_equal(dh_ssrf_parse_list("", &r, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses_own_network),
        cmocka_unit_test(test_public_and_allowed),
        cmocka_unit_test(test_parse_list_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
