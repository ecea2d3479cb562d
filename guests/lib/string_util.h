/* The few string routines the guests need (GCC may also emit calls to the mem* ones). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Parses a decimal number, or hex with a 0x prefix, that fills all of [s, s+len). */
bool parse_u64(const char *s, size_t len, uint64_t *value);

int strcmp(const char *a, const char *b);
