/*
 * The outer layers of a Xen save file, as xl writes them: xl's header
 * (tools/xl/xl.h: magic, byte order, flags, the domain config as libxl's
 * JSON) and libxl's stream (docs/specs/libxl-migration-stream.pandoc, v2)
 * around libxc's domain image, which the VMM writes and reads itself
 * (vmm/state/stream.h) on the same descriptor. Layouts:
 * include/xenon/xen_stream_format.h.
 *
 * A file is: savefile_write_start(), savefile_write_libxc_context(), the
 * VMM's image, savefile_write_end(). The same bytes are a migration
 * stream after xl's handshake. A PVH domain has no device model, so no
 * EMULATOR_* records are written, and none are accepted.
 */
#ifndef XENON_SAVEFILE_H
#define XENON_SAVEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stream_io.h"

#define SAVEFILE_MAX_CONFIG (4u << 20)  /* bytes of optional data we read */

/* The xl header with config_json (NUL-terminated; NULL for none) as its
 * optional data, then libxl's stream header. 0 or a negative errno. */
int savefile_write_start(struct stream_sink *out, const char *config_json);
/* LIBXC_CONTEXT: libxc's image follows, inline. */
int savefile_write_libxc_context(struct stream_sink *out);
/* libxl's END. */
int savefile_write_end(struct stream_sink *out);

struct savefile_info {
    uint32_t mandatory_flags;
    char *config_json;              /* NUL-terminated, or NULL */
    size_t config_len;              /* without the NUL */
    bool legacy;                    /* converted by convert-legacy-stream */
    bool have_emulator;             /* an EMULATOR_CONTEXT was handed on */
};

/* Reads libxc's image at LIBXC_CONTEXT, exactly up to its END: 0, or a
 * negative errno with a message in err. */
typedef int (*savefile_libxc_fn)(void *ctx, struct stream_source *in,
                                 char *err, size_t errlen);

/* Read a save file up to and including libxl's END, not a byte beyond.
 * Refuses (-EINVAL, with a message naming the part or record and the
 * problem in err) a wrong magic or byte order, unknown mandatory or any
 * optional flags, no STREAMV2 flag, a config that is not JSON, not
 * NUL-terminated, holds a NUL or overruns the optional data, a bad libxl
 * header, a truncated record, non-zero padding, a LIBXC_CONTEXT that is
 * not empty, missing, or twice, emulator and checkpoint records, an
 * unknown mandatory record, and END before LIBXC_CONTEXT. libxc's errors
 * are passed on as it reports them. On failure *out is freed. */
int savefile_read(struct stream_source *in, savefile_libxc_fn libxc,
                  void *ctx, struct savefile_info *out, char *err,
                  size_t errlen);

/* Reads the body (length bytes, the emulator sub-header first) and its
 * padding of an EMULATOR_CONTEXT record: 0, or a negative errno with a
 * message in err. */
typedef int (*savefile_emulator_fn)(void *ctx, struct stream_source *in,
                                    uint32_t length, char *err, size_t errlen);

/* savefile_read that also accepts one EMULATOR_CONTEXT after libxc's
 * image, whose body `emulator` reads (Xenon's files carry the VMM's own
 * state there, docs/savefile.md); a length below the emulator sub-header
 * or above XENON_SAVE_MAX_DEVICES, one before LIBXC_CONTEXT or twice are
 * refused. With emulator NULL, as savefile_read. */
int savefile_read_ex(struct stream_source *in, savefile_libxc_fn libxc,
                     savefile_emulator_fn emulator, void *ctx,
                     struct savefile_info *out, char *err, size_t errlen);
void savefile_info_free(struct savefile_info *info);

/* xl restore's checks of Xenon's own parts (savefile_check.c), for its
 * first pass over a file and the fuzz target. */
/* A savefile_emulator_fn: the EMULATOR_CONTEXT body read and its emulator
 * sub-header (id 0, index 0), padding and state-record framing checked. */
int savefile_check_emulator(struct stream_source *in, uint32_t length, char *err,
                            size_t errlen);
/* The domain config from the xl header's JSON (libxl's, read by json-c:
 * name, uuid, type, kernel, cmdline, ramdisk, memory, vCPUs, the on_*
 * actions, disks and nics; relative paths made absolute against the
 * current directory), checked as an xl.cfg is. 0, or -1 (err printed). */
struct domain_config;
int savefile_config_from_json(const char *json, struct domain_config *dc, FILE *err);

#endif
