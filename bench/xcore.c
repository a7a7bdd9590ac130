/*
 * Cross-core round trip: one cache line passed back and forth between a
 * thread on CPU 0 and one on CPU 1, 500,000 times; prints the TSC cycles of
 * one round trip. On the bench's VM it reads either about 200-300 (the two
 * vCPUs share a cache) or about 1,000 (the host placed them far apart), and
 * the host switches between the two: docs/PERFORMANCE.md, Two cores. The
 * bench runs it before and after each two-worker measurement.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <x86intrin.h>

#define ROUNDS 500000

static volatile uint64_t line[16] __attribute__((aligned(128)));

static void
pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

static void *
echo(void *arg)
{
	uint64_t i;

	(void)arg;
	pin(0);
	for (i = 1; i < 2 * ROUNDS; i += 2) {
		while (line[0] != i)
			;
		line[0] = i + 1;
	}
	return NULL;
}

int
main(void)
{
	pthread_t t;
	uint64_t i, t0, t1;

	if (pthread_create(&t, NULL, echo, NULL) != 0)
		return 1;
	pin(1);
	t0 = __rdtsc();
	for (i = 0; i < 2 * ROUNDS; i += 2) {
		line[0] = i + 1;
		while (line[0] != i + 2)
			;
	}
	t1 = __rdtsc();
	pthread_join(t, NULL);
	printf("%.0f\n", (double)(t1 - t0) / ROUNDS);
	return 0;
}
