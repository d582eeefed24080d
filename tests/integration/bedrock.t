#!/usr/bin/python3
"""Bedrock (Converse) and Gemini billing and failures end to end, through the
gateway against the mock provider: a Bedrock model is priced by the entry
LiteLLM would pick (a region's own, a cross-region profile's own, else the
model's; the route words converse/ and invoke/ are not part of the id); cache
reads and writes and thinking are priced exactly, streamed and not; Bedrock's
errors ({"message"} with x-amzn-ErrorType) reach chat, Responses and
Anthropic clients in their own format with the provider's status; an
exception frame in the middle of a ConverseStream ends each client's stream
with an error event of its own format and flags the record; and Gemini's
usage by modality is priced at the modality's rate; LiteLLM-style Bedrock and Gemini configs load."""
import json
import os
import subprocess
import sys
import tempfile
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, SRC, Gateway, Mock, done, eq, ok, sse, teardown  # noqa: E402

AWS = "      aws_access_key_id: AKIDEXAMPLE\n      aws_secret_access_key: wJalrXUtnFEMI/K7MDENG\n"
SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
# the mock's usage: 1500 in all, 200 of it read from the cache and 300 written to it
# (Converse: inputTokens 1000, cacheReadInputTokens 200, cacheWriteInputTokens 300), 80 out
KNOBS = {"X-Mock-prompt_tokens": "1500", "X-Mock-cached_tokens": "200", "X-Mock-cache_write_tokens": "300",
         "X-Mock-completion_tokens": "80", "X-Mock-chunks": "6", "X-Mock-strict": "1"}


def dep(name, model, region="us-east-1", knobs=None):
    h = dict(KNOBS, **(knobs or {}))
    return ("  - model_name: %s\n    litellm_params:\n      model: bedrock/%s\n"
            "      api_base: http://127.0.0.1:%%(mock)d\n      aws_region_name: %s\n%s      extra_headers:\n%s"
            % (name, model, region, AWS, "".join("        %s: \"%s\"\n" % kv for kv in h.items())))


def gemini(name, model, knobs):
    return ("  - model_name: %s\n    litellm_params:\n      model: gemini/%s\n"
            "      api_base: http://127.0.0.1:%%(mock)d\n      api_key: gem-key\n      extra_headers:\n%s"
            % (name, model, "".join("        %s: \"%s\"\n" % kv for kv in knobs.items())))


EXTRA = "".join([
    dep("br", SONNET),
    dep("br-gov", SONNET, region="us-gov-east-1"),
    dep("br-us", "us." + SONNET),
    dep("br-apac", "apac." + SONNET),
    dep("br-converse", "converse/us." + SONNET),
    dep("br-invoke", "invoke/" + SONNET),
    # Converse for every client (a Claude id alone would relay an Anthropic client through InvokeModel)
    dep("br-think", "converse/" + SONNET, knobs={"X-Mock-reasoning_tokens": "40"}),
    dep("br-429", SONNET, knobs={"X-Mock-status": "429"}),
    dep("br-403", SONNET, knobs={"X-Mock-status": "403"}),
    dep("br-400", SONNET, knobs={"X-Mock-status": "400"}),
    dep("br-503", SONNET, knobs={"X-Mock-status": "503"}),
    dep("br-throttled", "converse/" + SONNET, knobs={"X-Mock-fault": "throttled_mid_stream"}),
    dep("br-broken", "converse/" + SONNET, knobs={"X-Mock-fault": "exception_mid_stream"}),
    gemini("gem-audio", "gemini-2.0-flash", {
        "X-Mock-prompt_tokens": "2000", "X-Mock-audio_tokens": "600", "X-Mock-image_tokens": "250",
        "X-Mock-cached_tokens": "400", "X-Mock-cached_audio_tokens": "100", "X-Mock-completion_tokens": "90"}),
    gemini("gem-image-out", "gemini-2.5-flash-image", {
        "X-Mock-prompt_tokens": "500", "X-Mock-image_tokens": "258", "X-Mock-completion_tokens": "1400",
        "X-Mock-image_out_tokens": "1290"}),
])

