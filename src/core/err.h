/*
 * err.h: the one error code of libaigw.
 *
 * Every fallible library function returns an enum aigw_err (AIGW_OK is 0).
 * aigw_strerror() cannot fail and returns a static string. The mapping of
 * these codes to HTTP statuses lives in http/http.c only.
 */
#ifndef AIGW_CORE_ERR_H
#define AIGW_CORE_ERR_H

#define AIGW_MUSTCHECK __attribute__((warn_unused_result))

enum aigw_err {
	AIGW_OK = 0,
	AIGW_ENOMEM,    /* an allocation failed */
	AIGW_EINVAL,    /* an input failed validation */
	AIGW_ETOOBIG,   /* an input or buffer passed its ceiling */
	AIGW_ENOTFOUND, /* no such row, file or name */
	AIGW_EDB,       /* the database could not be reached or refused */
	AIGW_EIO,       /* a system call failed */
	AIGW_ECONFIG,   /* configuration is invalid */
	AIGW_ECONFLICT, /* the row changed under us (fenced write lost) */
	AIGW_E__MAX
};

const char *aigw_strerror(enum aigw_err err);

#endif
