/*
 * The catalogue (catalogue.h): LiteLLM's provider prefixes, their default
 * bases, auth and key variables, from shared/reference/providers.md and
 * the providers' own references.  Adding an OpenAI-compatible provider is
 * one row.  Variables are lists, tried in order ("A:B").
 */
#include <string.h>

#include "provider/catalogue.h"

#define OPENAI	&dialect_openai
#define BEARER	CATALOGUE_BEARER
#define AUTO	USAGE_SHAPE_AUTO

/* Sorted by prefix. */
static const struct catalogue_entry rows[] = {
	{ "anthropic", &dialect_anthropic, "https://api.anthropic.com", CATALOGUE_X_API_KEY,
	  "ANTHROPIC_API_KEY", "ANTHROPIC_API_BASE:ANTHROPIC_BASE_URL", 0, USAGE_SHAPE_ANTHROPIC, NULL },
	{ "azure", OPENAI, NULL, CATALOGUE_API_KEY, "AZURE_API_KEY", "AZURE_API_BASE",
	  CATALOGUE_AZURE | CATALOGUE_RESPONSES, AUTO, NULL },
	{ "azure_ai", OPENAI, NULL, BEARER, "AZURE_AI_API_KEY", "AZURE_AI_API_BASE", 0, AUTO, NULL },
	{ "bedrock", &dialect_bedrock, "https://bedrock-runtime.%s.amazonaws.com", CATALOGUE_SIGV4,
	  "AWS_BEARER_TOKEN_BEDROCK", "AWS_BEDROCK_API_BASE", CATALOGUE_AWS_REGION, AUTO, NULL },
	{ "cerebras", OPENAI, "https://api.cerebras.ai/v1", BEARER, "CEREBRAS_API_KEY", NULL, 0, AUTO,
	  NULL },
	{ "codestral", OPENAI, "https://codestral.mistral.ai/v1", BEARER, "CODESTRAL_API_KEY", NULL, 0,
	  AUTO, NULL },
	{ "deepinfra", OPENAI, "https://api.deepinfra.com/v1/openai", BEARER, "DEEPINFRA_API_KEY",
	  NULL, 0, AUTO, NULL },
	{ "deepseek", OPENAI, "https://api.deepseek.com/beta", BEARER, "DEEPSEEK_API_KEY", NULL, 0,
	  USAGE_SHAPE_DEEPSEEK, NULL },
	{ "fireworks_ai", OPENAI, "https://api.fireworks.ai/inference/v1", BEARER,
	  "FIREWORKS_AI_API_KEY:FIREWORKS_API_KEY:FIREWORKSAI_API_KEY", NULL, CATALOGUE_FIREWORKS,
	  AUTO, NULL },
	{ "gemini", &dialect_gemini, "https://generativelanguage.googleapis.com",
	  CATALOGUE_GOOG_API_KEY, "GEMINI_API_KEY", "GEMINI_API_BASE", 0, USAGE_SHAPE_GEMINI, NULL },
	{ "github", OPENAI, "https://models.inference.ai.azure.com", BEARER, "GITHUB_API_KEY", NULL,
	  CATALOGUE_NO_V1, AUTO, NULL },
	{ "github_copilot", NULL, NULL, BEARER, NULL, NULL, 0, AUTO,
	  "needs GitHub's device-flow login and editor headers, which a daemon cannot do" },
	{ "groq", OPENAI, "https://api.groq.com/openai/v1", BEARER, "GROQ_API_KEY", NULL, 0, AUTO,
	  NULL },
	{ "hosted_vllm", OPENAI, NULL, BEARER, "HOSTED_VLLM_API_KEY", "HOSTED_VLLM_API_BASE", 0, AUTO,
	  NULL },
	{ "lm_studio", OPENAI, "http://localhost:1234/v1", BEARER, "LM_STUDIO_API_KEY",
	  "LM_STUDIO_API_BASE", 0, AUTO, NULL },
	{ "mistral", OPENAI, "https://api.mistral.ai/v1", BEARER, "MISTRAL_API_KEY", NULL, 0, AUTO,
	  NULL },
	{ "moonshot", OPENAI, "https://api.moonshot.ai/v1", BEARER, "MOONSHOT_API_KEY", NULL, 0, AUTO,
	  NULL },
	{ "nebius", OPENAI, "https://api.studio.nebius.ai/v1", BEARER, "NEBIUS_API_KEY", NULL, 0, AUTO,
	  NULL },
	{ "nvidia_nim", OPENAI, "https://integrate.api.nvidia.com/v1", BEARER, "NVIDIA_NIM_API_KEY",
	  NULL, 0, AUTO, NULL },
	/* Ollama serves OpenAI's API at /v1 beside its own /api/chat */
	{ "ollama", OPENAI, "http://localhost:11434", BEARER, "OLLAMA_API_KEY", "OLLAMA_API_BASE", 0,
	  AUTO, NULL },
	{ "ollama_chat", OPENAI, "http://localhost:11434", BEARER, "OLLAMA_API_KEY",
	  "OLLAMA_API_BASE", 0, AUTO, NULL },
	{ "openai", OPENAI, "https://api.openai.com/v1", BEARER, "OPENAI_API_KEY",
	  "OPENAI_BASE_URL:OPENAI_API_BASE", CATALOGUE_RESPONSES, AUTO, NULL },
	{ "openrouter", OPENAI, "https://openrouter.ai/api/v1", BEARER, "OPENROUTER_API_KEY", NULL, 0,
	  AUTO, NULL },
	{ "perplexity", OPENAI, "https://api.perplexity.ai", BEARER,
	  "PERPLEXITYAI_API_KEY:PERPLEXITY_API_KEY", NULL, CATALOGUE_NO_V1, AUTO, NULL },
	{ "sagemaker", NULL, NULL, BEARER, NULL, NULL, 0, AUTO,
	  "is not served by tollgate (SageMaker endpoints speak each model's own format)" },
	{ "sambanova", OPENAI, "https://api.sambanova.ai/v1", BEARER, "SAMBANOVA_API_KEY", NULL, 0,
	  AUTO, NULL },
	{ "text-completion-openai", OPENAI, "https://api.openai.com/v1", BEARER, "OPENAI_API_KEY",
	  "OPENAI_BASE_URL:OPENAI_API_BASE", 0, AUTO, NULL },
	{ "together_ai", OPENAI, "https://api.together.xyz/v1", BEARER,
	  "TOGETHERAI_API_KEY:TOGETHER_API_KEY:TOGETHER_AI_API_KEY", NULL, 0, AUTO, NULL },
	/* the model chooses Gemini's or Claude's format (route.c); the location the host */
	{ "vertex_ai", &dialect_vertex_gemini, "https://%s-aiplatform.googleapis.com",
	  CATALOGUE_GOOGLE_OAUTH, NULL, NULL, CATALOGUE_VERTEX, AUTO, NULL },
	{ "voyage", OPENAI, "https://api.voyageai.com/v1", BEARER, "VOYAGE_API_KEY", NULL,
	  CATALOGUE_EMBEDDINGS, AUTO, NULL },
	{ "xai", OPENAI, "https://api.x.ai/v1", BEARER, "XAI_API_KEY", NULL, 0, AUTO, NULL },
};

const struct catalogue_entry *
catalogue_find(const char *prefix)
{
	size_t lo = 0, hi = sizeof(rows) / sizeof(rows[0]);

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(prefix, rows[mid].prefix);

		if (c == 0)
			return &rows[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}
