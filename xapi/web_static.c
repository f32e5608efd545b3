/* The web console's files (web_static.h). */
#include "web_static.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *web_dir;

void web_static_config(const char *dir)
{
    web_dir = dir && *dir ? dir : NULL;
}

bool web_static_path(const char *url)
{
    return !strncmp(url, "/ui/", 4) || !strcmp(url, "/ui");
}

static bool good_name(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 64 || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

/* Whether an Accept-Encoding value lists gzip without q=0. */
static bool accepts_gzip(const char *ae)
{
    for (const char *p = ae; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        if (!strncasecmp(p, "gzip", 4) && (p + 4 == e || p[4] == ';' || p[4] == ' ')) {
            const char *q = strstr(p, "q=");
            return !(q && q < e && strtod(q + 2, NULL) == 0);
        }
        p = e;
    }
    return false;
}

static const char *type_of(const char *name)
{
    static const struct { const char *ext, *type; } types[] = {
        { ".html", "text/html; charset=utf-8" }, { ".js", "text/javascript; charset=utf-8" },
        { ".mjs", "text/javascript; charset=utf-8" }, { ".css", "text/css; charset=utf-8" },
        { ".svg", "image/svg+xml" }, { ".png", "image/png" }, { ".json", "application/json" },
        { ".map", "application/json" },
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

static enum MHD_Result plain(struct MHD_Connection *conn, unsigned status, const char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                             MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/plain");
    if (status == MHD_HTTP_MOVED_PERMANENTLY)
        MHD_add_response_header(r, "Location", "/ui/");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result web_static_request(struct MHD_Connection *conn, const char *url)
{
    if (!strcmp(url, "/ui"))
        return plain(conn, MHD_HTTP_MOVED_PERMANENTLY, "/ui/\n");
    const char *name = url[4] ? url + 4 : "index.html";
    if (!web_dir || !good_name(name))
        return plain(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", web_dir, name) >= sizeof(path))
        return plain(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    /* The build's gzip copy when the client takes gzip (a q=0 for it
     * counts as not taking it). */
    const char *ae = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Encoding");
    bool gz = ae && accepts_gzip(ae) && strlen(path) + 3 < sizeof(path);
    int fd = -1;
    if (gz) {
        strcat(path, ".gz");
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        path[strlen(path) - 3] = 0;
        gz = fd >= 0;
    }
    if (fd < 0)
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > WEB_MAX_FILE) {
        if (fd >= 0)
            close(fd);
        return plain(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type_of(name));
    MHD_add_response_header(r, "Vary", "Accept-Encoding");
    if (gz)
        MHD_add_response_header(r, "Content-Encoding", "gzip");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; connect-src 'self' ws: wss:; "
                            "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}
