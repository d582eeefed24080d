/*
 * TLS on the client listener, with OpenSSL.  The master builds the server
 * context from tollgate.tls_cert_file and tls_key_file (at start, on SIGHUP
 * and for -t), so that a bad file is an error of the config's load and never
 * of a worker's; the workers inherit the context across fork and make one
 * SSL per connection from it.  The reads and writes below wrap SSL_read and
 * SSL_write on a non-blocking socket and say which way a connection must wait.
 */
#ifndef TOLLGATE_TLS_H
#define TOLLGATE_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

struct config_tollgate;

/*
 * A server context for t's certificate and key, or NULL with the reason in
 * err, "file:line: tollgate.tls_key_file: ...", naming the line of the key
 * whose file is missing, unreadable, not PEM, or (the key) not the
 * certificate's.  The caller owns it (SSL_CTX_free()).
 */
SSL_CTX *tls_server_new(const struct config_tollgate *t, char *err, size_t errlen);

/* A new server-side connection on fd, buffers released while idle; NULL: out of memory. */
SSL *tls_accept(SSL_CTX *ctx, int fd);

enum tls_io {
	TLS_IO_OK,		/* *done bytes were read or written */
	TLS_IO_WANT_READ,	/* try again once the socket is readable... */
	TLS_IO_WANT_WRITE,	/* ...or writable, whichever the call was */
	TLS_IO_EOF,		/* the peer closed (with close_notify or without) */
	TLS_IO_ERROR		/* broken: a handshake that failed, a bad record, a reset */
};

/*
 * SSL_read / SSL_write of up to len bytes (len > 0).  A write that wanted
 * to wait must be repeated with at least the bytes it had (they may have
 * moved); it may return having written only part of them.  After
 * TLS_IO_ERROR, tls_error() tells why.
 */
enum tls_io tls_read(SSL *s, void *buf, size_t len, size_t *done);
enum tls_io tls_write(SSL *s, const void *buf, size_t len, size_t *done);

/* Why the last call failed, into buf; the thread's OpenSSL errors are cleared. */
const char *tls_error(char *buf, size_t len);

/* Sends close_notify unless broken (once, without waiting), and frees s. */
void tls_close(SSL *s, int broken);

#endif
