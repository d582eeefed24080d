/*
 * SigV4 (lib/provider/sigv4.c) against signatures that botocore 1.29
 * (Debian's python3-botocore, botocore.auth.SigV4Auth) computed for the same
 * requests at the same time: Bedrock's paths with a model id's ':' and an
 * ARN's '/' sent encoded (signed encoded twice), a session token, a body
 * with its content type, an explicit port, a query sorted.  Long-term key
 * AWS's documentation example (AKIDEXAMPLE).
 */
#include <string.h>

#include "provider/sigv4.h"
#include "tap.h"

#define NOW	((time_t)1796600000)	/* 20261206T233320Z */

static const struct {
	const char	*method, *url, *type, *body, *token, *region, *sig, *signed_headers;
} v[] = {
	{ "POST", "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
	  "anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse", "application/json",
	  "{\"messages\":[]}", NULL, "us-east-1",
	  "7354421ccc9b2520d45a2ce74227edacc810688e7cbaf3cc09029118e65bce03",
	  "content-type;host;x-amz-date" },
	{ "POST", "https://bedrock-runtime.eu-west-3.amazonaws.com/model/"
	  "eu.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream", "application/json",
	  "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}]}",
	  "FwoGZXIvYXdzEBYaDH+token/x=", "eu-west-3",
	  "7154269118cd4a914c6e50b6e69e38efc2d90446814848281670259f72fc70b1",
	  "content-type;host;x-amz-date;x-amz-security-token" },
	{ "POST", "http://127.0.0.1:4123/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3A"
	  "inference-profile%2Fus.meta.llama3/invoke", NULL, "", NULL, "us-east-1",
	  "af049b15bd25d260b14345f0dfe881985df433f7815aa288a2ba09ea8e61b807", "host;x-amz-date" },
	{ "GET", "https://bedrock.us-east-1.amazonaws.com/foundation-models?byProvider=anthropic&"
	  "byOutputModality=TEXT", NULL, "", NULL, "us-east-1",
	  "7c8265707d3a9d6e61d6df2c436be129cfc012260df6453e031b7773b9a2cef7", "host;x-amz-date" },
};

int
main(void)
{
	char auth[1024], want[1024], enc[64];
	struct curl_slist *l, *h;
	size_t i;
	int n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct sigv4_key k = { "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
			v[i].token, v[i].region, "bedrock" };

		snprintf(want, sizeof(want), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261206/%s/"
		    "bedrock/aws4_request, SignedHeaders=%s, Signature=%s", v[i].region,
		    v[i].signed_headers, v[i].sig);
		ok(sigv4_authorization(&k, v[i].method, v[i].url, v[i].type, v[i].body,
		    strlen(v[i].body), NOW, auth, sizeof(auth)) == 0, "vector %zu signs", i);
		is_str(auth, want, "vector %zu: botocore's signature", i);
	}
	{
		struct sigv4_key k = { "AKID", "secret", "tok", "us-east-1", "bedrock" };

		l = sigv4_sign(curl_slist_append(NULL, "Content-Type: application/json"), &k, "POST",
		    "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse",
		    "application/json", "{}", 2, NOW);
		for (n = 0, h = l; h != NULL; h = h->next, n++)
			;
		ok(l && n == 4 && strcmp(l->next->data, "X-Amz-Date: 20261206T233320Z") == 0 &&
		    strcmp(l->next->next->data, "X-Amz-Security-Token: tok") == 0 &&
		    strncmp(l->next->next->next->data, "Authorization: AWS4-HMAC-SHA256 Credential=AKID/",
		    48) == 0, "sigv4_sign appends X-Amz-Date, the token and Authorization");
		curl_slist_free_all(l);
		ok(sigv4_sign(NULL, &k, "POST", "ftp://x/y", NULL, "", 0, NOW) == NULL,
		    "a URL that is not http(s): NULL");
	}
	ok(sigv4_encode("a:b/c d~", 8, enc, sizeof(enc)) == 0 && strcmp(enc, "a%3Ab%2Fc%20d~") == 0,
	    "encode: %s", enc);
	ok(sigv4_encode("abcdef", 6, enc, 4) < 0, "encode: a buffer too small is -1");
	return done_testing();
}
