/*
 * lib/tls.c: the server context from a certificate and key made here (a
 * throwaway P-256 self-signed one) and the errors for missing, foreign and
 * malformed files, with the config line they point at; then the reads and
 * writes on a non-blocking socket pair against an OpenSSL client: the
 * handshake through reads that wait, a megabyte written through a socket
 * that fills (waits for writability, partial writes, a retry from a moved
 * buffer), close_notify both ways, a peer that vanishes, and plain HTTP
 * sent to the TLS side.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config.h"
#include "tls.h"
#include "tap.h"

static char dir[64];

static const char *
path_of(const char *name)
{
	static char p[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

/* A self-signed certificate and its key as PEM files; 0, or -1. */
static int
make_cert(const char *cert, const char *key, const char *cn)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	FILE *f;
	int rc = -1;

	if (pk == NULL || x == NULL)
		goto out;
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, pk);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	if (X509_sign(x, pk, EVP_sha256()) == 0)
		goto out;
	if ((f = fopen(cert, "w")) == NULL)
		goto out;
	PEM_write_X509(f, x);
	fclose(f);
	if ((f = fopen(key, "w")) == NULL)
		goto out;
	PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pk);
	return rc;
}

static struct config_tollgate
settings(const char *cert, const char *key)
{
	struct config_tollgate t;

	memset(&t, 0, sizeof(t));
	t.tls_cert_file = (char *)cert;
	t.tls_key_file = (char *)key;
	t.tls_cert_at.file = "tollgate.yaml";
	t.tls_cert_at.line = 7;
	t.tls_key_at.file = "tollgate.yaml";
	t.tls_key_at.line = 8;
	t.tls_min_version = 2;
	return t;
}

/* Whether building a context fails with an error that begins with want and holds has. */
static void
refused(const char *cert, const char *key, const char *want, const char *has, const char *what)
{
	struct config_tollgate t = settings(cert, key);
	char err[1024] = "";
	SSL_CTX *ctx = tls_server_new(&t, err, sizeof(err));

	ok(ctx == NULL && strncmp(err, want, strlen(want)) == 0 && strstr(err, has) != NULL,
	    "%s: refused", what);
	if (ctx != NULL || strncmp(err, want, strlen(want)) != 0 || strstr(err, has) == NULL)
		diag("got: %s", err);
	SSL_CTX_free(ctx);
}

static void
test_context(void)
{
	struct config_tollgate t = settings(path_of("a.pem"), path_of("a.key"));
	char err[1024] = "", want[512];
	SSL_CTX *ctx;
	FILE *f;

	ctx = tls_server_new(&t, err, sizeof(err));
	ok(ctx != NULL, "a certificate and its key make a context");
	if (ctx == NULL)
		diag("%s", err);
	ok(ctx != NULL && SSL_CTX_get_min_proto_version(ctx) == TLS1_2_VERSION,
	    "TLS 1.2 is the oldest accepted by default");
	SSL_CTX_free(ctx);
	t.tls_min_version = 3;
	ctx = tls_server_new(&t, err, sizeof(err));
	ok(ctx != NULL && SSL_CTX_get_min_proto_version(ctx) == TLS1_3_VERSION,
	    "tls_min_version 3: TLS 1.3 only");
	SSL_CTX_free(ctx);

	snprintf(want, sizeof(want), "tollgate.yaml:8: tollgate.tls_key_file: cannot read '%s': ",
	    path_of("none.key"));
	refused(path_of("a.pem"), path_of("none.key"), want, "No such file or directory",
	    "a missing key file");
	snprintf(want, sizeof(want), "tollgate.yaml:7: tollgate.tls_cert_file: cannot read '%s': ",
	    path_of("none.pem"));
	refused(path_of("none.pem"), path_of("a.key"), want, "No such file", "a missing certificate");
	snprintf(want, sizeof(want), "tollgate.yaml:8: tollgate.tls_key_file: the key in '%s' does "
	    "not match the certificate in '%s'", path_of("b.key"), path_of("a.pem"));
	refused(path_of("a.pem"), path_of("b.key"), want, "", "another certificate's key");
	if ((f = fopen(path_of("junk.pem"), "w")) != NULL) {
		fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", f);
		fclose(f);
	}
	snprintf(want, sizeof(want), "tollgate.yaml:7: tollgate.tls_cert_file: no PEM certificate in "
	    "'%s'", path_of("junk.pem"));
	refused(path_of("junk.pem"), path_of("a.key"), want, "", "a malformed certificate");
	snprintf(want, sizeof(want), "tollgate.yaml:8: tollgate.tls_key_file: no PEM private key "
	    "(without a passphrase) in '%s'", path_of("a.pem"));
	refused(path_of("a.pem"), path_of("a.pem"), want, "", "a certificate given as the key");
	if (geteuid() != 0 && chmod(path_of("b.key"), 0) == 0) {
		snprintf(want, sizeof(want), "tollgate.yaml:8: tollgate.tls_key_file: cannot read '%s': ",
		    path_of("b.key"));
		refused(path_of("b.pem"), path_of("b.key"), want, "Permission denied",
		    "an unreadable key");
		chmod(path_of("b.key"), 0600);
	} else
		skip(1, "root reads any file");
}

