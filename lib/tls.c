/*
 * TLS for the client listener (tls.h): the server context, built by the
 * master, and the non-blocking reads and writes the workers make with it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "config.h"
#include "tls.h"

static int tls_fail(char *err, size_t errlen, const struct config_at *at, const char *key,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* "file:line: tollgate.key: message: what OpenSSL said" into err; returns -1. */
static int
tls_fail(char *err, size_t errlen, const struct config_at *at, const char *key,
    const char *fmt, ...)
{
	char msg[512], why[256];
	unsigned long e = ERR_peek_last_error();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	why[0] = '\0';
	if (e != 0)
		ERR_error_string_n(e, why, sizeof(why));
	ERR_clear_error();
	if (at->file != NULL)
		snprintf(err, errlen, "%s:%d: tollgate.%s: %s%s%s", at->file, at->line, key, msg,
		    why[0] ? ": " : "", why);
	else
		snprintf(err, errlen, "tollgate.%s: %s%s%s", key, msg, why[0] ? ": " : "", why);
	return -1;
}

/* Whether path can be opened for reading; if not, the error names it. */
static int
readable(const char *path, const struct config_at *at, const char *key, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		ERR_clear_error();
		return tls_fail(err, errlen, at, key, "cannot read '%s': %s", path, strerror(errno));
	}
	fclose(f);
	return 0;
}

/* A key with a passphrase is refused, rather than asked for on a terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf, (void)size, (void)rwflag, (void)arg;
	return -1;
}

/* Clients that offer ALPN are told http/1.1, the only protocol served. */
static int
select_alpn(SSL *s, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
    unsigned int inlen, void *arg)
{
	static const unsigned char http11[] = "\x08http/1.1";
	unsigned char *chosen;

	(void)s, (void)arg;
	if (SSL_select_next_proto(&chosen, outlen, http11, sizeof(http11) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = chosen;
	return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *
tls_server_new(const struct config_tollgate *t, char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	BIO *in = NULL;
	SSL_CTX *ctx;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_fail(err, errlen, &t->tls_cert_at, "tls_cert_file", "cannot make a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, t->tls_min_version == 3 ? TLS1_3_VERSION :
	    TLS1_2_VERSION);
	/*
	 * No renegotiation (a client could make a write wait for a read at any
	 * time, and spend the server's CPU); a client that closes without
	 * close_notify is an end of file, as it is for plain HTTP.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	/*
	 * Writes return after each record (partial writes), may be retried
	 * from a buffer that grew and moved, and an idle connection gives its
	 * 34 KiB of record buffers back.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	    SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
	if (readable(t->tls_cert_file, &t->tls_cert_at, "tls_cert_file", err, errlen) < 0)
		goto fail;
	if (SSL_CTX_use_certificate_chain_file(ctx, t->tls_cert_file) != 1) {
		tls_fail(err, errlen, &t->tls_cert_at, "tls_cert_file",
		    "no PEM certificate in '%s'", t->tls_cert_file);
		goto fail;
	}
	if (readable(t->tls_key_file, &t->tls_key_at, "tls_key_file", err, errlen) < 0)
		goto fail;
	/* read apart from its use, so that a key that is not the certificate's says so */
	if ((in = BIO_new_file(t->tls_key_file, "r")) == NULL ||
	    (key = PEM_read_bio_PrivateKey(in, NULL, no_passphrase, NULL)) == NULL) {
		tls_fail(err, errlen, &t->tls_key_at, "tls_key_file",
		    "no PEM private key (without a passphrase) in '%s'", t->tls_key_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		tls_fail(err, errlen, &t->tls_key_at, "tls_key_file",
		    "the key in '%s' does not match the certificate in '%s'", t->tls_key_file,
		    t->tls_cert_file);
		goto fail;
	}
	EVP_PKEY_free(key);
	BIO_free(in);
	return ctx;
fail:
	EVP_PKEY_free(key);
	BIO_free(in);
	SSL_CTX_free(ctx);
	return NULL;
}

SSL *
tls_accept(SSL_CTX *ctx, int fd)
{
	SSL *s = SSL_new(ctx);

	if (s == NULL || SSL_set_fd(s, fd) != 1) {
		SSL_free(s);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_accept_state(s);
	return s;
}

/* What a failed SSL_read or SSL_write means; again: the call's own direction. */
static enum tls_io
io_result(SSL *s, int rc, enum tls_io again)
{
	switch (SSL_get_error(s, rc)) {
	case SSL_ERROR_WANT_READ:
		return TLS_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return TLS_IO_EOF;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return again;
		if (ERR_peek_error() == 0 && errno == 0)
			return TLS_IO_EOF;
		return TLS_IO_ERROR;
	default:
		return TLS_IO_ERROR;
	}
}

/* Clears what earlier calls left, so that SSL_get_error() reads this call's outcome. */
static void
io_begin(size_t *done)
{
	*done = 0;
	ERR_clear_error();
	errno = 0;
}

enum tls_io
tls_read(SSL *s, void *buf, size_t len, size_t *done)
{
	int rc;

	io_begin(done);
	rc = SSL_read_ex(s, buf, len, done);
	return rc == 1 ? TLS_IO_OK : io_result(s, rc, TLS_IO_WANT_READ);
}

enum tls_io
tls_write(SSL *s, const void *buf, size_t len, size_t *done)
{
	int rc;

	io_begin(done);
	rc = SSL_write_ex(s, buf, len, done);
	return rc == 1 ? TLS_IO_OK : io_result(s, rc, TLS_IO_WANT_WRITE);
}

const char *
tls_error(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e != 0)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "%s", errno ? strerror(errno) : "connection closed");
	ERR_clear_error();
	return buf;
}

void
tls_close(SSL *s, int broken)
{
	if (s == NULL)
		return;
	/* close_notify, if the socket takes it now; the client's answer is not awaited */
	if (!broken && SSL_is_init_finished(s))
		SSL_shutdown(s);
	SSL_free(s);
	ERR_clear_error();
}
