/* cgi.c: the CGI transport (see cgi.h). */
#include <stdio.h>
#include <stdlib.h>

#include "db/db.h"
#include "http/cgi.h"

static const char *
cgi_param(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

static long
cgi_read(void *ctx, char *buf, size_t n)
{
	size_t got;

	(void)ctx;
	got = fread(buf, 1, n, stdin);
	if (got == 0 && ferror(stdin))
		return -1;
	return (long)got;
}

static int
cgi_write(void *ctx, const char *buf, size_t n)
{
	(void)ctx;
	return fwrite(buf, 1, n, stdout) == n ? 0 : -1;
}

static int
cgi_flush(void *ctx)
{
	(void)ctx;
	return fflush(stdout) == 0 ? 0 : -1;
}

int
cgi_serve(struct http_app *app)
{
	struct http_thread t = { app, db_open(app->cfg, DB_USE_REQUEST), -1 };
	struct http_io io = { NULL, cgi_param, cgi_read, cgi_write, cgi_flush, NULL };

	app->cgi = true;
	if (t.db == NULL) {
		fprintf(stderr, "aigw-fcgi: out of memory\n");
		return 1;
	}
	http_handle(&t, &io);
	fflush(stdout);
	db_free(t.db);
	return 0;
}
