#!/usr/bin/python3
"""Claude through Bedrock's InvokeModel, against the mock: an Anthropic client to a
Claude id on Bedrock is relayed through InvokeModel (its cache_control and thinking
reach the model as they were sent), every other client goes through Converse, as
LiteLLM does; bedrock/invoke/ and bedrock/converse/ choose for every client. The
body is Anthropic's without the model and without stream, with Bedrock's
anthropic_version; each request is signed (botocore recomputes the signature); an
InvokeModel stream's frames, each an Anthropic event in base64, reach an Anthropic
client as Anthropic's own SSE and a chat client translated; a corrupt frame ends
the stream with an error; Bedrock's errors reach each client in its own format;
the cost is Anthropic's usage priced exactly, cache writes included."""
import json
import os
import sys
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import Gateway, Mock, diag, done, eq, ok, sigv4_ok, sse, stream_cost, teardown  # noqa: E402

KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CLAUDE_ID = "anthropic.claude-3-5-sonnet-20240620-v1:0"
PATH = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/"
KNOBS = {"X-Mock-prompt_tokens": "1500", "X-Mock-completion_tokens": "80",
         "X-Mock-cached_tokens": "200", "X-Mock-cache_write_tokens": "300", "X-Mock-strict": "1"}
P = {"in": Decimal("3e-6"), "out": Decimal("1.5e-5"), "read": Decimal("3e-7"), "write": Decimal("3.75e-6")}
# Anthropic's usage from the mock: input 1000 (without 200 read and 300 written), output 80
COST = 1000 * P["in"] + 200 * P["read"] + 300 * P["write"] + 80 * P["out"]


def dep(name, model, extra=None):
    h = "".join("        %s: \"%s\"\n" % kv for kv in dict(KNOBS, **(extra or {})).items())
    return """\
  - model_name: %s
    litellm_params:
      model: bedrock/%s
      api_base: http://127.0.0.1:%%(mock)d
      aws_access_key_id: %s
      aws_secret_access_key: %s
      aws_region_name: us-east-1
      extra_headers:
%s""" % (name, model, KEY, SECRET, h)


EXTRA = "".join([
    dep("br-claude", CLAUDE_ID),
    dep("claude-429", CLAUDE_ID, {"X-Mock-status": "429"}),
    dep("claude-bad", CLAUDE_ID, {"X-Mock-fault": "malformed"}),
    dep("claude-throttled", CLAUDE_ID, {"X-Mock-fault": "throttled_mid_stream"}),
    dep("invoke-throttled", "invoke/" + CLAUDE_ID, {"X-Mock-fault": "throttled_mid_stream"}),
    dep("invoke", "invoke/" + CLAUDE_ID),
    dep("invoke-403", "invoke/" + CLAUDE_ID, {"X-Mock-status": "403"}),
    dep("converse", "converse/" + CLAUDE_ID),
    dep("nova-invoke", "invoke/amazon.nova-lite-v1:0"),
])


def prices(g):
    with open(os.path.join(g.dir, "prices.yaml"), "a") as f:
        f.write("\"%s\":\n  input_cost_per_token: 3e-6\n  output_cost_per_token: 1.5e-5\n"
                "  cache_read_input_token_cost: 3e-7\n  cache_creation_input_token_cost: 3.75e-6\n" % CLAUDE_ID)


def last(mock):
    l = mock.get("/mock/last")
    return l, json.loads(l["body"]) if l.get("body") else {}


def signed(mock, l):
    v = sigv4_ok(l, "http://127.0.0.1:%d%s" % (mock.port, l["path"]), KEY, SECRET, "us-east-1")
    if v is None:
        diag("no botocore: the signature is not checked here")
    else:
        ok(v, "  signed: botocore computes the same signature", l["headers"].get("Authorization"))


