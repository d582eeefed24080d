/*
 * The gateway configuration: a LiteLLM proxy config.yaml, loaded unchanged
 * (anchors, merge keys, include:, os.environ/NAME references, YAML 1.1
 * scalars), plus tollgate's own settings under the top-level `tollgate:` key.
 * Loaded by the master at start and on SIGHUP (into a fresh struct config: a
 * reload never touches the live one), and by `tollgated -t`.
 *
 * Every string below is owned by the struct config and freed by config_free().
 */
#ifndef TOLLGATE_CONFIG_H
#define TOLLGATE_CONFIG_H

/* tollgate.run_dir's default, which tollctl status reads too. */
#ifndef TOLLGATE_RUN_DIR
#define TOLLGATE_RUN_DIR	"/run/tollgate"
#endif

#include <stddef.h>
#include <stdint.h>

#include "window.h"

/* A "key: value" pair kept as text, with where it was written. */
struct config_kv {
	char		*key;
	char		*value;		/* scalar text, environment already substituted */
	const char	*file;		/* points into struct config's file list */
	int		 line;
};

/* One model_list entry: a deployment of a public model name. */
struct config_deployment {
	char		*model_name;	/* what clients ask for */
	char		*provider;	/* litellm_params.model before the first '/': "openai",
					   "azure", "anthropic", ...; "openai" when there is none */
	char		*model;		/* litellm_params.model after the provider prefix */
	char		*api_base;	/* NULL: the provider's default */
	char		*api_key;	/* the secret itself (os.environ resolved), or NULL */
	char		*api_version;	/* Azure's api-version, or NULL */
	/* AWS (bedrock/): litellm_params.aws_*; NULL: the AWS_* variables */
	char		*aws_access_key_id, *aws_secret_access_key, *aws_session_token, *aws_region_name;
	/* Google (vertex_ai/): litellm_params.vertex_*; NULL: the VERTEXAI_* variables, the key's */
	char		*vertex_project, *vertex_location;
	char		*vertex_credentials;	/* a key file's path, or its JSON text */
	int64_t		 timeout_ms;	/* litellm_params.timeout (seconds, decimal), 0: default */
	int64_t		 rpm, tpm;	/* litellm_params.rpm / tpm: per minute, all workers; 0: none */
	struct config_kv *headers;	/* litellm_params.extra_headers / headers */
	size_t		 nheaders;
	char		*base_model;	/* model_info.base_model, or NULL */
	char		*mode;		/* model_info.mode ("chat", "responses", ...), or NULL */
	/* Price fields found in model_info (or litellm_params): LiteLLM field names
	   such as input_cost_per_token, as decimal text; they override the price map. */
	struct config_kv *prices;
	size_t		 nprices;
	int		 drop_params;	/* litellm_params.drop_params; -1: litellm_settings' */
	char		*credential;	/* litellm_params.litellm_credential_name, or NULL */
	/* routing (lib/router.h) */
	int64_t		 weight;	/* litellm_params.weight (simple-shuffle), 0: none */
	int		 order;		/* litellm_params.order: lower first; 0: none (after all) */
	char		*model_id;	/* model_info.id (x-litellm-model-id), or NULL */
	const char	*file;
	int		 line;
};

/* One credential_list entry: what deployments naming it take where they say nothing. */
struct config_credential {
	char		*name;		/* credential_name */
	char		*api_key, *api_base, *api_version;	/* NULL: not given */
	const char	*file;
	int		 line;
};

/* router_settings.routing_strategy */
enum config_strategy {
	CONFIG_ROUTE_SHUFFLE,		/* simple-shuffle [default] */
	CONFIG_ROUTE_LEAST_BUSY,	/* least-busy */
	CONFIG_ROUTE_LATENCY,		/* latency-based-routing */
	CONFIG_ROUTE_USAGE,		/* usage-based-routing, usage-based-routing-v2 */
	CONFIG_ROUTE_COST,		/* cost-based-routing */
};

/*
 * What a failed attempt was, for retry_policy, allowed_fails and the
 * fallback lists.  retry_policy's LiteLLM names in brackets.
 */
enum config_failure {
	CONFIG_FAIL_TIMEOUT,		/* [TimeoutErrorRetries] no answer in time, 408 */
	CONFIG_FAIL_RATE_LIMIT,		/* [RateLimitErrorRetries] 429 */
	CONFIG_FAIL_SERVER,		/* [InternalServerErrorRetries] 5xx, refused, reset */
	CONFIG_FAIL_CONTENT_POLICY,	/* [ContentPolicyViolationErrorRetries] */
	CONFIG_FAIL_AUTH,		/* [AuthenticationErrorRetries] 401, 403 */
	CONFIG_FAIL_BAD_REQUEST,	/* [BadRequestErrorRetries] other 4xx */
	CONFIG_FAIL_CONTEXT_WINDOW,	/* (no policy key: never retried, only fallen back) */
	CONFIG_FAIL_NOT_FOUND,		/* (404: the next deployment, never the same) */
	CONFIG_FAIL_COUNT
};

