/*
 * AWS Signature Version 4 for Bedrock's requests, with OpenSSL's SHA-256
 * and HMAC.  Debian 12's libcurl (7.88) signs with CURLOPT_AWS_SIGV4, but
 * it builds the canonical path from the path as sent, where AWS (for every
 * service but S3) encodes each segment once more: a model id with ':' sent
 * as %3A must be signed as %253A.  Measured against botocore's signer
 * (tests/integration/sigv4.t): libcurl 7.88.1 signs a plain path as
 * botocore does and a %3A path otherwise; this one matches botocore on both
 * (tests/unit/t_sigv4.c).  Only the headers that need signing are
 * signed (host, x-amz-date, x-amz-security-token, content-type), so a
 * header added later (a client's, curl's own) cannot break the signature.
 * Pure functions; run by workers.
 */
#ifndef TOLLGATE_PROVIDER_SIGV4_H
#define TOLLGATE_PROVIDER_SIGV4_H

#include <stddef.h>
#include <time.h>

#include <curl/curl.h>

struct sigv4_key {
	const char	*access_key;
	const char	*secret;
	const char	*session_token;	/* NULL: long-term credentials */
	const char	*region;	/* "us-east-1" */
	const char	*service;	/* "bedrock" */
};

/*
 * Appends to l the headers that sign a request of method to url (its path
 * and query already percent-encoded as they will be sent) with body (len
 * bytes) and content_type (or NULL), at time now: X-Amz-Date,
 * X-Amz-Security-Token (with a session token), Authorization.  Returns the
 * list, or NULL (out of memory, or a URL it cannot read) with l freed.
 */
struct curl_slist *sigv4_sign(struct curl_slist *l, const struct sigv4_key *k, const char *method,
    const char *url, const char *content_type, const void *body, size_t len, time_t now);

/* The Authorization header's value alone, into out (for tests); 0 or -1. */
int sigv4_authorization(const struct sigv4_key *k, const char *method, const char *url,
    const char *content_type, const void *body, size_t len, time_t now, char *out,
    size_t outlen);

/* Percent-encodes s into out as AWS does a path segment (unreserved kept); 0 or -1. */
int sigv4_encode(const char *s, size_t n, char *out, size_t outlen);

#endif
