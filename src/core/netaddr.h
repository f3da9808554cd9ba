/*
 * netaddr.h: which network addresses a webhook may be sent to. A pure
 * classifier of one resolved address (struct sockaddr), so that the sender
 * checks what it will connect to, not what a name said: loopback, private
 * (RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10), unspecified,
 * multicast, broadcast, carrier-grade NAT (100.64/10), and the IPv4-mapped
 * and IPv4-compatible IPv6 forms of them are refused unless allowed
 * (AIGW_WEBHOOK_ALLOW_PRIVATE). Cannot fail; thread-safe.
 */
#ifndef AIGW_CORE_NETADDR_H
#define AIGW_CORE_NETADDR_H

#include <stdbool.h>
#include <sys/socket.h>

enum netaddr_class {
	NETADDR_PUBLIC,
	NETADDR_LOOPBACK,
	NETADDR_PRIVATE,
	NETADDR_LINK_LOCAL,
	NETADDR_UNSPECIFIED,
	NETADDR_MULTICAST,
	NETADDR_CGNAT,
	NETADDR_RESERVED,    /* 0/8, 240/4, broadcast, and families we do not know */
};

enum netaddr_class netaddr_classify(const struct sockaddr *sa);

/* "loopback", "private", ...: for the log line of a refusal. */
const char *netaddr_class_name(enum netaddr_class c);

#endif