/* One entry of a fallbacks list: {model: [to, ...]} (LiteLLM's list of one-key maps). */
struct config_fallback {
	char		*model;		/* the model group, or "*" for every one */
	char		**to;		/* model groups, in the order to try */
	size_t		 nto;
	const char	*file;
	int		 line;
};

/*
 * router_settings (LiteLLM's router), with litellm_settings' num_retries,
 * fallbacks, context_window_fallbacks, content_policy_fallbacks and
 * default_fallbacks where router_settings does not say.  Defaults in
 * brackets are LiteLLM's.
 */
struct config_router {
	enum config_strategy	 strategy;		/* [simple-shuffle] */
	int			 num_retries;		/* [2] */
	/* retry_policy: retries per failure class, -1: num_retries's rule */
	int			 retry_policy[CONFIG_FAIL_COUNT];
	int64_t			 retry_after_ms;	/* retry_after: least wait before a retry [0] */
	int			 allowed_fails;		/* failures in a minute before a cooldown [3] */
	int64_t			 cooldown_ms;		/* cooldown_time [5 s] */
	int			 disable_cooldowns;	/* [false] */
	int			 pre_call_checks;	/* enable_pre_call_checks [false] */
	int			 max_fallbacks;		/* [5] */
	/* general_settings.enforce_fallback_model_access: a router fallback to a
	 * model the key may not use is skipped [false] */
	int			 fallback_access;
	/* routing_strategy_args.lowest_latency_buffer, in thousandths [0] */
	int			 latency_buffer_milli;
	struct config_fallback	*fallbacks;		/* fallbacks */
	size_t			 nfallbacks;
	struct config_fallback	*context_fallbacks;	/* context_window_fallbacks */
	size_t			 ncontext_fallbacks;
	struct config_fallback	*policy_fallbacks;	/* content_policy_fallbacks */
	size_t			 npolicy_fallbacks;
	char			**default_fallbacks;	/* default_fallbacks: for any model */
	size_t			 ndefault_fallbacks;
};

/* Who a configured budget limits. */
enum config_budget_scope {
	CONFIG_BUDGET_GLOBAL, CONFIG_BUDGET_USER, CONFIG_BUDGET_TEAM, CONFIG_BUDGET_CUSTOMER,
	CONFIG_BUDGET_TAG
};

#define CONFIG_COUNTER_MAX	120	/* BUDGET_ID_MAX of lib/budget.h */

/* One tollgate.budgets entry. */
struct config_budget {
	enum config_budget_scope scope;
	char		*name;		/* the user, team, customer or tag; NULL for global */
	int64_t		 max_budget;	/* picodollars; INT64_MAX: none (alerts on soft only) */
	int64_t		 soft_budget;	/* picodollars; INT64_MAX: none */
	int		 has_window;	/* 0: never resets */
	struct window	 window;
	char		 duration[WINDOW_TEXT_MAX];
	char		 counter[CONFIG_COUNTER_MAX];	/* its counter's name (lib/limitset.h) */
	const char	*file;
	int		 line;
};

/* One tollgate.alerts.channels entry. */
enum config_channel_type { CONFIG_CHANNEL_SLACK, CONFIG_CHANNEL_WEBHOOK, CONFIG_CHANNEL_EMAIL };

struct config_channel {
	enum config_channel_type type;
	char		*url;		/* http(s):// for webhooks, smtp(s):// for email */
	char		*from;		/* email only */
	char		**to;		/* email only */
	size_t		 nto;
	const char	*file;
	int		 line;
};

#define CONFIG_THRESHOLDS_MAX	8

/* Where a setting was written (file NULL: its default), for what is found wrong later. */
struct config_at {
	const char	*file;		/* points into struct config's file list */
	int		 line;
};

