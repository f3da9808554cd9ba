/* test_webhook_netaddr.c: the addresses a webhook may be sent to
 * (core/netaddr.h), from the text forms getaddrinfo would give. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/netaddr.h"

static enum netaddr_class
of(const char *text)
{
	struct sockaddr_in in;
	struct sockaddr_in6 in6;

	memset(&in, 0, sizeof in);
	memset(&in6, 0, sizeof in6);
	if (inet_pton(AF_INET, text, &in.sin_addr) == 1) {
		in.sin_family = AF_INET;
		return netaddr_classify((const struct sockaddr *)&in);
	}
	if (inet_pton(AF_INET6, text, &in6.sin6_addr) == 1) {
		in6.sin6_family = AF_INET6;
		return netaddr_classify((const struct sockaddr *)&in6);
	}
	fail_msg("not an address: %s", text);
	return NETADDR_RESERVED;
}

static void
test_ipv4(void **state)
{
	(void)state;
	assert_int_equal(of("8.8.8.8"), NETADDR_PUBLIC);
	assert_int_equal(of("93.184.216.34"), NETADDR_PUBLIC);
	assert_int_equal(of("127.0.0.1"), NETADDR_LOOPBACK);
	assert_int_equal(of("127.255.255.254"), NETADDR_LOOPBACK);
	assert_int_equal(of("10.0.0.1"), NETADDR_PRIVATE);
	assert_int_equal(of("172.16.0.1"), NETADDR_PRIVATE);
	assert_int_equal(of("172.31.255.255"), NETADDR_PRIVATE);
	assert_int_equal(of("172.32.0.1"), NETADDR_PUBLIC);
	assert_int_equal(of("172.15.255.255"), NETADDR_PUBLIC);
	assert_int_equal(of("192.168.1.1"), NETADDR_PRIVATE);
	assert_int_equal(of("192.169.1.1"), NETADDR_PUBLIC);
	assert_int_equal(of("169.254.169.254"), NETADDR_LINK_LOCAL);
	assert_int_equal(of("0.0.0.0"), NETADDR_UNSPECIFIED);
	assert_int_equal(of("0.1.2.3"), NETADDR_RESERVED);
	assert_int_equal(of("224.0.0.1"), NETADDR_MULTICAST);
	assert_int_equal(of("239.255.255.255"), NETADDR_MULTICAST);
	assert_int_equal(of("100.64.0.1"), NETADDR_CGNAT);
	assert_int_equal(of("100.127.255.255"), NETADDR_CGNAT);
	assert_int_equal(of("100.128.0.1"), NETADDR_PUBLIC);
	assert_int_equal(of("100.63.255.255"), NETADDR_PUBLIC);
	assert_int_equal(of("255.255.255.255"), NETADDR_RESERVED);
	assert_int_equal(of("240.0.0.1"), NETADDR_RESERVED);
}

static void
test_ipv6(void **state)
{
	(void)state;
	assert_int_equal(of("2001:4860:4860::8888"), NETADDR_PUBLIC);
	assert_int_equal(of("::1"), NETADDR_LOOPBACK);
	assert_int_equal(of("::"), NETADDR_UNSPECIFIED);
	assert_int_equal(of("fc00::1"), NETADDR_PRIVATE);
	assert_int_equal(of("fdff:ffff::1"), NETADDR_PRIVATE);
	assert_int_equal(of("fe80::1"), NETADDR_LINK_LOCAL);
	assert_int_equal(of("febf::1"), NETADDR_LINK_LOCAL);
	assert_int_equal(of("fec0::1"), NETADDR_PRIVATE);
	assert_int_equal(of("ff02::1"), NETADDR_MULTICAST);
}

/* An IPv4 address in IPv6 clothing is what it reaches. */
static void
test_ipv4_inside_ipv6(void **state)
{
	(void)state;
	assert_int_equal(of("::ffff:127.0.0.1"), NETADDR_LOOPBACK);
	assert_int_equal(of("::ffff:10.1.2.3"), NETADDR_PRIVATE);
	assert_int_equal(of("::ffff:169.254.169.254"), NETADDR_LINK_LOCAL);
	assert_int_equal(of("::ffff:100.64.0.1"), NETADDR_CGNAT);
	assert_int_equal(of("::ffff:8.8.8.8"), NETADDR_PUBLIC);
	assert_int_equal(of("::127.0.0.1"), NETADDR_LOOPBACK);
	assert_int_equal(of("64:ff9b::192.168.0.1"), NETADDR_PRIVATE);
	assert_int_equal(of("64:ff9b::8.8.8.8"), NETADDR_PUBLIC);
}

static void
test_other_families_and_names(void **state)
{
	struct sockaddr sa;

	(void)state;
	memset(&sa, 0, sizeof sa);
	sa.sa_family = AF_UNIX;
	assert_int_equal(netaddr_classify(&sa), NETADDR_RESERVED);
	assert_int_equal(netaddr_classify(NULL), NETADDR_RESERVED);
	assert_string_equal(netaddr_class_name(NETADDR_CGNAT), "carrier-grade NAT");
	assert_string_equal(netaddr_class_name(NETADDR_LOOPBACK), "loopback");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_ipv4_inside_ipv6),
		cmocka_unit_test(test_other_families_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
