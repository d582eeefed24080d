#!/usr/bin/python3
"""The official SDKs, newest from npm, against the gateway's translation: the
openai SDK's chat.completions and responses calls to an Anthropic deployment,
the @anthropic-ai/sdk messages calls to an OpenAI-compatible one, then all of
them to the clouds: a Gemini deployment, a Bedrock one (Converse; the
Anthropic SDK's calls relayed through InvokeModel), Claude on Vertex AI
(rawPredict) and Gemini on Vertex AI (both with a service-account token),
streamed and not, with tools.
For each call: the SDK parsed the answer; it has text, or two tool calls
with ids and JSON arguments; the usage the SDK saw is the mock's, in the
client's convention; the cost (header, or the stream's cost comment) is
exact; the ledger record names both endpoints and costs what the same
request sent natively costs (the clouds: their exact cost). The SDKs are
installed once into $TOLLGATE_BUILD/e2e-sdk; skips, saying why, without
node, npm or the registry."""
import json
import os
import shutil
import subprocess
import sys
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, MASTER_KEY, Gateway, Mock, diag, done, eq, kill_group, ok, spawn, teardown, wait_until  # noqa: E402

SDK_DIR = os.path.join(BUILD, "e2e-sdk")
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sdk", "run.js")
PACKAGES = ("openai", "@anthropic-ai/sdk")

# usage the mock reports, set through the deployments' headers (a body's "mock"
# field does not survive translation); strict: the mock refuses what its provider would
P, C, O = 1500, 300, 70
KNOBS = {"X-Mock-prompt_tokens": str(P), "X-Mock-cached_tokens": str(C), "X-Mock-completion_tokens": str(O),
         "X-Mock-strict": "1"}

# claude-sonnet-4-5 and gpt-4o-mini in tg.PRICES
CLAUDE_COST = (P - C) * Decimal("3e-6") + C * Decimal("3e-7") + O * Decimal("1.5e-5")
GPT_COST = (P - C) * Decimal("1.5e-7") + C * Decimal("7.5e-8") + O * Decimal("6e-7")

MODELS = {"claude": "sdk-claude", "claude_tools": "sdk-claude-tools", "gpt": "sdk-gpt", "gpt_tools": "sdk-gpt-tools"}
# the second round: every call to Gemini (gemini-2.5-flash, priced as main() adds it)
GEMINI_MODELS = {"claude": "sdk-gemini", "claude_tools": "sdk-gemini-tools", "gpt": "sdk-gemini",
                 "gpt_tools": "sdk-gemini-tools"}
GEMINI_COST = (P - C) * Decimal("3e-7") + C * Decimal("7.5e-8") + O * Decimal("2.5e-6")
GEMINI_ENDPOINT = "/v1beta/models:generateContent"
# the third round: every call to Bedrock's Converse, a cross-region profile priced apart (main() adds it:
# the community map's rates for us.anthropic.claude-sonnet-4-5-20250929-v1:0)
BEDROCK_ID = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
BEDROCK_MODELS = {"claude": "sdk-bedrock", "claude_tools": "sdk-bedrock-tools", "gpt": "sdk-bedrock",
                  "gpt_tools": "sdk-bedrock-tools"}
BEDROCK_COST = (P - C) * Decimal("3.3e-6") + C * Decimal("3.3e-7") + O * Decimal("1.65e-5")
BEDROCK_ENDPOINT = "/model:converse"
# the fourth round: every call to Claude on Vertex AI (rawPredict, a service-account token as the
# bearer, from the mock's token endpoint), priced as claude-sonnet-4-5 in tg.PRICES
VERTEX_MODELS = {"claude": "sdk-vertex", "claude_tools": "sdk-vertex-tools", "gpt": "sdk-vertex",
                 "gpt_tools": "sdk-vertex-tools"}
