/*
 * Google service accounts, for Vertex AI: the key file read once (by the
 * master, at load), the signed JWT that asks Google's token endpoint for an
 * access token, and the endpoint's answer read.  The worker makes the
 * exchange itself, through its own curl multi (worker_token.c): nothing here
 * does I/O but reading the key file.
 *
 * The private key is held as an EVP_PKEY and never written anywhere: no
 * message of this module quotes the file's contents.
 */
#ifndef TOLLGATE_PROVIDER_GAUTH_H
#define TOLLGATE_PROVIDER_GAUTH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

#define GAUTH_SCOPE	"https://www.googleapis.com/auth/cloud-platform"
#define GAUTH_TOKEN_URI	"https://oauth2.googleapis.com/token"
#define GAUTH_TOKEN_MAX	4096	/* an access token longer than this is refused */

struct gauth_account {
	char	*email;		/* client_email: the JWT's issuer */
	char	*key_id;	/* private_key_id: the JWT's kid, or NULL */
	char	*token_uri;	/* where assertions are exchanged */
	char	*project_id;	/* the key's project, the default vertex_project */
	void	*key;		/* EVP_PKEY *, RSA */
};

/*
 * Reads a service-account key: text is the JSON itself (it starts with '{')
 * or the path of a file holding it.  0, or -1 with why in err (naming the
 * file or the field, never quoting the key).
 */
int gauth_load(const char *text, struct gauth_account *a, char *err, size_t errlen);
void gauth_release(struct gauth_account *a);
/* Whether a and b are the same identity (email, key id, token endpoint). */
int gauth_same(const struct gauth_account *a, const struct gauth_account *b);

/*
 * The form body that exchanges a fresh JWT, issued at now and valid for an
 * hour, for an access token: "grant_type=...&assertion=HEADER.CLAIMS.SIG".
 * 0, or -1 (out of memory, or the key would not sign).
 */
int gauth_exchange_body(const struct gauth_account *a, time_t now, struct buf *out);

/*
 * Reads the token endpoint's answer (HTTP status, body): 0 with the token
 * and its lifetime in seconds, or -1 with why in err (Google's own error
 * and description when it gave them).
 */
int gauth_parse_token(long status, const char *body, size_t len, char *token, size_t toklen,
    int64_t *expires_in, char *err, size_t errlen);

#endif