/* tollgate: section.  Defaults in brackets. */
struct config_tollgate {
	char		*listen;		/* "127.0.0.1" */
	int		 port;			/* 4000 */
	int		 workers;		/* 0 = auto (number of CPUs) [auto] */
	char		*ledger_path;		/* directory of the LMDB ledger ["/var/lib/tollgate/ledger"] */
	int64_t		 ledger_map_size;	/* bytes [1 GiB] */
	int64_t		 ledger_sync_interval_ms; /* [1000] */
	char		*run_dir;		/* shared-memory files, pid [CONFIG_RUN_DIR] */
	char		**price_files;		/* in order, later wins ["/etc/tollgate/prices.yaml"] */
	size_t		 nprice_files;
	int		 price_files_named;	/* 0: the config names none, pricefile_default() */
	int64_t		 max_body_bytes;	/* request body limit [10 MiB] */
	int64_t		 upstream_connect_timeout_ms; /* [10000] */
	int64_t		 upstream_timeout_ms;	/* whole upstream request, unless a deployment says [600000] */
	int64_t		 client_timeout_ms;	/* reading a client's request [60000] */
	int64_t		 shutdown_timeout_ms;	/* drain on SIGTERM [30000] */
	char		**keys;			/* client keys accepted besides the master key */
	size_t		 nkeys;
	char		*log_file;		/* NULL: stderr */
	char		*access_log;		/* JSON lines, "-": stderr; NULL: none */
	char		*user;			/* started as root: run as this user; NULL: stay */
	int		 metrics_auth;		/* /metrics takes the master key [false] */
	char		*metrics_listen;	/* the /metrics listener's address; NULL: listen's */
	int		 metrics_port;		/* ...and port; 0: /metrics is on the main listener */
	char		*tls_cert_file;		/* PEM certificate chain; NULL: plain HTTP */
	struct config_at tls_cert_at;
	char		*tls_key_file;		/* its PEM private key (set with tls_cert_file) */
	struct config_at tls_key_at;
	int		 tls_min_version;	/* the oldest TLS 1.x accepted: 2 or 3 [2] */
	char		*export_dir;		/* day aggregates as CSV and JSON Lines; NULL: none */
	int64_t		 export_interval_ms;	/* how often they are written [60000] */
	char		*export_url;		/* and POSTed as JSON here; NULL: not */
	int64_t		 ledger_retention_ms;	/* raw records kept, 0: for ever [90 days] */
	struct config_budget *budgets;		/* user, team, customer, tag and global budgets */
	size_t		 nbudgets;
	char		*budget_timezone;	/* budget windows' calendar ["UTC"] */
	int64_t		 default_max_tokens;	/* reserved when a request states no maximum [4096] */
	/* provider_cost: what a cost the provider reports does [compare] */
	int		 provider_cost_prefer;	/* 0: compare with it, 1: bill it */
	/* cost_mismatch_threshold, in millionths of the computed cost [1%: 10000] */
	int64_t		 cost_mismatch_ppm;
	struct config_channel *alerts_channels;	/* where alerts go; none: only the log */
	size_t		 nalerts_channels;
	int64_t		 alerts_thresholds[CONFIG_THRESHOLDS_MAX]; /* percent of a max_budget [50, 80, 100] */
	size_t		 nalerts_thresholds;
	int		 alerts_daily_summary;	/* a summary of yesterday's spend [true] */
	/* cost_mismatch alerts: one per model per window of this length [1h] */
	int64_t		 alerts_cost_mismatch_window_ms;
	char		*ui_dir;		/* the dashboard's files, served at /ui [TOLLGATE_UI_DIR] */
	char		*ui_chartjs;		/* Chart.js (UMD build), served as /ui/chart.js */
	char		*host_id;		/* this host in records and the fleet; NULL: the hostname */
	/* the fleet ledger: records shipped to PostgreSQL (libpq's keyword=value or URI
	   form), or general_settings.database_url; NULL: none */
	char		*postgres_dsn;
	struct config_at postgres_at;
	/* budgets and limits shared through Redis: redis://... (router_settings' redis_host,
	   redis_port, redis_password when it is not set); NULL: this host's own counters */
	char		*redis_url;
	struct config_at redis_at;
	int		 redis_fail_open;	/* Redis unreachable: local counters [false: 503] */
};

struct config {
	struct config_tollgate	 tollgate;
	struct config_deployment *deployments;	/* model_list, in file order (includes appended) */
	size_t			 ndeployments;
	char			*master_key;	/* general_settings.master_key (or litellm_settings'), or NULL */
	char			*database_url;	/* general_settings.database_url (tollgate.postgres_dsn
						   when that is not set), or NULL */
	struct config_at	 database_at;
	struct config_credential *credentials;	/* credential_list, resolved into the deployments */
	size_t			 ncredentials;
	int			 drop_params;	/* litellm_settings.drop_params [false] */
	struct config_router	 router;	/* router_settings */
	char			**files;	/* the config file and every included file */
	size_t			 nfiles;
	char			*warnings;	/* "file:line: ..." lines, NULL when none */
};

/*
 * Loads path (and its include: files).  Returns 0 and *out, or -1 with
 * "file:line: what was expected" in err.  Unknown or unimplemented keys are
 * warnings (each reported once), never errors.
 */
int config_load(const char *path, struct config **out, char *err, size_t errlen);
void config_free(struct config *c);

/*
 * This host's name in a fleet: tollgate.host_id, else the hostname (read
 * once; "localhost" when it cannot be).  In records, metrics, exports,
 * alerts, PostgreSQL and Redis.
 */
const char *config_host_id(const struct config_tollgate *tg);

/* The deployments serving a public model name, in file order; returns the count. */
size_t config_find_model(const struct config *c, const char *model_name,
    const struct config_deployment **found, size_t max);

#endif