# the fifth: Gemini on Vertex AI (generateContent at Vertex's path, the same token)
VERTEX_GEMINI_MODELS = {"claude": "sdk-vgemini", "claude_tools": "sdk-vgemini-tools", "gpt": "sdk-vgemini",
                        "gpt_tools": "sdk-vgemini-tools"}


def dep(name, anthropic, extra=None):
    h = dict(KNOBS, **(extra or {}))
    if anthropic == "vertex-gemini":
        head = "      model: vertex_ai/gemini-2.5-flash\n      api_base: http://127.0.0.1:%(mock)d\n" \
               "      vertex_credentials: os.environ/TG_SDK_VERTEX_KEY\n      vertex_project: sdk-p\n"
    elif anthropic == "vertex":
        head = "      model: vertex_ai/claude-sonnet-4-5@20250929\n      api_base: http://127.0.0.1:%(mock)d\n" \
               "      vertex_credentials: os.environ/TG_SDK_VERTEX_KEY\n      vertex_location: us-east5\n"
    elif anthropic == "bedrock":
        head = "      model: bedrock/%s\n      api_base: http://127.0.0.1:%%(mock)d\n" \
               "      aws_region_name: us-east-1\n      aws_access_key_id: AKIDEXAMPLE\n" \
               "      aws_secret_access_key: sdk-secret\n" % BEDROCK_ID
    elif anthropic == "gemini":
        head = "      model: gemini/gemini-2.5-flash\n      api_base: http://127.0.0.1:%(mock)d\n" \
               "      api_key: gemini-upstream-key\n"
    elif anthropic:
        head = "      model: anthropic/claude-sonnet-4-5\n      api_base: http://127.0.0.1:%(mock)d\n" \
               "      api_key: anthropic-upstream-key\n"
    else:
        head = "      <<: *mock\n      model: openai/gpt-4o-mini\n"
    return "  - model_name: %s\n    litellm_params:\n%s      extra_headers:\n%s" % (
        name, head, "".join("        %s: \"%s\"\n" % kv for kv in h.items()))


# the tools deployments answer with two tool calls (the mock's tool_calls knob)
CALLS2 = {"X-Mock-tool_calls": "2"}
EXTRA = "".join([dep(MODELS["claude"], True), dep(MODELS["claude_tools"], True, CALLS2),
                 dep(MODELS["gpt"], False), dep(MODELS["gpt_tools"], False, CALLS2),
                 dep(GEMINI_MODELS["claude"], "gemini"), dep(GEMINI_MODELS["claude_tools"], "gemini", CALLS2),
                 dep(BEDROCK_MODELS["claude"], "bedrock"), dep(BEDROCK_MODELS["claude_tools"], "bedrock", CALLS2),
                 dep(VERTEX_MODELS["claude"], "vertex"), dep(VERTEX_MODELS["claude_tools"], "vertex", CALLS2),
                 dep(VERTEX_GEMINI_MODELS["claude"], "vertex-gemini"),
                 dep(VERTEX_GEMINI_MODELS["claude_tools"], "vertex-gemini", CALLS2)])

