/* A test-and-set lock; LOCK XCHG runs natively in ring 3. */
#pragma once

#include "x86.h"

struct spinlock {
	volatile uint32_t locked;
};

static inline void spin_lock(struct spinlock *lock)
{
	for (;;) {
		uint32_t was = 1;
		__asm__ volatile("xchgl %0, %1" : "+r"(was), "+m"(lock->locked) : : "memory");
		if (was == 0)
			return;
		while (lock->locked)
			cpu_relax();
	}
}

static inline void spin_unlock(struct spinlock *lock)
{
	__asm__ volatile("" : : : "memory");
	lock->locked = 0;
}
