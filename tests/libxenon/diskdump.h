/* Dumps of one disk spec parsed by our disk_spec.c and by libxlutil's
 * xlu_disk_parse: equal dumps mean the same messages and fields. */
#ifndef XENON_TEST_DISKDUMP_H
#define XENON_TEST_DISKDUMP_H

char *diskdump_ours(const char *spec);
char *diskdump_xlu(const char *spec);

/* The same for a vif rate= value (xlu_vif_parse_rate). */
char *ratedump_ours(const char *rate);
char *ratedump_xlu(const char *rate);

#endif
