/* netaddr.c: the address classifier of webhook deliveries (see netaddr.h). */
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "core/netaddr.h"

static enum netaddr_class
classify_v4(uint32_t a) /* host order */
{
	if ((a >> 24) == 127)
		return NETADDR_LOOPBACK;
	if ((a >> 24) == 10 || (a >> 20) == (172u << 4 | 1) || (a >> 16) == (192u << 8 | 168))
		return NETADDR_PRIVATE;
	if ((a >> 16) == (169u << 8 | 254))
		return NETADDR_LINK_LOCAL;
	if (a == 0)
		return NETADDR_UNSPECIFIED;
	if ((a >> 28) == 0xe)
		return NETADDR_MULTICAST;
	if ((a >> 22) == (100u << 2 | 1))
		return NETADDR_CGNAT;
	if ((a >> 24) == 0 || (a >> 28) == 0xf)
		return NETADDR_RESERVED;
	return NETADDR_PUBLIC;
}

static uint32_t
v4_at(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static enum netaddr_class
classify_v6(const uint8_t *b)
{
	static const uint8_t zero[16];
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (memcmp(b, zero, 16) == 0)
		return NETADDR_UNSPECIFIED;
	if (memcmp(b, zero, 15) == 0 && b[15] == 1)
		return NETADDR_LOOPBACK;
	/* ::ffff:a.b.c.d and the deprecated ::a.b.c.d reach IPv4 a.b.c.d. */
	if (memcmp(b, mapped, 12) == 0 || memcmp(b, zero, 12) == 0)
		return classify_v4(v4_at(b + 12));
	/* NAT64 (64:ff9b::/96) embeds an IPv4 address too. */
	if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b &&
	    memcmp(b + 4, zero, 8) == 0)
		return classify_v4(v4_at(b + 12));
	if ((b[0] & 0xfe) == 0xfc)
		return NETADDR_PRIVATE;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return NETADDR_LINK_LOCAL;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
		return NETADDR_PRIVATE; /* site-local, deprecated */
	if (b[0] == 0xff)
		return NETADDR_MULTICAST;
	return NETADDR_PUBLIC;
}

enum netaddr_class
netaddr_classify(const struct sockaddr *sa)
{
	if (sa == NULL)
		return NETADDR_RESERVED;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in in;

		memcpy(&in, sa, sizeof in);
		return classify_v4(ntohl(in.sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 in6;

		memcpy(&in6, sa, sizeof in6);
		return classify_v6(in6.sin6_addr.s6_addr);
	}
	return NETADDR_RESERVED;
}

const char *
netaddr_class_name(enum netaddr_class c)
{
	switch (c) {
	case NETADDR_PUBLIC: return "public";
	case NETADDR_LOOPBACK: return "loopback";
	case NETADDR_PRIVATE: return "private";
	case NETADDR_LINK_LOCAL: return "link-local";
	case NETADDR_UNSPECIFIED: return "unspecified";
	case NETADDR_MULTICAST: return "multicast";
	case NETADDR_CGNAT: return "carrier-grade NAT";
	case NETADDR_RESERVED: return "reserved";
	}
	return "reserved";
}
