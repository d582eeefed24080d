/*
 * The Bedrock Converse side of the translation hub (lib/provider/converse.c),
 * upstream only: chat requests to Converse bodies, Converse answers and
 * ConverseStream events back to chat, driven by the golden files of tests/data/xlate/converse/ (the
 * runner and their form: xlate_golden.h), and malformed input through every
 * function Converse has.
 */
#define GOLDEN_DIR	"converse"
#define GOLDEN_INCLUDE_USAGE	1
#define F	(&xlate_converse)

#include "xlate_golden.h"

static const struct gcase cases[] = {
	{ "c2b_basic", REQ_FROM_CHAT, 0, 0, 0, 0 },
	{ "c2b_tools", REQ_FROM_CHAT, 0, 0, 0, 0 },
	{ "c2b_image_url", REQ_FROM_CHAT, 0, 0, 0, 0 },
	{ "c2b_none", REQ_FROM_CHAT, 0, 0, 0, 0 },
	{ "b2c_text", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "b2c_tool_use", RESP_TO_CHAT, 0, 0, 0, 0 },
	{ "b2c_max_tokens", RESP_TO_CHAT, 0, 0, 0, 0 },
	/* ConverseStream's events, named as the eventstream framing names them */
	{ "dec_text", DECODE, 0, 0, 0, 0 },
	{ "dec_tools", DECODE, 0, 0, 0, 0 },
	{ "dec_exception", DECODE, 0, 0, 0, 0 },
};

static const char *const garbage[] = {
	"1", "[]", "{}", "null", "{\"messages\":7}", "{\"messages\":[1,{\"role\":3},{\"role\":\"tool\"}]}",
	"{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[1,{\"id\":\"x\",\"function\":"
	    "{\"name\":\"f\",\"arguments\":\"[\"}}]}]}",
	"{\"messages\":[],\"tools\":[{\"type\":\"function\"}],\"tool_choice\":{\"function\":7},\"stop\":[2]}",
	"{\"output\":7}", "{\"output\":{\"message\":{\"content\":[1,{\"toolUse\":7},{\"toolUse\":"
	    "{\"toolUseId\":1}},{\"text\":[]}]}},\"usage\":[]}",
};

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		golden(&cases[i]);
	golden_malformed_trees(garbage, sizeof(garbage) / sizeof(garbage[0]));
	ok(F->request_to_chat == NULL && F->encoder_new == NULL, "no client side");
	return done_testing();
}
