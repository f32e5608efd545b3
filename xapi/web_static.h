/* The web console's files (built from xapi/web/ into a directory, see
 * xapi/web/README.md), served read-only under /ui/: GET /ui/ is
 * index.html, GET /ui/NAME a file directly in the directory. A name is
 * [A-Za-z0-9._-], not starting with a dot, no deeper path; the file is
 * opened with O_NOFOLLOW and must be a regular file of at most
 * WEB_MAX_FILE bytes. The pages need no session: they log in through
 * the API like any client. */
#ifndef XAPI_WEB_STATIC_H
#define XAPI_WEB_STATIC_H

#include <microhttpd.h>
#include <stdbool.h>

#define WEB_MAX_FILE (16u << 20)

/* The directory (--web-dir); NULL turns the pages off (404). */
void web_static_config(const char *dir);

bool web_static_path(const char *url);
enum MHD_Result web_static_request(struct MHD_Connection *conn, const char *url);

#endif
