/*
 * Which counters a request counts against: the key's always (first), its
 * model budget for the model asked for, each configured budget whose user,
 * team, customer, tag or the gateway matches (a tag once however often it
 * is listed), then the key's rate limits; nothing for what does not match.
 */
#include "config.h"
#include "limitset.h"
#include "tap.h"

static int
has(const struct budget_limit *l, size_t n, const char *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(l[i].id, id) == 0)
			return 1;
	return 0;
}

int
main(void)
{
	struct config_budget b[6];
	struct config_tollgate tg;
	struct budget_limit l[BUDGET_HOLD_MAX];
	struct limitset_entry what[BUDGET_HOLD_MAX];
	struct limitset_key k;
	struct limitset_who who = { "key:0123456789abcdef", "alice", "research", "acme", "batch,x,batch",
	    "gpt-4o" };
	size_t n;
	int i;

	memset(&tg, 0, sizeof(tg));
	memset(b, 0, sizeof(b));
	b[0].scope = CONFIG_BUDGET_GLOBAL;
	b[1].scope = CONFIG_BUDGET_USER;
	b[1].name = "alice";
	b[2].scope = CONFIG_BUDGET_TEAM;
	b[2].name = "research";
	b[3].scope = CONFIG_BUDGET_CUSTOMER;
	b[3].name = "acme";
	b[4].scope = CONFIG_BUDGET_TAG;
	b[4].name = "batch";
	b[5].scope = CONFIG_BUDGET_TEAM;
	b[5].name = "other";
	for (i = 0; i < 6; i++) {
		b[i].max_budget = 1000 + i;
		b[i].soft_budget = BUDGET_NONE;
		b[i].has_window = i == 2;
		b[i].window = (struct window){ WINDOW_MONTHS, 1 };
		limitset_budget_id(&b[i], b[i].counter, sizeof(b[i].counter));	/* as the loader does */
	}
	tg.budgets = b;
	tg.nbudgets = 6;

	n = limitset_for(&tg, &who, NULL, l, what, BUDGET_HOLD_MAX);
	is_int((long long)n, 6, "a key without limits: its counter and five matching budgets");
	ok(strcmp(l[0].id, "k|key:0123456789abcdef") == 0 && what[0].kind == LIMIT_KEY &&
	    l[0].max == BUDGET_NONE, "the key's counter first, with no limit");
	ok(has(l, n, "*") && has(l, n, "u|alice") && has(l, n, "t|research|1mo") &&
	    has(l, n, "c|acme") && has(l, n, "g|batch"),
	    "gateway, user, team, customer and tag budgets apply (a window names its counter)");
	ok(!has(l, n, "t|other"), "another team's does not");
	for (i = 0; i < (int)n; i++)
		if (strcmp(l[i].id, "t|research|1mo") == 0)
			ok(l[i].has_window && l[i].window.unit == WINDOW_MONTHS && l[i].max == 1002,
			    "the team budget keeps its limit and window");

	memset(&k, 0, sizeof(k));
	k.max_budget = 5;
	k.soft_budget = 4;
	k.has_window = 1;
	k.window = (struct window){ WINDOW_DAYS, 1 };
	k.rpm = 10;
	k.tpm = 1000;
	k.model_budget = 2;
	n = limitset_for(&tg, &who, &k, l, what, BUDGET_HOLD_MAX);
	is_int((long long)n, 9, "a key with limits: key, model, five budgets, rpm, tpm");
	ok(strcmp(l[0].id, "k|key:0123456789abcdef|1d") == 0 && l[0].max == 5 && l[0].has_window &&
	    what[0].soft == 4, "the key's max, window and soft budget");
	ok(strcmp(l[1].id, "km|key:0123456789abcdef|gpt-4o") == 0 && l[1].max == 2 &&
	    what[1].kind == LIMIT_KEY_MODEL, "its budget for the model asked for");
	ok(strcmp(l[2].id, "rpm|key:0123456789abcdef") == 0 && what[2].kind == LIMIT_RPM &&
	    l[2].window.unit == WINDOW_SECONDS && l[2].window.n == 60, "rpm per minute, before budgets");
	ok(strcmp(l[3].id, "tpm|key:0123456789abcdef") == 0 && l[3].max == 1000, "tpm");

	who.model = NULL;
	who.user = who.team = who.customer = who.tags = "";
	n = limitset_for(&tg, &who, &k, l, what, BUDGET_HOLD_MAX);
	is_int((long long)n, 4, "no model, user, team, customer or tags: key, gateway, rpm, tpm");
	n = limitset_for(&tg, &who, &k, l, what, 2);
	is_int((long long)n, 3, "more than there is room for: max + 1, never one dropped quietly");
	is_str(limitset_kind_name(LIMIT_KEY_MODEL), "model", "kind names");

	/* tollctl status reads the counters back: every id names its kind and whom */
	who.user = "alice";
	who.team = "research";
	who.customer = "acme";
	who.tags = "batch";
	who.model = "gpt-4o";
	n = limitset_for(&tg, &who, &k, l, what, BUDGET_HOLD_MAX);
	for (i = 0; i < (int)n; i++) {
		static const char *const whom[] = {
			[LIMIT_KEY] = "key:0123456789abcdef", [LIMIT_KEY_MODEL] = "key:0123456789abcdef|gpt-4o",
			[LIMIT_GLOBAL] = "", [LIMIT_USER] = "alice", [LIMIT_TEAM] = "research",
			[LIMIT_CUSTOMER] = "acme", [LIMIT_TAG] = "batch",
			[LIMIT_RPM] = "key:0123456789abcdef", [LIMIT_TPM] = "key:0123456789abcdef",
		};
		enum limit_kind kind;
		char name[BUDGET_ID_MAX];

		ok(limitset_describe(l[i].id, l[i].has_window, &l[i].window, &kind, name,
		    sizeof(name)) == 0 && kind == what[i].kind && strcmp(name, whom[kind]) == 0,
		    "'%s' reads back as %s '%s' (got '%s')", l[i].id, limitset_kind_name(what[i].kind),
		    whom[what[i].kind], name);
	}
	{
		static const struct {
			int		has_window;
			struct window	w;
			const char	*text;
		} texts[] = {
			{ 1, { WINDOW_DAYS, 1 }, "1d" }, { 1, { WINDOW_MONTHS, 1 }, "1mo" },
			{ 1, { WINDOW_SECONDS, 3600 }, "1h" }, { 1, { WINDOW_SECONDS, 900 }, "15m" },
			{ 1, { WINDOW_SECONDS, 30 }, "30s" }, { 0, { WINDOW_SECONDS, 30 }, "" },
		};
		struct window d1 = { WINDOW_DAYS, 1 }, mo = { WINDOW_MONTHS, 1 };
		enum limit_kind kind;
		char name[BUDGET_ID_MAX], text[16];
		size_t j;

		ok(limitset_describe("t|research|1d", 1, &mo, &kind, name, sizeof(name)) < 0,
		    "an id whose suffix is not its window is no counter name");
		ok(limitset_describe("x|what", 0, NULL, &kind, name, sizeof(name)) < 0,
		    "nor one of no known kind");
		ok(limitset_describe("t|a|b|1d", 1, &d1, &kind, name, sizeof(name)) == 0 &&
		    strcmp(name, "a|b") == 0, "a name may hold the separator");
		for (j = 0; j < sizeof(texts) / sizeof(texts[0]); j++) {
			limitset_window_text(texts[j].has_window, &texts[j].w, text, sizeof(text));
			is_str(text, texts[j].text, "window text '%s'", texts[j].text);
		}
	}
	return done_testing();
}
