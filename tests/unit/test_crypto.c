/*
 * test_crypto.c: HMAC against the published RFC 4231 and RFC 2202 vectors,
 * SHA-256, the hex and base64 codecs that signature headers use, and the
 * constant-time comparison.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>

#include "core/crypto.h"

/* Computes HMAC(alg, key, msg) in one part and returns it as lower-case hex
 * in out (2 * DH_HMAC_MAX + 1 bytes). */
static void hmac_hex(const char *alg, const void *key, size_t keylen, const void *msg,
                     size_t msglen, char *out)
{
    struct dh_hmac_key *k = NULL;
    unsigned char mac[DH_HMAC_MAX];
    struct dh_iov iov = {msg, msglen};
    int n;

    assert_int_equal(dh_hmac_key_new(alg, key, keylen, &k), 0);
    assert_non_null(k);
    n = dh_hmac_compute(k, &iov, 1, mac);
    assert_true(n > 0);
    dh_hex_encode(mac, (size_t)n, out);
    dh_hmac_key_free(k);
}

struct vector {
    const char *alg;
    unsigned char keybyte; /* 0: use keystr */
    size_t keylen;
    const char *keystr;
    const char *msg;
    const char *want;
};

static void check_vectors(const struct vector *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char key[200];
        char got[2 * DH_HMAC_MAX + 1];
        const void *kp = key;
        size_t kl = v[i].keylen;

        if (v[i].keystr != NULL) {
            kp = v[i].keystr;
            kl = strlen(v[i].keystr);
        } else {
            memset(key, v[i].keybyte, kl);
        }
        hmac_hex(v[i].alg, kp, kl, v[i].msg, strlen(v[i].msg), got);
        if (strcmp(got, v[i].want) != 0)
            fail_msg("vector %zu (%s): got %s, want %s", i, v[i].alg, got, v[i].want);
    }
}