# The community map's rates for these (shared/data/litellm_model_prices.json), written into the
# test's own price file so that the test runs without it.
D = Decimal
RATES = {
    SONNET: {"in": D("3e-6"), "out": D("1.5e-5"), "read": D("3e-7"), "write": D("3.75e-6")},
    "us." + SONNET: {"in": D("3.3e-6"), "out": D("1.65e-5"), "read": D("3.3e-7"), "write": D("4.125e-6")},
    "bedrock/us-gov-east-1/" + SONNET: {"in": D("3.6e-6"), "out": D("1.8e-5"), "read": D("3.6e-7"),
                                        "write": D("4.5e-6")},
}
GEMINI = {
    "gemini-2.0-flash": {"in": D("1e-7"), "out": D("4e-7"), "read": D("2.5e-8"), "audio_in": D("7e-7")},
    # no audio rate of its own: audio would bill as text; images out at their own rate
    "gemini-2.5-flash-image": {"in": D("3e-7"), "out": D("2.5e-6"), "read": D("3e-8"),
                               "image_out": D("3e-5")},
}
FIELDS = {"in": "input_cost_per_token", "out": "output_cost_per_token", "read": "cache_read_input_token_cost",
          "write": "cache_creation_input_token_cost", "audio_in": "input_cost_per_audio_token",
          "image_out": "output_cost_per_image_token"}


def prices_yaml():
    out = []
    for name, r in list(RATES.items()) + list(GEMINI.items()):
        out.append("\"%s\":\n" % name + "".join("  %s: %s\n" % (FIELDS[k], v) for k, v in r.items()))
    return "".join(out)


def converse_cost(r, out=80):
    return 1000 * r["in"] + 200 * r["read"] + 300 * r["write"] + out * r["out"]


CHAT, RESPONSES, MESSAGES = "/v1/chat/completions", "/v1/responses", "/v1/messages"


def body(path, model, stream=False):
    if path == CHAT:
        b = {"model": model, "messages": [{"role": "user", "content": "hello"}]}
        if stream:
            b["stream_options"] = {"include_usage": True}
    elif path == MESSAGES:
        b = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hello"}]}
    else:
        b = {"model": model, "input": "hello"}
    if stream:
        b["stream"] = True
    return b


def cost_of(gw, h):
    rec = gw.record(h.get("x-tollgate-request-id"))
    return rec, (D(rec["cost_usd"]) if rec else None), D(h.get("x-tollgate-response-cost") or "-1")


def test_prices(gw, mock):
    """Each deployment's record costs exactly the rates of the entry LiteLLM would price it by."""
    cases = [("br", SONNET, RATES[SONNET]),
             ("br-gov", "bedrock/us-gov-east-1/" + SONNET, RATES["bedrock/us-gov-east-1/" + SONNET]),
             ("br-us", "us." + SONNET, RATES["us." + SONNET]),
             ("br-apac", SONNET, RATES[SONNET]),
             ("br-converse", "us." + SONNET, RATES["us." + SONNET]),
             ("br-invoke", SONNET, RATES[SONNET])]
    for model, entry, r in cases:
        st, h, data = gw.post(CHAT, body(CHAT, model))
        rec, cost, header = cost_of(gw, h)
        want = converse_cost(r)
        ok(st == 200 and cost == want and header == want and rec["priced_as"] == entry,
           "%s: priced as %s, exactly %s" % (model, entry, want), (st, rec, header, data[:200]))
    last = mock.get("/mock/last")
    eq(last.get("path"), "/model/%s/invoke" % SONNET.replace(":", "%3A"),
       "bedrock/invoke/ID: the id is sent without the route word, to InvokeModel")
    gw.post(CHAT, body(CHAT, "br-converse"))
    eq(mock.get("/mock/last").get("path"), "/model/us.%s/converse" % SONNET.replace(":", "%3A"),
       "bedrock/converse/ID: the same")


THOUGHT = "The user says hello; a short greeting will do."


def test_usage(gw, mock):
    """Cache reads, cache writes and thinking through Converse, streamed and not, for each client:
    the usage in the client's convention and the cost exact (header and ledger)."""
    want = converse_cost(RATES[SONNET])
    for model in ("br", "br-think"):
        for path in (CHAT, RESPONSES, MESSAGES):
            for stream in (False, True):
                st, h, data = gw.post(path, body(path, model, stream))
                rec, cost, header = cost_of(gw, h)
                if stream:  # a stream's cost rides in its trailing comment
                    header = D(data.decode().rsplit(": tollgate-cost ", 1)[-1].split("\n")[0] or "-1")
                t = rec["tokens"] if rec else {}
                ok(st == 200 and cost == want and header == want and not rec["flags"] and
                   (t["input"], t["cache_read"], t["cache_write_5m"], t["output"]) == (1000, 200, 300, 80),
                   "%s, %s%s: cache read 200, written 300, 80 out: exactly %s" % (
                       model, path, " streamed" if stream else "", want), (st, rec, header, data[-300:]))
                text = data.decode()
                if stream:
                    ok((h.get("content-type") or "").startswith("text/event-stream"),
                       "  served as server-sent events, not AWS's frames", h.get("content-type"))
                if model == "br-think":
                    ok(THOUGHT in text or THOUGHT.replace(";", "\\u003b") in text,
                       "  the thinking reaches the client", text[:600])
                if not stream and path == CHAT:
                    u = json.loads(data)["usage"]
                    eq((u["prompt_tokens"], u["prompt_tokens_details"]["cached_tokens"], u["completion_tokens"]),
                       (1500, 200, 80), "  chat's usage counts the cache in the prompt")
                if not stream and path == MESSAGES:
                    m = json.loads(data)
                    u = m["usage"]
                    eq((u["input_tokens"], u["cache_read_input_tokens"], u["cache_creation_input_tokens"],
                        u["output_tokens"]), (1000, 200, 300, 80), "  Anthropic's leaves it out, as Converse's")
                    if model == "br-think":
                        eq([b["type"] for b in m["content"]], ["thinking", "text"], "  a thinking block first")


