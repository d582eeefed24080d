/*
 * GET /ui: the dashboard, a static page (contrib/ui, installed under
 * tollgate.ui_dir) that reads the spend API in the browser, and /ui/chart.js,
 * the system's Chart.js (tollgate.ui_chartjs, Debian's libjs-chart.js).  Runs
 * in the workers.  The files hold no data and need no key; every call of the
 * page's script carries the master key as a bearer header, never in a URL.
 * Only the files listed here are served, so no path can leave the directory.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "tollgated.h"
#include "worker.h"

#define UI_FILE_MAX	(16 * 1024 * 1024)	/* Chart.js is 200 kB */

static const struct ui_file {
	const char	*path;		/* under /ui */
	const char	*file;		/* under ui_dir; NULL: ui_chartjs */
	const char	*type;
} ui_files[] = {
	{ "/ui", "index.html", "text/html; charset=utf-8" },
	{ "/ui/", "index.html", "text/html; charset=utf-8" },
	{ "/ui/index.html", "index.html", "text/html; charset=utf-8" },
	{ "/ui/app.js", "app.js", "text/javascript; charset=utf-8" },
	{ "/ui/style.css", "style.css", "text/css; charset=utf-8" },
	{ "/ui/chart.js", NULL, "text/javascript; charset=utf-8" },
};

/*
 * A regular file of at most UI_FILE_MAX bytes into b: 0, or -1 with errno.
 * The worker reads it in its event loop, so a FIFO (open would wait for a
 * writer), a device (/dev/zero never ends) or a directory is refused.
 */
static int
ui_read(struct buf *b, const char *path)
{
	struct stat st;
	ssize_t n;
	int fd, rc = -1, saved;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto out;
	if (!S_ISREG(st.st_mode) || st.st_size > UI_FILE_MAX) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : !S_ISREG(st.st_mode) ? EINVAL : EFBIG;
		goto out;
	}
	if (buf_reserve(b, (size_t)st.st_size + 1) < 0) {
		errno = ENOMEM;
		goto out;
	}
	/* up to the size fstat saw: a file growing meanwhile is cut there */
	while (b->len < (size_t)st.st_size) {
		n = read(fd, b->data + b->len, (size_t)st.st_size - b->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	rc = 0;
out:
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static void
ui_send(struct hreq *req, const struct ui_file *f)
{
	const struct config_tollgate *tg = &heritage.config->tollgate;
	char path[PATH_MAX];
	struct buf b = { 0 };

	if (f->file == NULL)
		buf_copy(path, sizeof(path), tg->ui_chartjs ? tg->ui_chartjs : "");
	else
		snprintf(path, sizeof(path), "%s/%s", tg->ui_dir ? tg->ui_dir : "", f->file);
	if (ui_read(&b, path) < 0) {
		/* the page still works without charts: it says so */
		log_warn("worker %u: %s: cannot read '%s': %s", heritage.index, f->path, path,
		    strerror(errno));
		http_send_error(req, 404, "invalid_request_error", "not_found",
		    "%s is not installed (%s)", f->path,
		    f->file == NULL ? "tollgate.ui_chartjs: install libjs-chart.js" : "tollgate.ui_dir");
		buf_release(&b);
		return;
	}
	hreq_add_header(req, "Content-Type", f->type);
	hreq_add_header(req, "Cache-Control", "no-cache");
	hreq_add_header(req, "X-Content-Type-Options", "nosniff");
	hreq_add_header(req, "Referrer-Policy", "no-referrer");
	/* the page talks to this origin only, runs no inline script, and is never framed */
	hreq_add_header(req, "Content-Security-Policy", "default-src 'self'; script-src 'self'; "
	    "style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'");
	hreq_reply(req, 200, b.data ? b.data : "", b.len);
	buf_release(&b);
}

int
ui_serve(struct hreq *req, const char *path)
{
	size_t i;

	if (strncmp(path, "/ui", 3) != 0 || (path[3] != '\0' && path[3] != '/'))
		return 0;
	for (i = 0; i < sizeof(ui_files) / sizeof(ui_files[0]); i++)
		if (strcmp(path, ui_files[i].path) == 0)
			break;
	if (i == sizeof(ui_files) / sizeof(ui_files[0]))
		http_send_error(req, 404, "invalid_request_error", "not_found",
		    "no such file: %s", path);
	else if (hreq_method(req) != HTTP1_GET && hreq_method(req) != HTTP1_HEAD)
		http_send_error(req, 405, "invalid_request_error", "method_not_allowed",
		    "%s takes GET", path);
	else
		ui_send(req, &ui_files[i]);
	return 1;
}
