/* Stats as XAPI publishes them: GET /rrd_updates, XAPI's <xport> XML
 * (meta: start, step, end, rows, columns, legend of
 * "CF:host|vm:<uuid>:<name>" entries; data: rows newest first, each
 * <t> and one <v> per legend entry).
 *
 * A sampler thread reads every RRD_STEP_S seconds: the host's CPUs
 * (/proc/stat: cpuN, the busy fraction, and cpu_avg), memory_total_kib,
 * memory_free_kib, loadavg, pif_<device>_rx/_tx for each physical
 * interface (bytes/s, /sys/class/net) and pif_aggr_rx/_tx; each running VM's vCPUs (cpuN: CPU seconds per second,
 * from its VMM's vCPU threads), memory (bytes), vif_<devid>_rx/_tx
 * (bytes/s, the guest's view: the host tap's tx is the guest's rx) and,
 * when it has exactly one attached disk, vbd_<dev>_read/_write (bytes/s
 * of the VMM's storage I/O: /proc/<pid>/io, which only one disk can be
 * credited with). Samples go to a ring of RRD_ROWS rows, so the store is
 * bounded whatever the uptime: each row holds at most RRD_MAX_SOURCES
 * values (8 bytes each) and shares its source names with the rows before
 * it while the sources stay the same (a new name list only when a VM or
 * device comes or goes).
 *
 * Query: session_id (required), start (unix time: rows after it; default
 * the last ten minutes), cf (AVERAGE, MIN, MAX: all the same one-step
 * value here), interval (the step: 5, anything else is answered at 5),
 * host=true (the host's sources too), vm_uuid (only that VM's). */
#ifndef XAPI_RRD_H
#define XAPI_RRD_H

#define RRD_STEP_S 5
#define RRD_ROWS 720            /* one hour */
#define RRD_MAX_SOURCES 4096

struct MHD_Connection;

int rrd_start(void);

/* Answer GET /rrd_updates on conn (an MHD_Result). */
int rrd_http(struct MHD_Connection *conn);

#endif