CHAT, RESPONSES, MESSAGES = "/v1/chat/completions", "/v1/responses", "/v1/messages"
TOOL = {"name": "get_weather", "description": "weather",
        "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def native_messages(model, stream, tools):
    b = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hello"}]}
    if tools:
        b["tools"] = [{"name": TOOL["name"], "description": TOOL["description"], "input_schema": TOOL["schema"]}]
    if stream:
        b["stream"] = True
    return MESSAGES, b


def native_chat(model, stream, tools):
    b = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hello"}]}
    if tools:
        b["tools"] = [{"type": "function", "function": {"name": TOOL["name"], "description": TOOL["description"],
                                                        "parameters": TOOL["schema"]}}]
    if stream:
        b.update(stream=True, stream_options={"include_usage": True})
    return CHAT, b


# what run.js calls: name -> (model, client's endpoint, provider's endpoint, usage convention, stream, tools,
# cost, the native request)
CALLS = {}
for _name, _ep, _conv in (("openai.chat", CHAT, "chat"), ("openai.responses", RESPONSES, "responses")):
    for _tools in (False, True):
        for _stream in (False, True):
            _m = MODELS["claude_tools" if _tools else "claude"]
            CALLS[_name + (".tools" if _tools else "") + (".stream" if _stream else "")] = (
                _m, _ep, MESSAGES, _conv, _stream, _tools, CLAUDE_COST, native_messages(_m, _stream, _tools))
for _tools in (False, True):
    for _stream in (False, True):
        _m = MODELS["gpt_tools" if _tools else "gpt"]
        CALLS["anthropic.messages" + (".tools" if _tools else "") + (".stream" if _stream else "")] = (
            _m, MESSAGES, CHAT, "anthropic", _stream, _tools, GPT_COST, native_chat(_m, _stream, _tools))


# the same calls to Gemini: no client speaks its format, so no native request to compare with
for _name, (_m, _ep, _up, _conv, _stream, _tools, _cost, _native) in list(CALLS.items()):
    CALLS["gemini/" + _name] = (GEMINI_MODELS["claude_tools" if _tools else "claude"], _ep, GEMINI_ENDPOINT,
                                _conv, _stream, _tools, GEMINI_COST, None)
    # and to Bedrock: Converse, but an Anthropic client relayed through InvokeModel (a Claude id)
    CALLS["bedrock/" + _name] = (BEDROCK_MODELS["claude_tools" if _tools else "claude"], _ep,
                                 MESSAGES if _ep == MESSAGES else BEDROCK_ENDPOINT, _conv, _stream, _tools,
                                 BEDROCK_COST, None)
    # and to Claude on Vertex AI: Anthropic's format, every client's calls to it
    CALLS["vertex/" + _name] = (VERTEX_MODELS["claude_tools" if _tools else "claude"], _ep, MESSAGES, _conv,
                                _stream, _tools, CLAUDE_COST, None)
    CALLS["vertex-gemini/" + _name] = (VERTEX_GEMINI_MODELS["claude_tools" if _tools else "claude"], _ep,
                                       GEMINI_ENDPOINT, _conv, _stream, _tools, GEMINI_COST, None)


def service_account(mock_port):
    """A service-account key of the test's own (openssl makes the RSA key), its token_uri the mock's."""
    pem = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return json.dumps({"type": "service_account", "project_id": "sdk-project", "private_key_id": "k1",
                       "private_key": pem, "client_email": "sdk@sdk-project.iam.gserviceaccount.com",
                       "token_uri": "http://127.0.0.1:%d/token" % mock_port})


def skip_all(why):
    print("1..0 # SKIP " + why, flush=True)
    sys.exit(0)


def run_bounded(argv, timeout, **kw):
    """(exit status or None when killed at the bound, stdout, stderr): in a process group of its own
    (tg.spawn), all of which the bound kills, npm's and node's children too."""
    p = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out, err
    except subprocess.TimeoutExpired:
        kill_group(p)
        out, err = p.communicate()
        return None, out or "", (err or "") + "\n(killed after %d s)" % timeout


def installed():
    """{package: version} of what SDK_DIR holds, or None when a package is missing."""
    got = {}
    for p in PACKAGES:
        try:
            with open(os.path.join(SDK_DIR, "node_modules", p, "package.json")) as f:
                got[p] = json.load(f)["version"]
        except (OSError, ValueError, KeyError):
            return None
    return got


def install():
    """The newest SDKs from npm, once (a cache reused while it holds both); why not, when they cannot be."""
    if installed():
        return None
    if shutil.which("npm") is None:
        return "no npm (apt install npm)"
    os.makedirs(SDK_DIR, exist_ok=True)
    # openai 7.x declares node >= 22 and runs on 20: --engine-strict=false lets npm take it
    rc, out, err = run_bounded(["npm", "install", "--prefix", SDK_DIR, "--no-audit", "--no-fund", "--no-save",
                                "--engine-strict=false", "--fetch-retries=0", "--fetch-timeout=20000",
                                "--loglevel=error", "openai@latest", "@anthropic-ai/sdk@latest"], 120)
    if rc is None:
        return "npm install of the SDKs into %s did not finish within 120 s (registry unreachable?)" % SDK_DIR
    if rc != 0 or not installed():
        # npm's own words: its code and the first line that says what went wrong
        said = [l[len("npm error"):].strip() for l in err.splitlines() if l.startswith("npm error")]
        said = [l for l in said if l and not l.startswith(("syscall", "errno", "at ", "A complete log"))][:2]
        return "the SDKs cannot be installed from npm into %s (registry unreachable?): %s" % (
            SDK_DIR, "; ".join(said) or "npm exited %d" % rc)
    return None


def usage_checks(name, conv, u):
    u = u or {}
    if conv == "chat":
        got = (u.get("prompt_tokens"), u.get("completion_tokens"), u.get("total_tokens"),
               (u.get("prompt_tokens_details") or {}).get("cached_tokens"))
        eq(got, (P, O, P + O, C), "%s: usage as the SDK saw it: prompt_tokens %d (cached included), "
           "completion_tokens %d, total %d, cached_tokens %d" % (name, P, O, P + O, C))
    elif conv == "responses":
        got = (u.get("input_tokens"), u.get("output_tokens"), u.get("total_tokens"),
               (u.get("input_tokens_details") or {}).get("cached_tokens"))
        eq(got, (P, O, P + O, C), "%s: usage as the SDK saw it: input_tokens %d (cached included), "
           "output_tokens %d, total %d, cached_tokens %d" % (name, P, O, P + O, C))
    else:
        got = (u.get("input_tokens"), u.get("cache_read_input_tokens"), u.get("output_tokens"))
        eq(got, (P - C, C, O), "%s: usage as the SDK saw it: input_tokens %d (cache excluded), "
           "cache_read_input_tokens %d, output_tokens %d" % (name, P - C, C, O))


def answer_checks(name, tools, got):
    if tools:
        calls = got.get("tool_calls") or []
        eq(len(calls), 2, "%s: two tool calls" % name)

        def parses(c):
            try:
                return isinstance(json.loads(c.get("arguments") or ""), dict)
            except ValueError:
                return False
        ok(len(calls) == 2 and all(c.get("id") and c.get("name") == TOOL["name"] and parses(c) for c in calls) and
           len({c["id"] for c in calls}) == 2,
           "%s: each with its own id, the tool's name and arguments that parse as a JSON object" % name, calls)
    else:
        ok(isinstance(got.get("text"), str) and got["text"].strip() != "", "%s: the answer has text" % name,
           {k: got.get(k) for k in ("text", "tool_calls", "finish")})


def find_record(gw, rid, endpoint, model, claimed):
    if rid:
        wait_until(lambda: gw.record(rid) is not None, 10, 0.2)
        return gw.record(rid)
    # no header reached: the newest unclaimed record of this endpoint and model
    for r in reversed(gw.records()):
        if r.get("id") not in claimed and r.get("endpoint") == endpoint and r.get("model_requested") == model:
            return r
    return None


def main():
    if shutil.which("node") is None:
        skip_all("no node (apt install nodejs npm)")
    why = install()
    if why:
        skip_all(why)
    versions = installed()
    nodev = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    diag("SDKs in %s: %s; node %s" % (SDK_DIR, ", ".join("%s@%s" % kv for kv in versions.items()), nodev))
    mock = Mock()
    os.environ["TG_SDK_VERTEX_KEY"] = service_account(mock.port)

    def gemini_prices(g):
        with open(os.path.join(g.dir, "prices.yaml"), "a") as f:
            f.write("gemini-2.5-flash:\n  input_cost_per_token: 3e-7\n  output_cost_per_token: 2.5e-6\n"
                    "  cache_read_input_token_cost: 7.5e-8\n"
                    "\"%s\":\n  input_cost_per_token: 3.3e-6\n  output_cost_per_token: 1.65e-5\n"
                    "  cache_read_input_token_cost: 3.3e-7\n" % BEDROCK_ID)
    gw = Gateway(mock, EXTRA.replace("%(mock)d", str(mock.port)), prepare=gemini_prices)
    try:
        t0 = time.time()
        rc, out, err = run_bounded(["node", SCRIPT], 120, cwd=SDK_DIR,
                                   env=dict(os.environ, NODE_PATH=os.path.join(SDK_DIR, "node_modules"),
                                            PORT=str(gw.port), KEY=MASTER_KEY, MODELS=json.dumps(MODELS),
                                            MODELS_GEMINI=json.dumps(GEMINI_MODELS),
                                            MODELS_BEDROCK=json.dumps(BEDROCK_MODELS),
                                            MODELS_VERTEX=json.dumps(VERTEX_MODELS),
                                            MODELS_VERTEX_GEMINI=json.dumps(VERTEX_GEMINI_MODELS)))
        lines = {}
        for line in out.splitlines():
            try:
                j = json.loads(line)
                lines[j["name"]] = j
            except (ValueError, KeyError, TypeError):
                pass
        ok(rc == 0, "the SDK script ran to its end (%.1f s)" % (time.time() - t0), err[-2000:])
        claimed = set()
        for name, (model, endpoint, upstream, conv, stream, tools, cost, native) in CALLS.items():
            got = lines.get(name)
            if not ok(got is not None and got.get("ok"), "%s: the SDK parsed the answer without error" % name,
                      got and {k: got.get(k) for k in ("error", "error_status", "wire_status", "sse_tail")}):
                continue
            answer_checks(name, tools, got)
            usage_checks(name, conv, got.get("usage"))
            headers = got.get("headers") or got.get("wire_headers") or {}
            rid = headers.get("x-tollgate-request-id")
            if stream:
                ok(got.get("sse_cost") is not None and Decimal(got["sse_cost"]) == cost,
                   "%s: the stream's cost comment says %s" % (name, cost), (got.get("sse_cost"), got.get("sse_tail")))
            else:
                hc = headers.get("x-tollgate-response-cost")
                ok(hc is not None and Decimal(hc) == cost, "%s: x-tollgate-response-cost is %s" % (name, cost),
                   hc)
            rec = find_record(gw, rid, endpoint, model, claimed)
            if not ok(rec is not None, "%s: the request left a ledger record" % name, "request id %r" % rid):
                continue
            claimed.add(rec.get("id"))
            ok(Decimal(rec.get("cost_usd") or "-1") == cost, "%s: its cost_usd is %s" % (name, cost),
               rec.get("cost_usd"))
            eq((rec.get("endpoint"), rec.get("upstream_endpoint")), (endpoint, upstream),
               "%s: the record's endpoint (the client's) and upstream_endpoint (the provider's)" % name)
            if native is None:
                continue
            path, body = native
            st, h, data = gw.post(path, body)
            nid = h.get("x-tollgate-request-id")
            wait_until(lambda: gw.record(nid) is not None, 10, 0.2)
            nrec = gw.record(nid) if st == 200 else None
            ok(nrec is not None and Decimal(nrec["cost_usd"]) == Decimal(rec["cost_usd"]) and
               nrec.get("tokens") == rec.get("tokens"),
               "%s: costs what the same request sent natively to %s costs, from the same tokens" % (name, path),
               (st, data[:300] if st != 200 else "", nrec and (nrec["cost_usd"], nrec.get("tokens")),
                (rec["cost_usd"], rec.get("tokens"))))
    finally:
        teardown(gw, mock)
    done()


main()
