/*
 * pace.h: how many chats a worker claims in one turn of its loop.
 *
 * Everything a turn does (claims, grouped writes, the provider callbacks)
 * runs before the next lease renewal and slot heartbeat can: a turn that
 * takes a sizeable part of the lease lets leases run out and slots go
 * stale, and work is then claimed twice. So the claim size follows the
 * measured length of the turns: it halves after a turn longer than a tenth
 * of the lease and grows by PACE_STEP after one shorter than a twentieth.
 *
 * Pure: no I/O; time is an argument. Cannot fail. Thread-safe.
 */
#ifndef AIGW_WORKER_PACE_H
#define AIGW_WORKER_PACE_H

#include <stdint.h>

#define PACE_START 100   /* chats a fresh worker claims at once, at most */
#define PACE_STEP 100

/* The first claim limit of a worker that holds at most chats_max. */
long pace_claim_start(long chats_max);

/* The claim limit after a turn of turn_ms with leases of lease_s, given
 * the limit before it: between 1 and chats_max. */
long pace_claim_next(long limit, int64_t turn_ms, long lease_s, long chats_max);

#endif