static void test_hmac_sha256_rfc4231(void **state)
{
    static const struct vector v[] = {
        {"sha256", 0x0b, 20, NULL, "Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {"sha256", 0, 0, "Jefe", "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {"sha256", 0xaa, 131, NULL, "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {"sha256", 0xaa, 131, NULL,
         "This is a test using a larger than block-size key and a larger than block-size "
         "data. The key needs to be hashed before being used by the HMAC algorithm.",
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
    (void)state;
    check_vectors(v, sizeof(v) / sizeof(v[0]));
}

static void test_hmac_sha512_rfc4231(void **state)
{
    static const struct vector v[] = {
        {"sha512", 0x0b, 20, NULL, "Hi There",
         "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
         "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
        {"sha512", 0, 0, "Jefe", "what do ya want for nothing?",
         "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
         "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
        {"sha512", 0xaa, 131, NULL, "Test Using Larger Than Block-Size Key - Hash Key First",
         "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
         "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
    };
    (void)state;
    check_vectors(v, sizeof(v) / sizeof(v[0]));
}

static void test_hmac_sha1_rfc2202(void **state)
{
    static const struct vector v[] = {
        {"sha1", 0x0b, 20, NULL, "Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"},
        {"sha1", 0, 0, "Jefe", "what do ya want for nothing?",
         "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
    };
    unsigned char key[20], data[50];
    char got[2 * DH_HMAC_MAX + 1];

    (void)state;
    check_vectors(v, sizeof(v) / sizeof(v[0]));
    /* Test case 3: binary key and data. */
    memset(key, 0xaa, sizeof(key));
    memset(data, 0xdd, sizeof(data));
    hmac_hex("sha1", key, sizeof(key), data, sizeof(data), got);
    assert_string_equal(got, "125d7342b9ac11cd91a39af48aa17b4f63f175d3");
}

static void test_hmac_digest_lengths(void **state)
{
    static const struct {
        const char *alg;
        int len;
    } algs[] = {{"sha1", 20}, {"sha256", 32}, {"sha512", 64}};
    (void)state;

    for (size_t i = 0; i < 3; i++) {
        struct dh_hmac_key *k = NULL;
        unsigned char mac[DH_HMAC_MAX];
        struct dh_iov iov = {"x", 1};
        assert_int_equal(dh_hmac_key_new(algs[i].alg, "k", 1, &k), 0);
        assert_int_equal(dh_hmac_compute(k, &iov, 1, mac), algs[i].len);
        dh_hmac_key_free(k);
    }
}

static void test_hmac_multipart_equals_one_part(void **state)
{
    const char *msg = "{\"ticket_id\":1228307,\"ticket_status\":\"Open\"}";
    size_t len = strlen(msg);
    struct dh_hmac_key *k = NULL;
    unsigned char one[DH_HMAC_MAX], many[DH_HMAC_MAX], again[DH_HMAC_MAX];
    struct dh_iov whole = {msg, len};
    struct dh_iov parts[4] = {{msg, 5}, {msg + 5, 0}, {msg + 5, 11}, {msg + 16, len - 16}};
    int n1, n2, n3;

    (void)state;
    assert_int_equal(dh_hmac_key_new("sha256", "secret", 6, &k), 0);
    n1 = dh_hmac_compute(k, &whole, 1, one);
    n2 = dh_hmac_compute(k, parts, 4, many);
    /* The key is a template: computing again gives the same answer. */
    n3 = dh_hmac_compute(k, &whole, 1, again);
    assert_int_equal(n1, 32);
    assert_int_equal(n2, 32);
    assert_int_equal(n3, 32);
    assert_memory_equal(one, many, 32);
    assert_memory_equal(one, again, 32);
    dh_hmac_key_free(k);
}

static void test_hmac_empty_key_and_message(void **state)
{
    char got[2 * DH_HMAC_MAX + 1];
    (void)state;
    /* HMAC-SHA256 with an empty key over an empty message. */
    hmac_hex("sha256", "", 0, "", 0, got);
    assert_string_equal(got, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_hmac_unknown_algorithm(void **state)
{
    struct dh_hmac_key *k = (struct dh_hmac_key *)&k;
    (void)state;
    assert_int_equal(dh_hmac_key_new("md5", "k", 1, &k), -EINVAL);
    assert_null(k);
    assert_int_equal(dh_hmac_key_new("SHA256", "k", 1, &k), -EINVAL);
    assert_int_equal(dh_hmac_key_new("", "k", 1, &k), -EINVAL);
    dh_hmac_key_free(NULL);
}

static void test_sha256(void **state)
{
    unsigned char d[32];
    char hex[65];
    struct dh_iov abc = {"abc", 3};
    struct dh_iov split[3] = {{"a", 1}, {"b", 1}, {"c", 1}};
    struct dh_iov empty = {"", 0};

    (void)state;
    dh_sha256(&abc, 1, d);
    dh_hex_encode(d, 32, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    dh_sha256(split, 3, d);
    dh_hex_encode(d, 32, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    dh_sha256(&empty, 1, d);
    dh_hex_encode(d, 32, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_hex_encode(void **state)
{
    static const unsigned char in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof(in) + 1];
    char canary[4] = "zzz";

    (void)state;
    dh_hex_encode(in, sizeof(in), out);
    assert_string_equal(out, "00017f80abff");
    dh_hex_encode(in, 0, canary);
    assert_string_equal(canary, "");
}

static void test_hex_decode(void **state)
{
    unsigned char out[8];
    (void)state;

    assert_int_equal(dh_hex_decode("00017f80abff", 12, out, sizeof(out)), 6);
    assert_memory_equal(out, "\x00\x01\x7f\x80\xab\xff", 6);
    /* Upper case and mixed case decode the same. */
    memset(out, 0, sizeof(out));
    assert_int_equal(dh_hex_decode("ABFF", 4, out, sizeof(out)), 2);
    assert_memory_equal(out, "\xab\xff", 2);
    assert_int_equal(dh_hex_decode("aBfF", 4, out, sizeof(out)), 2);
    assert_memory_equal(out, "\xab\xff", 2);
    /* Only len bytes are read. */
    assert_int_equal(dh_hex_decode("abcdZZ", 4, out, sizeof(out)), 2);
    assert_int_equal(dh_hex_decode("", 0, out, sizeof(out)), 0);
}

static void test_hex_decode_rejects(void **state)
{
    unsigned char out[4];
    (void)state;

    assert_int_equal(dh_hex_decode("abc", 3, out, sizeof(out)), -EINVAL);  /* odd */
    assert_int_equal(dh_hex_decode("0g", 2, out, sizeof(out)), -EINVAL);   /* bad char */
    assert_int_equal(dh_hex_decode("g0", 2, out, sizeof(out)), -EINVAL);
    assert_int_equal(dh_hex_decode("0 ", 2, out, sizeof(out)), -EINVAL);
    assert_int_equal(dh_hex_decode("0x12", 4, out, sizeof(out)), -EINVAL);
    assert_int_equal(dh_hex_decode("-1", 2, out, sizeof(out)), -EINVAL);
    /* Longer than the output. */
    assert_int_equal(dh_hex_decode("0011223344", 10, out, sizeof(out)), -EINVAL);
    assert_int_equal(dh_hex_decode("00112233", 8, out, sizeof(out)), 4);
}

static void test_base64_encode(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } v[] = {
        /* RFC 4648 section 10. */
        {"", ""},           {"f", "Zg=="},         {"fo", "Zm8="},
        {"foo", "Zm9v"},    {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    char out[16];
    unsigned char bin[] = {0xfb, 0xff, 0xbf};

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        dh_base64_encode((const unsigned char *)v[i].in, strlen(v[i].in), out);
        assert_string_equal(out, v[i].out);
    }
    /* The standard alphabet, not the URL-safe one. */
    dh_base64_encode(bin, 3, out);
    assert_string_equal(out, "+/+/");
}

static void test_base64_decode(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } v[] = {
        {"", ""},           {"Zg==", "f"},         {"Zm8=", "fo"},
        {"Zm9v", "foo"},    {"Zm9vYg==", "foob"},  {"Zm9vYmE=", "fooba"},
        {"Zm9vYmFy", "foobar"},
        /* Padding is optional. */
        {"Zg", "f"},        {"Zm8", "fo"},         {"Zm9vYmE", "fooba"},
    };
    unsigned char out[16];

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        int n = dh_base64_decode(v[i].in, strlen(v[i].in), out, sizeof(out));
        if (n != (int)strlen(v[i].out) || memcmp(out, v[i].out, (size_t)n) != 0)
            fail_msg("\"%s\" decoded to %d bytes", v[i].in, n);
    }
}

static void test_base64_url_safe(void **state)
{
    unsigned char out[8];
    (void)state;

    /* 0xfb 0xff 0xbf is "+/+/" in the standard alphabet and "-_-_" URL-safe. */
    assert_int_equal(dh_base64_decode("+/+/", 4, out, sizeof(out)), 3);
    assert_memory_equal(out, "\xfb\xff\xbf", 3);
    memset(out, 0, sizeof(out));
    assert_int_equal(dh_base64_decode("-_-_", 4, out, sizeof(out)), 3);
    assert_memory_equal(out, "\xfb\xff\xbf", 3);
    /* A 32-byte HMAC in URL-safe form without padding (43 characters). */
    {
        unsigned char mac[32], back[32];
        char std[45];
        for (int i = 0; i < 32; i++)
            mac[i] = (unsigned char)(0xf0 + i * 7);
        dh_base64_encode(mac, 32, std);
        assert_int_equal(strlen(std), 44);
        assert_int_equal(std[43], '=');
        for (char *c = std; *c; c++)
            *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
        assert_int_equal(dh_base64_decode(std, 43, back, sizeof(back)), 32);
        assert_memory_equal(mac, back, 32);
    }
}

static void test_base64_rejects(void **state)
{
    unsigned char out[16];
    (void)state;

    assert_int_equal(dh_base64_decode("Zm9v!", 5, out, sizeof(out)), -EINVAL);
    assert_int_equal(dh_base64_decode("Zm 9v", 5, out, sizeof(out)), -EINVAL);
    assert_int_equal(dh_base64_decode("Zm9v\n", 5, out, sizeof(out)), -EINVAL);
    /* Padding in the middle. */
    assert_int_equal(dh_base64_decode("Zg==Zg==", 8, out, sizeof(out)), -EINVAL);
    /* One character left over cannot encode a byte. */
    assert_int_equal(dh_base64_decode("Zm9vY", 5, out, sizeof(out)), -EINVAL);
    assert_int_equal(dh_base64_decode("Z", 1, out, sizeof(out)), -EINVAL);
}

static void test_base64_outmax(void **state)
{
    unsigned char out[8];
    (void)state;

    memset(out, 0xee, sizeof(out));
    /* "foobar" needs 6 bytes. */
    assert_int_equal(dh_base64_decode("Zm9vYmFy", 8, out, 5), -EINVAL);
    assert_int_equal(out[5], 0xee); /* nothing written past outmax */
    assert_int_equal(dh_base64_decode("Zm9vYmFy", 8, out, 6), 6);
    assert_memory_equal(out, "foobar", 6);
    assert_int_equal(dh_base64_decode("Zg==", 4, out, 0), -EINVAL);
}

static void test_base64_round_trip(void **state)
{
    unsigned char in[64], back[64];
    char enc[4 * 22 + 1];
    (void)state;

    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof(in); n++) {
        dh_base64_encode(in, n, enc);
        assert_int_equal(strlen(enc), 4 * ((n + 2) / 3));
        assert_int_equal(dh_base64_decode(enc, strlen(enc), back, sizeof(back)), (int)n);
        assert_memory_equal(in, back, n);
    }
}

static void test_ct_equal(void **state)
{
    (void)state;
    assert_int_equal(dh_ct_equal("abcdef", 6, "abcdef", 6), 1);
    assert_int_equal(dh_ct_equal("abcdef", 6, "abcdeg", 6), 0);
    assert_int_equal(dh_ct_equal("bbcdef", 6, "abcdef", 6), 0);
    /* Unequal lengths never match, even as a prefix. */
    assert_int_equal(dh_ct_equal("abc", 3, "abcdef", 6), 0);
    assert_int_equal(dh_ct_equal("abcdef", 6, "abc", 3), 0);
    assert_int_equal(dh_ct_equal("", 0, "", 0), 1);
    /* Bytes after a NUL count. */
    assert_int_equal(dh_ct_equal("a\0b", 3, "a\0c", 3), 0);
}

static void test_random(void **state)
{
    unsigned char a[32], b[32], zero[32] = {0};
    (void)state;
    dh_crypto_random(a, sizeof(a));
    dh_crypto_random(b, sizeof(b));
    assert_memory_not_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, zero, sizeof(a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_sha256_rfc4231),
        cmocka_unit_test(test_hmac_sha512_rfc4231),
        cmocka_unit_test(test_hmac_sha1_rfc2202),
        cmocka_unit_test(test_hmac_digest_lengths),
        cmocka_unit_test(test_hmac_multipart_equals_one_part),
        cmocka_unit_test(test_hmac_empty_key_and_message),
        cmocka_unit_test(test_hmac_unknown_algorithm),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_hex_encode),
        cmocka_unit_test(test_hex_decode),
        cmocka_unit_test(test_hex_decode_rejects),
        cmocka_unit_test(test_base64_encode),
        cmocka_unit_test(test_base64_decode),
        cmocka_unit_test(test_base64_url_safe),
        cmocka_unit_test(test_base64_rejects),
        cmocka_unit_test(test_base64_outmax),
        cmocka_unit_test(test_base64_round_trip),
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_random),
    };

    if (dh_crypto_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