/* ---- I/O ------------------------------------------------------------------------ */

struct pair {
	int		 sfd, cfd;
	SSL		*server, *client;
	SSL_CTX		*cctx;
};

/* small: socket buffers too small for a record, so that writes wait */
static int
pair_open(struct pair *p, SSL_CTX *sctx, int small)
{
	int fds[2];

	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0)
		return -1;
	p->sfd = fds[0];
	p->cfd = fds[1];
	fcntl(p->sfd, F_SETFL, O_NONBLOCK);
	fcntl(p->cfd, F_SETFL, O_NONBLOCK);
	if (small > 0) {
		setsockopt(p->sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		setsockopt(p->cfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	}
	p->server = tls_accept(sctx, p->sfd);
	p->cctx = SSL_CTX_new(TLS_client_method());
	p->client = SSL_new(p->cctx);
	SSL_set_fd(p->client, p->cfd);
	SSL_set_connect_state(p->client);
	SSL_set_alpn_protos(p->client, (const unsigned char *)"\x02h2\x08http/1.1", 12);
	return p->server != NULL && p->client != NULL ? 0 : -1;
}

static void
pair_close(struct pair *p)
{
	if (p->server != NULL)
		tls_close(p->server, 1);
	SSL_free(p->client);
	SSL_CTX_free(p->cctx);
	close(p->sfd);
	close(p->cfd);
}

/* Drives both sides until the server has read n bytes of the client's (written first). */
static enum tls_io
handshake_and_read(struct pair *p, const char *msg, char *got, size_t n, int *waited)
{
	size_t done = 0, have = 0;
	enum tls_io r = TLS_IO_WANT_READ;
	int sent = 0, i;

	for (i = 0; i < 1000 && have < n; i++) {
		if (!sent) {
			size_t w;

			if (SSL_write_ex(p->client, msg, n, &w) == 1)
				sent = 1;
		}
		r = tls_read(p->server, got + have, n - have, &done);
		if (r == TLS_IO_OK)
			have += done;
		else if (r == TLS_IO_WANT_READ)
			(*waited)++;
		else
			return r;
	}
	return have == n ? TLS_IO_OK : r;
}

static void
test_io(SSL_CTX *sctx)
{
	static char big[1 << 20], back[1 << 20];
	struct pair p;
	char got[64], buf[16];
	size_t done, sent = 0, recvd = 0, i;
	int waited = 0, wants_write = 0, moved = 0, rounds;
	enum tls_io r;

	if (pair_open(&p, sctx, 4096) < 0) {
		ok(0, "a socket pair with TLS on both ends");
		return;
	}
	r = tls_read(p.server, got, sizeof(got), &done);
	ok(r == TLS_IO_WANT_READ && done == 0, "before the client speaks, a read waits for readability");
	r = handshake_and_read(&p, "hello, tollgate", got, 15, &waited);
	ok(r == TLS_IO_OK && memcmp(got, "hello, tollgate", 15) == 0,
	    "the handshake happens in the reads, then the client's bytes arrive");
	ok(waited > 0, "the reads waited (for readability) along the way (%d times)", waited);
	{
		const unsigned char *proto = NULL;
		unsigned int len = 0;

		SSL_get0_alpn_selected(p.client, &proto, &len);
		ok(len == 8 && memcmp(proto, "http/1.1", 8) == 0,
		    "a client offering h2 and http/1.1 is given http/1.1");
	}

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 251);
	for (rounds = 0; rounds < 100000 && recvd < sizeof(big); rounds++) {
		if (sent < sizeof(big)) {
			const char *from = big + sent;

			if (wants_write && !moved) {
				/* the retry comes from elsewhere, as from a buffer that grew */
				memcpy(back, big + sent, sizeof(big) - sent);
				from = back;
				moved = 1;
			}
			r = tls_write(p.server, from, sizeof(big) - sent, &done);
			if (r == TLS_IO_OK)
				sent += done;
			else if (r == TLS_IO_WANT_WRITE)
				wants_write++;
			else
				break;
		}
		/* the client reads a little each round */
		if (SSL_read_ex(p.client, back + recvd, recvd + 4096 < sizeof(big) ? 4096 :
		    sizeof(big) - recvd, &done) == 1)
			recvd += done;
	}
	is_int((long long)sent, (long long)sizeof(big), "a megabyte is written through a small socket");
	ok(recvd == sizeof(big) && memcmp(back, big, sizeof(big)) == 0, "and arrives whole, in order");
	ok(wants_write > 0, "writes waited for writability (%d times)", wants_write);
	ok(moved, "a write retried from a moved buffer went on");

	SSL_shutdown(p.client);
	r = tls_read(p.server, buf, sizeof(buf), &done);
	ok(r == TLS_IO_EOF, "the client's close_notify: end of file");
	tls_close(p.server, 0);
	p.server = NULL;
	ok(SSL_read_ex(p.client, buf, sizeof(buf), &done) == 0 &&
	    SSL_get_error(p.client, 0) == SSL_ERROR_ZERO_RETURN,
	    "tls_close sends close_notify to the client");
	pair_close(&p);

	/* a client that goes without close_notify */
	if (pair_open(&p, sctx, 0) == 0) {
		waited = 0;
		handshake_and_read(&p, "x", got, 1, &waited);
		/* with room in the socket, a write returns after its first record */
		r = tls_write(p.server, big, 65536, &done);
		ok(r == TLS_IO_OK && done > 0 && done <= 16384,
		    "a 64 KiB write returns after one record: partial (%zu bytes)", done);
		while (SSL_read_ex(p.client, back, sizeof(back), &done) == 1)
			;
		/* the client read everything: closing over unread bytes would be a reset */
		close(p.cfd);
		p.cfd = -1;
		r = tls_read(p.server, buf, sizeof(buf), &done);
		ok(r == TLS_IO_EOF, "a client gone without close_notify: end of file (%d)", (int)r);
		pair_close(&p);
	}

	/* plain HTTP sent to the TLS side */
	if (pair_open(&p, sctx, 0) == 0) {
		const char req[] = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
		char why[256];

		if (write(p.cfd, req, sizeof(req) - 1) < 0)
			diag("write: %s", strerror(errno));
		r = tls_read(p.server, buf, sizeof(buf), &done);
		ok(r == TLS_IO_ERROR, "plain HTTP to the TLS side: an error, not a wait");
		tls_error(why, sizeof(why));
		ok(why[0] != '\0' && ERR_peek_error() == 0, "tls_error says why (%s) and clears", why);
		tls_close(p.server, 1);
		p.server = NULL;
		pair_close(&p);
	}
}

int
main(void)
{
	struct config_tollgate t;
	char err[512];
	SSL_CTX *ctx;

	snprintf(dir, sizeof(dir), "/tmp/t_tls.XXXXXX");
	if (mkdtemp(dir) == NULL || make_cert(path_of("a.pem"), path_of("a.key"), "a") < 0 ||
	    make_cert(path_of("b.pem"), path_of("b.key"), "b") < 0) {
		printf("Bail out! cannot make test certificates\n");
		return 1;
	}
	test_context();
	t = settings(path_of("a.pem"), path_of("a.key"));
	if ((ctx = tls_server_new(&t, err, sizeof(err))) != NULL) {
		test_io(ctx);
		SSL_CTX_free(ctx);
	}
	unlink(path_of("a.pem"));
	unlink(path_of("a.key"));
	unlink(path_of("b.pem"));
	unlink(path_of("b.key"));
	unlink(path_of("junk.pem"));
	rmdir(dir);
	return done_testing();
}