STATUS = {"br-429": (429, "rate_limit_error"), "br-403": (403, "permission_error"),
          "br-400": (400, "invalid_request_error"), "br-503": (503, None)}


def test_errors(gw, mock):
    """Bedrock's errors ({"message"}, x-amzn-ErrorType) in each client's format, with Bedrock's status;
    a stream asked for gets the error as a plain answer (nothing was streamed yet)."""
    for model, (status, etype) in STATUS.items():
        for path in (CHAT, RESPONSES, MESSAGES):
            for stream in (False, True):
                st, h, data = gw.post(path, body(path, model, stream))
                try:
                    e = json.loads(data)
                except ValueError:
                    e = {}
                err = e.get("error") if isinstance(e.get("error"), dict) else {}
                shaped = (e.get("type") == "error") if path == MESSAGES else ("type" not in e)
                ok(st == status and shaped and "mock knob 'status'" in err.get("message", "") and
                   (etype is None or err.get("type") == etype),
                   "%s -> %s%s: %d in the client's format%s" % (
                       model, path, " (stream)" if stream else "", status, ", type " + etype if etype else ""),
                   (st, data[:300]))
        rec = gw.record(h.get("x-tollgate-request-id"))
        ok(rec and "upstream_error" in rec["flags"] and D(rec["cost_usd"]) == 0, "  recorded as the provider's error",
           rec)
    ok(gw.request("GET", "/health")[0] == 200, "the gateway goes on")


def test_mid_stream(gw, mock):
    """An exception frame after some content (throttlingException, modelStreamErrorException): each
    client's stream ends with its own error event, the record is flagged, nothing hangs."""
    for model, words in (("br-throttled", "Too many tokens"), ("br-broken", "stream failed")):
        st, h, data = gw.post(CHAT, body(CHAT, model, True))
        evs = sse(data)
        errs = [d for _, d in evs if isinstance(d, dict) and isinstance(d.get("error"), dict)]
        text = "".join(((d.get("choices") or [{}])[0].get("delta") or {}).get("content") or ""
                       for _, d in evs if isinstance(d, dict) and d.get("choices"))
        ok(st == 200 and text.startswith("This is") and len(errs) == 1 and words in errs[0]["error"]["message"] and
           not any(isinstance(d, dict) and (d.get("choices") or [{}])[0].get("finish_reason")
                   for _, d in evs if isinstance(d, dict) and d.get("choices")),
           "%s, a chat stream: the text so far, then an error chunk, and no finish_reason" % model, evs[-4:])
        rec = gw.record(h.get("x-tollgate-request-id"))
        ok(rec and "upstream_error" in rec["flags"] and "stream_incomplete" in rec["flags"] and
           D(rec["cost_usd"]) == 0 and "usage_missing" in rec["usage_flags"],
           "  the record: the provider's error, the stream cut, priced by the usage seen (none: Converse sends "
           "it last) and saying so", rec)

        st, h, data = gw.post(MESSAGES, body(MESSAGES, model, True))
        names = [n for n, _ in sse(data)]
        last = sse(data)[-1][1] if sse(data) else {}
        ok(st == 200 and names[:1] == ["message_start"] and names[-1] == "error" and
           last.get("error", {}).get("type") == "api_error" and words in last["error"].get("message", "") and
           "message_stop" not in names and "message_delta" not in names,
           "%s, an Anthropic stream: ends with event: error, as Anthropic's do" % model, names[-4:])
        rec = gw.record(h.get("x-tollgate-request-id"))
        ok(rec and "upstream_error" in rec["flags"], "  flagged", rec and rec["flags"])

        st, h, data = gw.post(RESPONSES, body(RESPONSES, model, True))
        evs = sse(data)
        ok(st == 200 and evs and evs[-1][0] == "response.failed" and
           evs[-1][1]["response"]["status"] == "failed" and words in evs[-1][1]["response"]["error"]["message"] and
           "response.completed" not in [n for n, _ in evs],
           "%s, a Responses stream: ends with response.failed carrying the error" % model, [n for n, _ in evs][-4:])
        rec = gw.record(h.get("x-tollgate-request-id"))
        ok(rec and "upstream_error" in rec["flags"], "  flagged", rec and rec["flags"])
    st, h, data = gw.post(CHAT, body(CHAT, "br-throttled"))
    ok(st == 400 and "converse-stream" in data.decode(), "the mock refuses its stream faults on a whole answer",
       (st, data[:200]))
    ok(gw.request("GET", "/health")[0] == 200, "the gateway goes on")


