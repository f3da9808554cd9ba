/*
 * cgi.h: aigw-fcgi as a plain CGI program, one request per process.
 *
 * Owns the CGI transport: the parameters are the environment, the body is
 * stdin, the response goes to stdout. The request gets a database
 * connection of its own, closed when it is answered. Fails (exit status 1,
 * a line on stderr) only when that connection cannot even be allocated;
 * everything else is answered as http_handle() answers it.
 */
#ifndef AIGW_HTTP_CGI_H
#define AIGW_HTTP_CGI_H

#include "http/server.h"

/* Answers the one request of this process; sets app->cgi. The exit
 * status: 0, or 1 out of memory. */
int cgi_serve(struct http_app *app);

#endif
