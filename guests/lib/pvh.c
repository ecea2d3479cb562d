#include "pvh.h"

#include "string_util.h"
#include "x86.h"

const struct hvm_start_info *pvh_check(uint64_t start_info_paddr)
{
	const struct hvm_start_info *info = phys_to_ptr(start_info_paddr);
	if (start_info_paddr == 0 || info->magic != HVM_START_MAGIC)
		return NULL;
	return info;
}

const char *pvh_cmdline(const struct hvm_start_info *info)
{
	if (!info || info->cmdline_paddr == 0)
		return "";
	return phys_to_ptr(info->cmdline_paddr);
}

const struct hvm_memmap_entry *pvh_memmap(const struct hvm_start_info *info, uint32_t *count)
{
	*count = 0;
	if (!info || info->version < 1 || info->memmap_paddr == 0)
		return NULL;
	*count = info->memmap_entries;
	return phys_to_ptr(info->memmap_paddr);
}

const char *cmdline_value(const char *cmdline, const char *key, size_t *length)
{
	size_t key_length = strlen(key);
	const char *p = cmdline;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *word = p;
		while (*p && *p != ' ')
			p++;
		size_t word_length = (size_t)(p - word);
		if (word_length > key_length && word[key_length] == '=' &&
		    memcmp(word, key, key_length) == 0) {
			*length = word_length - key_length - 1;
			return word + key_length + 1;
		}
	}
	return NULL;
}

uint64_t cmdline_number(const char *cmdline, const char *key, uint64_t fallback)
{
	size_t length;
	uint64_t value;
	const char *text = cmdline ? cmdline_value(cmdline, key, &length) : NULL;
	return text && parse_u64(text, length, &value) ? value : fallback;
}

bool word_equals(const char *value, size_t length, const char *s)
{
	return strlen(s) == length && memcmp(value, s, length) == 0;
}