def test_gemini_modalities(gw, mock):
    """Gemini's usage by modality: audio and image at their own rates where the map has them,
    else the text rate; the cache's audio out of the audio billed as input."""
    g = GEMINI["gemini-2.0-flash"]
    # prompt 2000 (audio 600, image 250), cache 400 (audio 100): uncached audio 500, image 250, text 850
    want = 850 * g["in"] + 500 * g["audio_in"] + 250 * g["in"] + 400 * g["read"] + 90 * g["out"]
    for stream in (False, True):
        st, h, data = gw.post(CHAT, body(CHAT, "gem-audio", stream))
        rec, cost, header = cost_of(gw, h)
        t = rec["tokens"] if rec else {}
        ok(st == 200 and cost == want and (header == want or stream) and
           (t["input"], t["audio_input"], t["image_input"], t["cache_read"]) == (850, 500, 250, 400),
           "gemini-2.0-flash%s: audio at 7e-7, images at the text rate, exactly %s" % (
               " streamed" if stream else "", want), (st, rec, header))
    g = GEMINI["gemini-2.5-flash-image"]
    want = 500 * g["in"] + 110 * g["out"] + 1290 * g["image_out"]
    st, h, data = gw.post(CHAT, body(CHAT, "gem-image-out"))
    rec, cost, header = cost_of(gw, h)
    ok(st == 200 and cost == want and header == want and rec["tokens"]["image_output"] == 1290,
       "gemini-2.5-flash-image: image output at 3e-5, exactly %s" % want, (st, rec, header))


def test_configs(gw):
    """LiteLLM-style Bedrock and Gemini configs load (tollgated -t); an ARN with nothing to price by is a
    warning at load naming its file:line."""
    env = dict(os.environ, TG_TEST_AWS_KEY_ID="AKIDEXAMPLE", TG_TEST_AWS_SECRET="s", TG_TEST_AWS_TOKEN="t",
               TG_TEST_BEDROCK_API_KEY="k", TG_TEST_GEMINI_KEY="g")
    path = os.path.join(SRC, "tests", "data", "config", "litellm-cloud.yaml")
    out = subprocess.run([os.path.join(BUILD, "tollgated"), "-t", "-c", path], capture_output=True, text=True,
                         timeout=60, env=env)
    ok(out.returncode == 0 and "11 deployments (0 left out)" in out.stderr and "no price" not in out.stderr,
       "litellm-cloud.yaml (Bedrock and Gemini as LiteLLM's configs write them) loads, every deployment served",
       (out.returncode, out.stderr[-800:]))
    with tempfile.TemporaryDirectory(prefix="tollgate-arn-") as d:
        cfg = os.path.join(d, "c.yaml")
        with open(cfg, "w") as f:
            f.write("tollgate:\n  price_files: [%s]\nmodel_list:\n  - model_name: app\n    litellm_params:\n"
                    "      model: bedrock/arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/x1\n"
                    "      aws_region_name: us-east-1\n%s" % (os.path.join(gw.dir, "prices.yaml"), AWS))
        out = subprocess.run([os.path.join(BUILD, "tollgated"), "-t", "-c", cfg], capture_output=True, text=True,
                             timeout=60)
        ok(out.returncode == 0 and "c.yaml:4: model 'app': no price for the Bedrock ARN" in out.stderr and
           "model_info.base_model" in out.stderr,
           "an application-inference-profile ARN without base_model: a warning naming its file:line, and base_model",
           (out.returncode, out.stderr[-800:]))


def main():
    mock = Mock()

    def prepare(g):
        with open(os.path.join(g.dir, "prices.yaml"), "a") as f:
            f.write(prices_yaml())
    gw = Gateway(mock, EXTRA.replace("%(mock)d", str(mock.port)), prepare=prepare)
    try:
        for t in (test_prices, test_usage, test_errors, test_mid_stream, test_gemini_modalities):
            try:
                t(gw, mock)
            except Exception as e:  # a shape that is not there: that test fails, the others run
                ok(False, "%s runs to its end" % t.__name__, repr(e))
        test_configs(gw)
    finally:
        teardown(gw, mock)
    done()


main()