def priced(gw, h, what, stream=None):
    rec = gw.record(h.get("x-tollgate-request-id"))
    told = stream_cost(stream) if stream is not None else h.get("x-tollgate-response-cost")
    ok(rec and Decimal(rec["cost_usd"]) == COST and told is not None and Decimal(told) == COST,
       "  %s: priced exactly, cache writes included: %s" % (what, COST), (rec and rec["cost_usd"], told))
    return rec


def test_messages(gw, mock):
    body = {"model": "br-claude", "max_tokens": 2048, "thinking": {"type": "enabled", "budget_tokens": 1024},
            "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "hello"}]}
    st, h, data = gw.post("/v1/messages", body, headers={"anthropic-version": "2023-06-01"})
    m = json.loads(data) if st == 200 else {}
    ok(st == 200 and m.get("type") == "message" and m.get("usage", {}).get("cache_creation_input_tokens") == 300,
       "Anthropic client -> Claude on Bedrock: relayed through InvokeModel", (st, data[:300]))
    l, up = last(mock)
    eq(l.get("path"), PATH + "invoke", "  at /invoke, the id percent-encoded")
    eq(l.get("verdict"), "ok", "  the mock's judge takes it as InvokeModel's Claude body")
    ok("model" not in up and "stream" not in up and up.get("anthropic_version") == "bedrock-2023-05-31",
       "  without the model and stream, with Bedrock's anthropic_version", up)
    ok(up.get("thinking") == body["thinking"] and up.get("system") == body["system"],
       "  thinking and cache_control reach the model as sent", up)
    signed(mock, l)
    priced(gw, h, "from Anthropic's usage")

    st, h, data = gw.post("/v1/messages", dict(body, stream=True), headers={"anthropic-version": "2023-06-01"})
    evs = sse(data)
    names = [n for n, _ in evs]
    text = "".join(d.get("delta", {}).get("text", "") for n, d in evs if n == "content_block_delta")
    ok(st == 200 and names[:1] == ["message_start"] and names[-1:] == ["message_stop"] and text,
       "  streamed: InvokeModel's frames reach the client as Anthropic's own events", names[:3] + names[-2:])
    eq(h.get("content-type"), "text/event-stream", "  as text/event-stream, not AWS's frames")
    l, up = last(mock)
    ok(l.get("path") == PATH + "invoke-with-response-stream" and "stream" not in up,
       "  at /invoke-with-response-stream, the path saying it", l.get("path"))
    signed(mock, l)
    ok(data.index(b": tollgate-cost") < data.index(b"event: message_stop"),
       "  message_stop held until the record is committed")
    priced(gw, h, "the stream", data)

    st, h, data = gw.post("/v1/chat/completions", {"model": "br-claude", "messages": [{"role": "user", "content": "hi"}]})
    l, _ = last(mock)
    ok(st == 200 and l.get("path") == PATH + "converse", "a chat client to the same deployment: Converse",
       (st, l.get("path")))
    priced(gw, h, "from Converse's usage, the same")


def test_routes(gw, mock):
    st, h, data = gw.post("/v1/chat/completions", {"model": "invoke", "messages": [{"role": "user", "content": "hi"}]})
    m = json.loads(data) if st == 200 else {}
    l, up = last(mock)
    ok(st == 200 and m.get("object") == "chat.completion" and l.get("path") == PATH + "invoke" and
       l.get("verdict") == "ok", "bedrock/invoke/: a chat client translated to Claude's body, at /invoke",
       (st, l.get("path"), l.get("verdict")))
    ok(up.get("max_tokens") and "model" not in up, "  with max_tokens, without the model", up)
    priced(gw, h, "the same as natively")
    st, h, data = gw.post("/v1/chat/completions", {"model": "invoke", "stream": True,
                                                    "messages": [{"role": "user", "content": "hi"}]})
    chunks = [d for _, d in sse(data) if isinstance(d, dict)]
    text = "".join((c.get("choices") or [{}])[0].get("delta", {}).get("content") or "" for c in chunks
                   if c.get("choices"))
    ok(st == 200 and text and b"data: [DONE]" in data, "  streamed: unwrapped, then translated to chat chunks",
       data[-200:])
    priced(gw, h, "the stream", data)
    st, h, data = gw.post("/v1/messages", {"model": "converse", "max_tokens": 64,
                                           "messages": [{"role": "user", "content": "hi"}]})
    l, _ = last(mock)
    ok(st == 200 and l.get("path") == PATH + "converse", "bedrock/converse/: an Anthropic client too goes "
       "through Converse", (st, l.get("path")))
    st, _, data = gw.post("/v1/messages", {"model": "nova-invoke", "max_tokens": 64,
                                           "messages": [{"role": "user", "content": "hi"}]})
    ok(st == 400 and b"InvokeModel (invoke/) is served for Claude" in data,
       "bedrock/invoke/ with a model that is not Claude: left out, saying so", (st, data[:300]))


def test_errors(gw, mock):
    st, h, data = gw.post("/v1/messages", {"model": "claude-429", "max_tokens": 64,
                                           "messages": [{"role": "user", "content": "hi"}]})
    e = json.loads(data) if data.startswith(b"{") else {}
    ok(st == 429 and e.get("type") == "error" and e.get("error", {}).get("type") == "rate_limit_error" and
       "mockprovider" in e.get("error", {}).get("message", ""),
       "Bedrock's throttling to an Anthropic client: 429 in Anthropic's error format, its message kept", (st, e))
    st, h, data = gw.post("/v1/chat/completions", {"model": "invoke-403",
                                                    "messages": [{"role": "user", "content": "hi"}]})
    e = json.loads(data).get("error", {}) if data.startswith(b"{") else {}
    ok(st == 403 and "mockprovider" in e.get("message", ""),
       "Bedrock's access denied to a chat client (through InvokeModel): 403 in OpenAI's format", (st, data[:300]))
    st, h, data = gw.post("/v1/messages", {"model": "claude-bad", "max_tokens": 64, "stream": True,
                                           "messages": [{"role": "user", "content": "hi"}]})
    evs = sse(data)
    errs = [d for n, d in evs if n == "error"]
    ok(st == 200 and errs and "corrupt" in errs[0].get("error", {}).get("message", ""),
       "a frame with a bad CRC: the Anthropic client's stream ends with an error event saying so",
       [n for n, _ in evs])
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec is not None, "  and the request is recorded", rec)
    st, h, data = gw.post("/v1/messages", {"model": "claude-throttled", "max_tokens": 64, "stream": True,
                                           "messages": [{"role": "user", "content": "hi"}]})
    evs = sse(data)
    names = [n for n, _ in evs]
    ok(st == 200 and names[:1] == ["message_start"] and names[-1:] == ["error"] and
       "Too many tokens" in evs[-1][1].get("error", {}).get("message", "") and "message_stop" not in names,
       "an exception frame mid-stream: the Anthropic client's stream ends with its error event, "
       "the provider's message kept", names[-3:])
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec and "stream_incomplete" in (rec.get("flags") or []) and "upstream_error" in (rec.get("flags") or []),
       "  recorded, flagged upstream_error and stream_incomplete", rec and rec.get("flags"))
    st, h, data = gw.post("/v1/chat/completions", {"model": "invoke-throttled", "stream": True,
                                                    "messages": [{"role": "user", "content": "hi"}]})
    errs = [d for _, d in sse(data) if isinstance(d, dict) and d.get("error")]
    ok(st == 200 and errs and "Too many tokens" in errs[0]["error"].get("message", ""),
       "  to a chat client through invoke/: an error chunk saying so", data[-300:])


def main():
    mock = Mock()
    gw = Gateway(mock, EXTRA.replace("%(mock)d", str(mock.port)), prepare=prices)
    try:
        test_messages(gw, mock)
        test_routes(gw, mock)
        test_errors(gw, mock)
    finally:
        teardown(gw, mock)
    done()


main()
