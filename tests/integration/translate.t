#!/usr/bin/python3
"""Every client format to every dialect, through the gateway, against the
mock provider: OpenAI chat and Responses clients to an Anthropic model, an
Anthropic client to an OpenAI-compatible model, streamed and not, with tool
calls; what reached the mock is valid for its dialect (the mock judges it,
with checks of its own); errors come back in the client's format with the
provider's status; fields without an equivalent are dropped or refused as
drop_params says; and a translated request costs exactly what the same
request costs natively, priced from the provider's own usage."""
import json
import os
import subprocess
import sys
import tempfile
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, Gateway, Mock, diag, done, eq, ok, sigv4_ok, sse, teardown  # noqa: E402

# the mock's usage when not told otherwise, and knobs through the deployment's headers
# strict: the mock refuses, as its provider would, a request that is not valid for it
KNOBS = {"X-Mock-prompt_tokens": "1200", "X-Mock-completion_tokens": "80",
         "X-Mock-cached_tokens": "200", "X-Mock-strict": "1"}


def headers_yaml(extra):
    h = dict(KNOBS, **extra)
    return "".join("        %s: \"%s\"\n" % kv for kv in h.items())


def anthropic_dep(name, extra=None, params=""):
    return """\
  - model_name: %s
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: http://127.0.0.1:%%(mock)d
      api_key: anthropic-upstream-key
%s      extra_headers:
%s""" % (name, params, headers_yaml(extra or {}))


def gemini_dep(name, extra=None):
    # thoughts, which Gemini counts apart from the candidates and bills as output
    return """\
  - model_name: %s
    litellm_params:
      model: gemini/gemini-2.5-flash
      api_base: http://127.0.0.1:%%(mock)d
      api_key: gem-upstream-key
      extra_headers:
%s""" % (name, headers_yaml(dict({"X-Mock-reasoning_tokens": "30"}, **(extra or {}))))


AWS_KEY, AWS_SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
BEDROCK_MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def bedrock_dep(name, params="", extra=None):
    return """\
  - model_name: %s
    litellm_params:
      model: bedrock/%s
      api_base: http://127.0.0.1:%%(mock)d
      aws_access_key_id: %s
      aws_secret_access_key: %s
      aws_region_name: us-east-1
%s      extra_headers:
%s""" % (name, BEDROCK_MODEL, AWS_KEY, AWS_SECRET, params, headers_yaml(extra or {}))


def openai_dep(name, extra=None, params=""):
    return """\
  - model_name: %s
    litellm_params:
      <<: *mock
      model: openai/gpt-4o-mini
%s      extra_headers:
%s""" % (name, params, headers_yaml(extra or {}))


EXTRA = "".join([
    anthropic_dep("c"),
    anthropic_dep("c-429", {"X-Mock-status": "429"}),
    anthropic_dep("c-strict", params="      drop_params: false\n"),
    openai_dep("g"),
    openai_dep("g-429", {"X-Mock-status": "429"}),
    anthropic_dep("c-tools", {"X-Mock-tool_calls": "2"}),
    anthropic_dep("c-native").replace("claude-sonnet-4-5", "claude-native-9"),
    gemini_dep("gem"),
    gemini_dep("gem-tools", {"X-Mock-tool_calls": "2"}),
    gemini_dep("gem-429", {"X-Mock-status": "429"}),
    bedrock_dep("br"),
    bedrock_dep("br-tok", "      aws_session_token: FwoGZXIvYXdzEBYaDH+token/x=\n"),
    bedrock_dep("br-tools", extra={"X-Mock-tool_calls": "2"}),
    bedrock_dep("br-bad", extra={"X-Mock-fault": "malformed"}),
    openai_dep("g-tools", {"X-Mock-tool_calls": "2"}),
    # LiteLLM's openai/responses/: a model served in the Responses dialect
    openai_dep("r").replace("openai/gpt-4o-mini", "openai/responses/gpt-4o-mini"),
    openai_dep("r-tools", {"X-Mock-tool_calls": "2"}).replace("openai/gpt-4o-mini",
                                                             "openai/responses/gpt-4o-mini"),
    "  - model_name: copilot-here\n    litellm_params: {model: github_copilot/gpt-4o}\n",
])

# claude-sonnet-4-5 and gpt-4o-mini in tg.PRICES; gemini-2.5-flash added by main()
CLAUDE = {"in": Decimal("3e-6"), "out": Decimal("1.5e-5"), "read": Decimal("3e-7")}
GPT = {"in": Decimal("1.5e-7"), "out": Decimal("6e-7"), "read": Decimal("7.5e-8")}


def chat_stream(data):
    """A chat stream's events, its chunks, and the text of their deltas."""
    evs = sse(data)
    chunks = [d for _, d in evs if isinstance(d, dict)]
    text = "".join((c.get("choices") or [{}])[0].get("delta", {}).get("content") or "" for c in chunks
                   if c.get("choices"))
    return evs, chunks, text


def stream_calls(data):
    """A chat stream's tool calls put together by index: their arguments, their ids (as the
    first delta of each gave it) and the finish_reason."""
    args, ids, finish = {}, {}, None
    for _, d in sse(data):
        for c in (d.get("choices") or []) if isinstance(d, dict) else []:
            finish = c.get("finish_reason") or finish
            for tc in c.get("delta", {}).get("tool_calls") or []:
                ids[tc["index"]] = ids.get(tc["index"]) or tc.get("id")
                args[tc["index"]] = args.get(tc["index"], "") + ((tc.get("function") or {}).get("arguments") or "")
    return [args[k] for k in sorted(args)], [ids[k] for k in sorted(ids)], finish


def mock_last(mock):
    last = mock.get("/mock/last")
    return last, json.loads(last["body"]) if isinstance(last.get("body"), str) else last.get("body")


def judged_valid(mock, what):
    """What reached the mock, which its judge found valid for its provider (the mock runs
    with strict=1 here, so an invalid request would have been refused already)."""
    last, body = mock_last(mock)
    eq(last.get("verdict"), "ok", "%s: the mock's judge takes what it was sent" % what)
    return last, body


# the mock's tool calls (tool_calls knob): get_weather, these arguments, call k
WEATHER = [{"city": "Paris", "n": 0}, {"city": "Paris", "n": 1}]


def cost_of(rec):
    return Decimal(rec["cost_usd"]) if rec else None


def native_record(gw, path, body):
    st, h, data = gw.post(path, body)
    return st, gw.record(h.get("x-tollgate-request-id"))


def test_chat_to_anthropic(gw, mock):
    msgs = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
    st, h, data = gw.post("/v1/chat/completions", {"model": "c", "messages": msgs, "max_tokens": 64,
                                                    "temperature": 0.5, "stop": ["END"]})
    eq(st, 200, "chat client -> Anthropic model: 200")
    body = json.loads(data)
    eq(body.get("object"), "chat.completion", "the answer is a chat completion")
    msg = body["choices"][0]["message"]
    ok(msg.get("role") == "assistant" and isinstance(msg.get("content"), str) and msg["content"],
       "with the assistant's text", msg)
    eq(body["choices"][0].get("finish_reason"), "stop", "end_turn is 'stop'")
    u = body.get("usage", {})
    # the mock's Anthropic usage: input 1200, cache read 200, output 80 (input excludes the cache)
    last, up = judged_valid(mock, "chat -> messages")
    eq(last.get("path"), "/v1/messages", "the provider was called on /v1/messages")
    eq(up.get("system"), "be brief", "the system message became 'system'")
    eq(up.get("stop_sequences"), ["END"], "stop became stop_sequences")
    eq(up.get("max_tokens"), 64, "max_tokens kept")
    ok("messages" in up and up["messages"][0]["role"] == "user", "the user's message", up)
    hdrs = {k.lower(): v for k, v in last["headers"].items()}
    eq(hdrs.get("x-api-key"), "anthropic-upstream-key", "Anthropic's key header")
    eq(hdrs.get("anthropic-version"), "2023-06-01", "and its version")
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec and rec.get("endpoint") == "/v1/chat/completions" and
       rec.get("upstream_endpoint") == "/v1/messages", "the record keeps both formats", rec)
    # the same request sent natively
    st2, native = native_record(gw, "/v1/messages", {"model": "c", "max_tokens": 64, "system": "be brief",
                                                     "messages": [{"role": "user", "content": "hello"}]})
    eq(st2, 200, "the same request natively: 200")
    ok(rec and native and cost_of(rec) == cost_of(native) and cost_of(rec) > 0,
       "translated and native cost the same, exactly", (rec and rec["cost_usd"], native and native["cost_usd"]))
    eq(h.get("x-tollgate-response-cost"), native and native["cost_usd"], "and the header says so")
    if rec and native:
        eq(rec["tokens"], native["tokens"], "from the same token counts")
    eq(u.get("prompt_tokens"), (rec or {}).get("tokens", {}).get("input", 0) +
       (rec or {}).get("tokens", {}).get("cache_read", 0) +
       (rec or {}).get("tokens", {}).get("cache_write_5m", 0),
       "the client's prompt_tokens count cached tokens (LiteLLM's convention)")


def test_chat_stream_to_anthropic(gw, mock):
    st, h, data = gw.post("/v1/chat/completions", {
        "model": "c", "stream": True, "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "hi"}]})
    eq(st, 200, "streamed chat -> Anthropic: 200")
    evs = sse(data)
    chunks = [d for _, d in evs if isinstance(d, dict)]
    ok(evs and evs[-1][1] == "[DONE]", "ends with [DONE]", evs[-3:])
    ok(chunks and all(c.get("object") == "chat.completion.chunk" for c in chunks), "every event a chat chunk",
       chunks[:2])
    text = "".join((c.get("choices") or [{}])[0].get("delta", {}).get("content") or "" for c in chunks
                   if c.get("choices"))
    ok(text, "the text arrives in deltas", text)
    finals = [c for c in chunks if c.get("choices") and c["choices"][0].get("finish_reason")]
    eq(len(finals), 1, "one chunk carries the finish_reason")
    usage = [c for c in chunks if c.get("choices") == [] and c.get("usage")]
    eq(len(usage), 1, "the usage chunk the client asked for")
    ok(b": tollgate-cost " in data, "the cost comment is there")
    judged_valid(mock, "chat stream -> messages")
    rec = gw.record(h.get("x-tollgate-request-id"))
    st2, native = native_record(gw, "/v1/messages", {"model": "c", "max_tokens": 4096, "stream": True,
                                                     "messages": [{"role": "user", "content": "hi"}]})
    ok(rec and native and cost_of(rec) == cost_of(native) and cost_of(rec) > 0,
       "a translated stream costs what the native stream costs", (rec, native))

    st, h, data = gw.post("/v1/chat/completions", {"model": "c", "stream": True,
                                                    "messages": [{"role": "user", "content": "hi"}]})
    chunks = [d for _, d in sse(data) if isinstance(d, dict)]
    ok(st == 200 and not any(c.get("choices") == [] for c in chunks),
       "no usage chunk when the client did not ask for one")


def test_tool_requests(gw, mock):
    """Tools, tool choice, tool calls and results reach each dialect in its own shape, ids kept
    (the tool calls of answers: test_tool_answers)."""
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "weather",
                                               "parameters": {"type": "object",
                                                              "properties": {"city": {"type": "string"}}}}}]
    calls = [{"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
             {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}]
    history = [{"role": "user", "content": "weather?"},
               {"role": "assistant", "content": None, "tool_calls": calls},
               {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
               {"role": "tool", "tool_call_id": "call_b", "content": "rain"}]
    st, h, data = gw.post("/v1/chat/completions", {"model": "c", "tools": tools, "tool_choice": "auto",
                                                    "parallel_tool_calls": False, "messages": history})
    eq(st, 200, "chat history with tool calls -> Anthropic: 200")
    _, up = mock_last(mock)
    ok(up.get("tools") and up["tools"][0].get("name") == "get_weather" and "input_schema" in up["tools"][0],
       "the tool became Anthropic's", up.get("tools"))
    eq(up.get("tool_choice"), {"type": "auto", "disable_parallel_tool_use": True},
       "tool_choice auto, parallel_tool_calls false")
    roles = [m["role"] for m in up.get("messages", [])]
    eq(roles, ["user", "assistant", "user"], "two tool messages merged into one user message")
    uses = [b for b in up["messages"][1]["content"] if b.get("type") == "tool_use"] if len(roles) == 3 else []
    eq([(u.get("id"), u.get("input")) for u in uses], [("call_a", {"city": "Paris"}), ("call_b", {"city": "Rome"})],
       "tool calls became tool_use blocks, ids kept, arguments parsed")
    results = [b for b in up["messages"][2]["content"] if b.get("type") == "tool_result"] \
        if len(roles) == 3 else []
    eq([r.get("tool_use_id") for r in results], ["call_a", "call_b"], "the results keep their ids")

    atools = [{"name": "get_weather", "description": "weather",
               "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    st, h, data = gw.post("/v1/messages", {"model": "g", "max_tokens": 100, "tools": atools,
                                           "tool_choice": {"type": "any"}, "messages": [
                                               {"role": "user", "content": "weather?"},
                                               {"role": "assistant", "content": [
                                                   {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                                    "input": {"city": "Oslo"}}]},
                                               {"role": "user", "content": [
                                                   {"type": "tool_result", "tool_use_id": "toolu_1",
                                                    "content": "snow"}]}]})
    eq(st, 200, "Anthropic history with tool_use -> OpenAI: 200")
    _, up = mock_last(mock)
    eq(up.get("tool_choice"), "required", "tool_choice any is 'required'")
    ok(up.get("tools") and up["tools"][0]["function"]["name"] == "get_weather", "the tool became OpenAI's")
    msgs = up.get("messages", [])
    tc = msgs[1].get("tool_calls", [{}])[0] if len(msgs) > 2 else {}
    ok(tc.get("id") == "toolu_1" and json.loads(tc.get("function", {}).get("arguments", "null")) == {"city": "Oslo"},
       "tool_use became a tool call, id kept", msgs)
    ok(len(msgs) > 2 and msgs[2].get("role") == "tool" and msgs[2].get("tool_call_id") == "toolu_1",
       "tool_result became a tool message", msgs)


def test_anthropic_to_openai(gw, mock):
    body = {"model": "g", "max_tokens": 100, "system": [{"type": "text", "text": "terse"}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hello",
                                                        "cache_control": {"type": "ephemeral"}}]}]}
    st, h, data = gw.post("/v1/messages", body, headers={"anthropic-version": "2023-06-01"})
    eq(st, 200, "Anthropic client -> OpenAI model: 200")
    m = json.loads(data)
    ok(m.get("type") == "message" and m.get("role") == "assistant" and m["content"][0]["type"] == "text",
       "the answer is an Anthropic message", m)
    eq(m.get("stop_reason"), "end_turn", "stop is end_turn")
    u = m.get("usage", {})
    last, up = judged_valid(mock, "messages -> chat")
    eq(last.get("path"), "/v1/chat/completions", "the provider was called on chat/completions")
    eq(up["messages"][0], {"role": "system", "content": "terse"}, "system became the first message")
    ok("cache_control" not in json.dumps(up), "cache_control markers are not sent to OpenAI")
    hdrs = {k.lower(): v for k, v in last["headers"].items()}
    eq(hdrs.get("authorization"), "Bearer mock-upstream-key", "OpenAI's auth header")
    ok("anthropic-version" not in hdrs, "no Anthropic header to OpenAI")
    rec = gw.record(h.get("x-tollgate-request-id"))
    st2, native = native_record(gw, "/v1/chat/completions", {
        "model": "g", "max_tokens": 100, "messages": [{"role": "system", "content": "terse"},
                                                      {"role": "user", "content": "hello"}]})
    ok(rec and native and cost_of(rec) == cost_of(native) and cost_of(rec) > 0,
       "translated and native cost the same", (rec and rec["cost_usd"], native and native["cost_usd"]))
    # the mock's chat usage: prompt 1200 of which 200 cached, completion 80
    eq((u.get("input_tokens"), u.get("cache_read_input_tokens"), u.get("output_tokens")), (1000, 200, 80),
       "usage in Anthropic's convention: input excludes the cached tokens")
    eq(Decimal(h.get("x-tollgate-response-cost")),
       1000 * GPT["in"] + 200 * GPT["read"] + 80 * GPT["out"], "the cost header is exact")

    st, h, data = gw.post("/v1/messages", dict(body, stream=True))
    eq(st, 200, "streamed Anthropic client -> OpenAI: 200")
    names = [n for n, _ in sse(data)]
    ok(names and names[0] == "message_start" and names[-1] == "message_stop" and
       "content_block_delta" in names and "message_delta" in names,
       "message_start ... message_stop", names)
    delta = [d for n, d in sse(data) if n == "message_delta"]
    ok(delta and delta[0].get("usage", {}).get("output_tokens") == 80, "message_delta carries the usage",
       delta)
    _, up = judged_valid(mock, "messages stream -> chat")
    eq(up.get("stream_options"), {"include_usage": True}, "tollgate asked the OpenAI stream for usage")
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec and native and cost_of(rec) == cost_of(native), "the stream costs the same")


def test_tools_anthropic_to_openai(gw, mock):
    tools = [{"name": "get_weather", "description": "weather",
              "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    st, h, data = gw.post("/v1/messages", {"model": "g-tools", "max_tokens": 100, "tools": tools,
                                           "tool_choice": {"type": "any"},
                                           "messages": [{"role": "user", "content": "weather?"}]})
    eq(st, 200, "Anthropic tools -> OpenAI: 200")
    m = json.loads(data)
    uses = [b for b in m.get("content", []) if b.get("type") == "tool_use"]
    eq(len(uses), 2, "two tool_use blocks")
    ok(all(isinstance(b.get("input"), dict) and b.get("id") for b in uses), "inputs parsed, ids kept", uses)
    eq(m.get("stop_reason"), "tool_use", "tool_calls is tool_use")
    _, up = judged_valid(mock, "anthropic tools -> chat")
    eq(up.get("tool_choice"), "required", "tool_choice any is 'required'")
    ok(up.get("tools") and up["tools"][0]["function"]["name"] == "get_weather", "the tool became OpenAI's")

    st, h, data = gw.post("/v1/messages", {"model": "g-tools", "max_tokens": 100, "tools": tools,
                                           "stream": True, "messages": [{"role": "user", "content": "w?"}]})
    parts, starts = {}, {}
    for n, d in sse(data):
        if n == "content_block_start" and d["content_block"]["type"] == "tool_use":
            starts[d["index"]] = d["content_block"]
        if n == "content_block_delta" and d["delta"].get("type") == "input_json_delta":
            parts[d["index"]] = parts.get(d["index"], "") + d["delta"]["partial_json"]
    eq(len(starts), 2, "streamed: two tool_use blocks")
    ok(all(json.loads(p) is not None for p in parts.values()) and set(parts) == set(starts),
       "their input_json_delta pieces join into JSON", parts)


def test_responses(gw, mock):
    st, h, data = gw.post("/v1/responses", {"model": "c", "instructions": "be brief", "input": "hello",
                                            "max_output_tokens": 50})
    eq(st, 200, "Responses client -> Anthropic model: 200")
    r = json.loads(data)
    ok(r.get("object") == "response" and r.get("status") == "completed", "a Responses object", r)
    texts = [p.get("text") for it in r.get("output", []) if it.get("type") == "message"
             for p in it.get("content", []) if p.get("type") == "output_text"]
    ok(texts and texts[0], "with output_text", r.get("output"))
    ok(r.get("usage", {}).get("input_tokens") and r["usage"].get("output_tokens") == 80, "and usage",
       r.get("usage"))
    _, up = judged_valid(mock, "responses -> messages")
    eq(up.get("system"), "be brief", "instructions became system")
    eq(up.get("max_tokens"), 50, "max_output_tokens became max_tokens")
    rec = gw.record(h.get("x-tollgate-request-id"))
    st2, native = native_record(gw, "/v1/messages", {"model": "c", "max_tokens": 50, "system": "be brief",
                                                     "messages": [{"role": "user", "content": "hello"}]})
    ok(rec and native and cost_of(rec) == cost_of(native), "costs the same as native",
       (rec and rec["cost_usd"], native and native["cost_usd"]))

    st, h, data = gw.post("/v1/responses", {"model": "c", "input": "hello", "stream": True})
    names = [n for n, _ in sse(data)]
    ok(st == 200 and names and names[0] == "response.created" and names[-1] == "response.completed" and
       "response.output_text.delta" in names, "streamed: response.created ... response.completed", names)
    seqs = [d.get("sequence_number") for _, d in sse(data) if isinstance(d, dict)]
    eq(seqs, list(range(len(seqs))), "sequence numbers count up from 0")
    done_ev = [d for n, d in sse(data) if n == "response.completed"]
    ok(done_ev and done_ev[0]["response"].get("usage", {}).get("output_tokens") == 80,
       "response.completed has the usage", done_ev)

    st, h, data = gw.post("/v1/responses", {"model": "c", "input": "x", "previous_response_id": "resp_1"})
    e = json.loads(data).get("error", {})
    ok(st == 400 and e.get("param") == "previous_response_id",
       "previous_response_id needs state the provider does not keep: 400 naming it", (st, e))

    st, h, data = gw.post("/v1/responses", {"model": "g", "input": "hello"})
    last, _ = mock_last(mock)
    ok(st == 200 and last.get("path") == "/v1/responses", "an OpenAI model takes Responses as is", last.get("path"))


def test_tool_answers(gw, mock):
    """The provider's tool calls reach each client in its shape, ids kept, whole and streamed."""
    st, h, data = gw.post("/v1/chat/completions", {"model": "c-tools", "messages": [
        {"role": "user", "content": "weather?"}]})
    m = json.loads(data)["choices"][0] if st == 200 else {}
    calls = m.get("message", {}).get("tool_calls") or []
    eq([json.loads(c["function"]["arguments"]) for c in calls], WEATHER,
       "Anthropic tool_use -> chat tool_calls, arguments as JSON text")
    ok(all(c["id"].startswith("toolu_mock") and c["type"] == "function" and
           c["function"]["name"] == "get_weather" for c in calls), "their ids are the provider's", calls)
    eq(m.get("finish_reason"), "tool_calls", "tool_use is finish_reason tool_calls")
    judged_valid(mock, "chat -> messages, tool answer")

    st, h, data = gw.post("/v1/chat/completions", {"model": "c-tools", "stream": True, "messages": [
        {"role": "user", "content": "weather?"}]})
    args, ids, finish = stream_calls(data)
    eq([json.loads(a) for a in args], WEATHER, "streamed: input_json_delta -> tool_call argument deltas, by index")
    ok(all((i or "").startswith("toolu_mock") for i in ids), "  the ids on their first deltas", ids)
    eq(finish, "tool_calls", "  finish_reason tool_calls")

    st, h, data = gw.post("/v1/responses", {"model": "c-tools", "input": "weather?"})
    r = json.loads(data) if st == 200 else {}
    fcs = [o for o in r.get("output", []) if o.get("type") == "function_call"]
    eq([json.loads(o["arguments"]) for o in fcs], WEATHER, "Anthropic tool_use -> Responses function_call items")
    ok(all(o.get("call_id", "").startswith("toolu_mock") for o in fcs), "  call_id is the provider's id", fcs)
    st, h, data = gw.post("/v1/responses", {"model": "c-tools", "input": "weather?", "stream": True})
    args = {}
    for n, d in sse(data):
        if n == "response.function_call_arguments.delta":
            args[d["output_index"]] = args.get(d["output_index"], "") + d["delta"]
    eq([json.loads(args[k]) for k in sorted(args)], WEATHER, "  streamed: function_call_arguments deltas")
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec and cost_of(rec) > 0, "  priced", rec)


def test_responses_upstream(gw, mock):
    """Chat and Messages clients to a model that speaks only Responses (openai/responses/)."""
    st, h, data = gw.post("/v1/chat/completions", {"model": "r", "max_tokens": 64, "messages": [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]})
    eq(st, 200, "chat client -> Responses-only model: 200")
    m = json.loads(data)
    ok(m.get("object") == "chat.completion" and m["choices"][0]["message"].get("content"),
       "a chat completion with the text", m)
    last, up = judged_valid(mock, "chat -> responses")
    eq(last.get("path"), "/v1/responses", "the provider was called on /v1/responses")
    eq((up.get("model"), up.get("instructions"), up.get("max_output_tokens")),
       ("gpt-4o-mini", "be brief", 64), "model, system as instructions, max_tokens as max_output_tokens")
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec and rec.get("upstream_endpoint") == "/v1/responses", "the record keeps the dialect", rec)
    st2, native = native_record(gw, "/v1/responses", {"model": "r", "instructions": "be brief",
                                                      "input": "hello", "max_output_tokens": 64})
    ok(rec and native and cost_of(rec) == cost_of(native) and cost_of(rec) > 0,
       "translated and native Responses cost the same, exactly", (rec and rec["cost_usd"],
                                                                   native and native["cost_usd"]))
    eq(Decimal(h.get("x-tollgate-response-cost")),
       1000 * GPT["in"] + 200 * GPT["read"] + 80 * GPT["out"], "  the cost header is exact")
    eq(m.get("usage", {}).get("prompt_tokens"), 1200, "  usage in chat's convention")

    st, h, data = gw.post("/v1/chat/completions", {"model": "r", "stream": True,
                                                    "stream_options": {"include_usage": True},
                                                    "messages": [{"role": "user", "content": "hi"}]})
    evs, chunks, text = chat_stream(data)
    ok(st == 200 and text and evs[-1][1] == "[DONE]", "streamed: chat chunks with the text, then [DONE]",
       evs[-3:])
    usage = [c for c in chunks if c.get("choices") == [] and c.get("usage")]
    ok(len(usage) == 1 and usage[0]["usage"].get("completion_tokens") == 80, "  the usage chunk asked for",
       usage)
    judged_valid(mock, "chat stream -> responses")
    rec = gw.record(h.get("x-tollgate-request-id"))
    st2, native = native_record(gw, "/v1/responses", {"model": "r", "input": "hi", "stream": True})
    ok(rec and native and cost_of(rec) == cost_of(native) and cost_of(rec) > 0,
       "  a translated stream costs what the native Responses stream costs", (rec, native))

    st, h, data = gw.post("/v1/messages", {"model": "r", "max_tokens": 64, "messages": [
        {"role": "user", "content": "hello"}]})
    m = json.loads(data)
    ok(st == 200 and m.get("type") == "message" and m["content"][0]["type"] == "text" and
       m.get("stop_reason") == "end_turn", "Anthropic client -> Responses-only model: a message", m)
    judged_valid(mock, "messages -> responses")
    st, h, data = gw.post("/v1/messages", {"model": "r", "max_tokens": 64, "stream": True, "messages": [
        {"role": "user", "content": "hello"}]})
    names = [n for n, _ in sse(data)]
    ok(st == 200 and names and names[0] == "message_start" and names[-1] == "message_stop",
       "  streamed: message_start ... message_stop", names)
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec and native and cost_of(rec) == cost_of(native), "  and costs the same", (rec, native))

    # a tool round trip: calls and results as function_call and function_call_output, ids kept
    calls = [{"id": "call_a", "type": "function", "function": {"name": "get_weather",
                                                                "arguments": '{"city":"Oslo"}'}}]
    st, h, data = gw.post("/v1/chat/completions", {"model": "r-tools", "tools": [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        "messages": [{"role": "user", "content": "weather?"},
                     {"role": "assistant", "content": None, "tool_calls": calls},
                     {"role": "tool", "tool_call_id": "call_a", "content": "snow"}]})
    _, up = judged_valid(mock, "chat tools -> responses")
    items = [(i.get("type"), i.get("call_id")) for i in up.get("input", []) if i.get("type")]
    ok(("function_call", "call_a") in items and ("function_call_output", "call_a") in items,
       "tool calls and results became function_call and function_call_output", up.get("input"))
    ok(up.get("tools") and up["tools"][0].get("name") == "get_weather", "  the tool in Responses' shape",
       up.get("tools"))
    m = json.loads(data)["choices"][0] if st == 200 else {}
    calls = m.get("message", {}).get("tool_calls") or []
    eq([json.loads(c["function"]["arguments"]) for c in calls], WEATHER,
       "  the provider's function_call items -> chat tool_calls")
    ok(all(c["id"].startswith("call_mock") for c in calls), "  with the provider's call ids", calls)
    st, h, data = gw.post("/v1/chat/completions", {"model": "r-tools", "stream": True, "messages": [
        {"role": "user", "content": "weather?"}]})
    args, _, _ = stream_calls(data)
    eq([json.loads(a) for a in args], WEATHER, "  streamed: argument deltas by index")


def test_json_output(gw, mock):
    """response_format to Anthropic: a forced tool whose input is the answer, for a model without
    structured output of its own; output_format for one with it (the price map says which)."""
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "n": {"type": "integer"}}}
    body = {"model": "c", "messages": [{"role": "user", "content": "weather as JSON"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": schema}}}
    st, h, data = gw.post("/v1/chat/completions", body)
    m = json.loads(data)["choices"][0] if st == 200 else {}
    ok(st == 200 and json.loads(m.get("message", {}).get("content") or "null") == WEATHER[0] and
       not m["message"].get("tool_calls") and m.get("finish_reason") == "stop",
       "json_schema -> Anthropic: the forced tool's input is the answer's text, finish 'stop'", m)
    _, up = judged_valid(mock, "json_schema -> a forced tool")
    eq([(t.get("name"), t.get("input_schema")) for t in up.get("tools", [])], [("tollgate_json", schema)],
       "  the schema became the tool's input_schema")
    eq(up.get("tool_choice"), {"type": "tool", "name": "tollgate_json"}, "  and the tool is forced")
    st, h, data = gw.post("/v1/chat/completions", dict(body, stream=True))
    text, finish = "", None
    for _, d in sse(data):
        for c in (d.get("choices") or []) if isinstance(d, dict) else []:
            text += c.get("delta", {}).get("content") or ""
            finish = c.get("finish_reason") or finish
            ok(not c.get("delta", {}).get("tool_calls"), "  streamed: no tool call shows", c)
    ok(json.loads(text or "null") == WEATHER[0] and finish == "stop",
       "  streamed: the input_json_delta pieces are the content", (text, finish))
    st, h, data = gw.post("/v1/responses", {"model": "c", "input": "weather as JSON", "text": {
        "format": {"type": "json_schema", "name": "w", "schema": schema}}})
    r = json.loads(data) if st == 200 else {}
    texts = [p.get("text") for it in r.get("output", []) if it.get("type") == "message"
             for p in it.get("content", []) if p.get("type") == "output_text"]
    ok(texts and json.loads(texts[0]) == WEATHER[0], "  a Responses client's text.format alike", r)
    json_rec = gw.record(h.get("x-tollgate-request-id"))
    ok(json_rec and cost_of(json_rec) > 0, "  priced from the provider's usage", json_rec)

    st, h, data = gw.post("/v1/chat/completions", dict(body, model="c-native"))
    _, up = judged_valid(mock, "json_schema -> output_format")
    ok(st == 200 and up.get("output_format") == {"type": "json_schema", "schema": schema} and
       "tools" not in up, "a model with structured output (supports_native_structured_output): "
       "output_format, no tool", up)
    st, h, data = gw.post("/v1/chat/completions", {"model": "c", "messages": [
        {"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {
            "name": "tollgate_json", "parameters": {"type": "object"}}}]})
    e = json.loads(data).get("error", {})
    ok(st == 400 and e.get("param") == "tools[0].function" and "tollgate_json" in e.get("message", ""),
       "a client's tool named tollgate_json: 400 naming it", (st, e))


GEMINI = {"in": Decimal("3e-7"), "out": Decimal("2.5e-6"), "read": Decimal("7.5e-8")}
# the mock's Gemini usage: promptTokenCount 1200 (cached 200 in it), candidates 50 + thoughts 30
GEMINI_COST = 1000 * GEMINI["in"] + 200 * GEMINI["read"] + 80 * GEMINI["out"]
# Bedrock's Converse usage from the mock: inputTokens 1000, cacheReadInputTokens 200, outputTokens 80
BEDROCK_COST = 1000 * CLAUDE["in"] + 200 * CLAUDE["read"] + 80 * CLAUDE["out"]


def test_gemini(gw, mock):
    """Every client format to Gemini's generateContent, streamed and not, with tools."""
    st, h, data = gw.post("/v1/chat/completions", {"model": "gem", "max_tokens": 64, "stop": ["END"],
                                                    "temperature": 0.2, "messages": [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]})
    m = json.loads(data) if st == 200 else {}
    ok(st == 200 and m.get("object") == "chat.completion" and m["choices"][0]["message"].get("content") and
       m["choices"][0].get("finish_reason") == "stop", "chat client -> Gemini: a chat completion", (st, data[:300]))
    last, up = judged_valid(mock, "chat -> gemini")
    eq(last.get("path"), "/v1beta/models/gemini-2.5-flash:generateContent", "  the model in the URL")
    hdrs = {k.lower(): v for k, v in last["headers"].items()}
    eq(hdrs.get("x-goog-api-key"), "gem-upstream-key", "  the key in x-goog-api-key")
    ok("authorization" not in hdrs, "  and no Authorization header")
    eq(up.get("systemInstruction"), {"parts": [{"text": "be brief"}]}, "  system as systemInstruction")
    eq(up.get("generationConfig"), {"maxOutputTokens": 64, "stopSequences": ["END"], "temperature": 0.2},
       "  max_tokens, stop, temperature in generationConfig")
    eq(up.get("contents"), [{"role": "user", "parts": [{"text": "hello"}]}], "  the user's turn")
    u = m.get("usage", {})
    eq((u.get("prompt_tokens"), u.get("completion_tokens"), (u.get("prompt_tokens_details") or {}).get(
        "cached_tokens"), (u.get("completion_tokens_details") or {}).get("reasoning_tokens")),
       (1200, 80, 200, 30), "  usage in chat's convention (thoughts in the completion)")
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec and cost_of(rec) == GEMINI_COST and Decimal(h.get("x-tollgate-response-cost")) == GEMINI_COST,
       "  priced from usageMetadata, exactly: %s" % GEMINI_COST, (rec and rec["cost_usd"],
                                                                  h.get("x-tollgate-response-cost")))
    eq((rec or {}).get("upstream_endpoint"), "/v1beta/models:generateContent", "  the record names it")

    st, h, data = gw.post("/v1/chat/completions", {"model": "gem", "stream": True,
                                                    "stream_options": {"include_usage": True},
                                                    "messages": [{"role": "user", "content": "hi"}]})
    evs, chunks, text = chat_stream(data)
    usage = [c for c in chunks if c.get("choices") == [] and c.get("usage")]
    ok(st == 200 and text and evs and evs[-1][1] == "[DONE]" and len(usage) == 1 and
       usage[0]["usage"]["completion_tokens"] == 80, "  streamed: the text, the usage chunk, [DONE]",
       evs[-3:])
    last, _ = judged_valid(mock, "chat stream -> gemini")
    eq(last.get("path"), "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
       "  streamGenerateContent with alt=sse")
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec and cost_of(rec) == GEMINI_COST and not (rec.get("flags") or []),
       "  a stream costs the same, from its last usageMetadata, and is whole", rec)

    st, h, data = gw.post("/v1/messages", {"model": "gem", "max_tokens": 64, "messages": [
        {"role": "user", "content": "hello"}]})
    m = json.loads(data) if st == 200 else {}
    ok(m.get("type") == "message" and m["content"][0]["type"] == "text" and m.get("stop_reason") == "end_turn"
       and m.get("usage", {}).get("output_tokens") == 80, "Anthropic client -> Gemini: a message", m)
    judged_valid(mock, "messages -> gemini")
    st, h, data = gw.post("/v1/messages", {"model": "gem", "max_tokens": 64, "stream": True, "messages": [
        {"role": "user", "content": "hello"}]})
    names = [n for n, _ in sse(data)]
    ok(st == 200 and names and names[0] == "message_start" and names[-1] == "message_stop",
       "  streamed: message_start ... message_stop", names)
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec and cost_of(rec) == GEMINI_COST, "  priced the same", rec)
    st, h, data = gw.post("/v1/responses", {"model": "gem", "input": "hello", "stream": True})
    done_ev = [d for n, d in sse(data) if n == "response.completed"]
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(st == 200 and done_ev and rec and cost_of(rec) == GEMINI_COST,
       "  a Responses client's stream: response.completed, priced the same", rec and rec["cost_usd"])
    st, h, data = gw.post("/v1/responses", {"model": "gem", "input": "hello", "instructions": "brief"})
    r = json.loads(data) if st == 200 else {}
    ok(r.get("object") == "response" and r.get("status") == "completed" and r.get("usage", {}).get(
        "output_tokens") == 80, "Responses client -> Gemini: a response", r)
    _, up = judged_valid(mock, "responses -> gemini")
    eq(up.get("systemInstruction"), {"parts": [{"text": "brief"}]}, "  instructions as systemInstruction")

    tools = [{"type": "function", "function": {"name": "get_weather", "description": "weather",
                                               "parameters": {"type": "object"}}}]
    calls = [{"id": "call_a", "type": "function", "function": {"name": "get_weather",
                                                                "arguments": '{"city":"Oslo"}'}}]
    st, h, data = gw.post("/v1/chat/completions", {"model": "gem-tools", "tools": tools, "tool_choice": "required",
                                                    "messages": [{"role": "user", "content": "weather?"},
                                                                 {"role": "assistant", "content": None,
                                                                  "tool_calls": calls},
                                                                 {"role": "tool", "tool_call_id": "call_a",
                                                                  "content": "snow"}]})
    _, up = judged_valid(mock, "chat tools -> gemini")
    eq(up.get("tools"), [{"functionDeclarations": [{"name": "get_weather", "description": "weather",
                                                 "parameters": {"type": "object"}}]}],
       "  tools as functionDeclarations")
    eq(up.get("toolConfig"), {"functionCallingConfig": {"mode": "ANY"}}, "  required as mode ANY")
    eq([c.get("role") for c in up.get("contents", [])], ["user", "model", "user"], "  the turns alternate")
    parts = [p for c in up.get("contents", []) for p in c.get("parts", [])]
    ok({"functionCall": {"id": "call_a", "name": "get_weather", "args": {"city": "Oslo"}}} in parts and
       any(p.get("functionResponse", {}).get("name") == "get_weather" for p in parts),
       "  the call and its answer as functionCall and functionResponse, by name", parts)
    m = json.loads(data)["choices"][0] if st == 200 else {}
    calls = m.get("message", {}).get("tool_calls") or []
    eq([json.loads(c["function"]["arguments"]) for c in calls], WEATHER, "  Gemini's functionCall parts -> tool_calls")
    ok(len({c["id"] for c in calls}) == 2 and m.get("finish_reason") == "tool_calls",
       "  each with an id of its own, finish_reason tool_calls", m)
    st, h, data = gw.post("/v1/chat/completions", {"model": "gem-tools", "stream": True, "tools": tools,
                                                    "messages": [{"role": "user", "content": "weather?"}]})
    args, _, finish = stream_calls(data)
    eq([json.loads(a) for a in args], WEATHER, "  streamed: the calls by index")
    eq(finish, "tool_calls", "  finish_reason tool_calls")

    st, h, data = gw.post("/v1/chat/completions", {"model": "gem-429", "messages": [{"role": "user", "content": "x"}]})
    e = json.loads(data)
    ok(st == 429 and isinstance(e.get("error"), dict) and e["error"].get("message"),
       "Gemini's 429 reaches a chat client as OpenAI's error", (st, e))


def botocore_verdict(last, url):
    """Whether botocore's SigV4 gives the request the mock received the signature it carried
    (None: no botocore here)."""
    return sigv4_ok(last, url, AWS_KEY, AWS_SECRET, "us-east-1")


def test_bedrock(gw, mock):
    """Chat, Messages and Responses clients to Bedrock's Converse, each request signed (SigV4)."""
    path = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    st, h, data = gw.post("/v1/chat/completions", {"model": "br", "max_tokens": 64, "temperature": 0.5,
                                                    "stop": ["END"], "messages": [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]})
    m = json.loads(data) if st == 200 else {}
    ok(st == 200 and m["choices"][0]["message"].get("content") and m["choices"][0]["finish_reason"] == "stop",
       "chat client -> Bedrock Converse: a chat completion", (st, data[:300]))
    last, up = judged_valid(mock, "chat -> converse")
    eq(last.get("path"), path, "  the model id percent-encoded in the path")
    eq((up.get("system"), up.get("inferenceConfig")), ([{"text": "be brief"}],
       {"maxTokens": 64, "temperature": 0.5, "stopSequences": ["END"]}), "  system and inferenceConfig")
    v = botocore_verdict(last, "http://127.0.0.1:%d%s" % (mock.port, path))
    if v is None:
        diag("no botocore: the signature is not checked here")
    else:
        ok(v, "  signed: botocore computes the same signature for what the mock received",
           last["headers"].get("Authorization"))
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec and cost_of(rec) == BEDROCK_COST and Decimal(h.get("x-tollgate-response-cost")) == BEDROCK_COST,
       "  priced from Converse's usage, exactly: %s" % BEDROCK_COST, rec and rec["cost_usd"])
    eq(m.get("usage", {}).get("prompt_tokens"), 1200, "  usage in chat's convention (the cache counted)")

    st, h, data = gw.post("/v1/chat/completions", {"model": "br-tok", "messages": [{"role": "user",
                                                                                     "content": "hi"}]})
    last, _ = judged_valid(mock, "chat -> converse, a session token")
    hdrs = {k.lower(): val for k, val in last["headers"].items()}
    ok(st == 200 and hdrs.get("x-amz-security-token") == "FwoGZXIvYXdzEBYaDH+token/x=" and
       "x-amz-security-token" in hdrs.get("authorization", ""), "  a session token: sent and signed", hdrs)
    if v is not None:
        ok(botocore_verdict(last, "http://127.0.0.1:%d%s" % (mock.port, path)),
           "  botocore agrees with that signature too")

    st, h, data = gw.post("/v1/messages", {"model": "br", "max_tokens": 64, "messages": [
        {"role": "user", "content": "hello"}]})
    m = json.loads(data) if st == 200 else {}
    ok(m.get("type") == "message" and m.get("usage", {}).get("output_tokens") == 80,
       "Anthropic client -> Bedrock: a message", m)
    last, _ = judged_valid(mock, "messages -> invoke")
    ok(last.get("path", "").endswith("/invoke"), "  a Claude id: through InvokeModel, as LiteLLM does",
       last.get("path"))
    st, h, data = gw.post("/v1/responses", {"model": "br", "input": "hello"})
    r = json.loads(data) if st == 200 else {}
    ok(r.get("object") == "response" and r.get("status") == "completed", "Responses client -> Bedrock", r)

    calls = [{"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]
    st, h, data = gw.post("/v1/chat/completions", {"model": "br", "tool_choice": "required", "tools": [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        "messages": [{"role": "user", "content": "weather?"},
                     {"role": "assistant", "content": None, "tool_calls": calls},
                     {"role": "tool", "tool_call_id": "call_a", "content": "snow"}]})
    _, up = judged_valid(mock, "chat tools -> converse")
    ok(st == 200 and up.get("toolConfig", {}).get("toolChoice") == {"any": {}} and
       up["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather",
       "  tools as toolConfig.tools[].toolSpec, required as any", up.get("toolConfig"))
    eq([list(b)[0] for msg in up.get("messages", []) for b in msg["content"]], ["text", "toolUse", "toolResult"],
       "  the call and its result as toolUse and toolResult")

    # ConverseStream: binary event-stream frames, translated frame by frame
    st, h, data = gw.post("/v1/chat/completions", {"model": "br", "stream": True,
                                                    "stream_options": {"include_usage": True},
                                                    "messages": [{"role": "user", "content": "hi"}]})
    evs, chunks, text = chat_stream(data)
    usage = [c for c in chunks if c.get("choices") == [] and c.get("usage")]
    ok(st == 200 and text and evs and evs[-1][1] == "[DONE]" and len(usage) == 1 and
       usage[0]["usage"]["prompt_tokens"] == 1200, "ConverseStream -> a chat stream: text, usage, [DONE]",
       evs[-3:])
    last, _ = judged_valid(mock, "chat stream -> converse-stream")
    eq(last.get("path"), path.replace("/converse", "/converse-stream"), "  at converse-stream")
    if v is not None:
        ok(botocore_verdict(last, "http://127.0.0.1:%d%s" % (mock.port, last["path"])), "  signed")
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec and cost_of(rec) == BEDROCK_COST and not (rec.get("flags") or []),
       "  whole, priced from the metadata frame's usage exactly", rec)
    st, h, data = gw.post("/v1/messages", {"model": "br", "max_tokens": 64, "stream": True, "messages": [
        {"role": "user", "content": "hello"}]})
    names = [n for n, _ in sse(data)]
    ok(st == 200 and names and names[0] == "message_start" and names[-1] == "message_stop",
       "  to an Anthropic client: message_start ... message_stop", names)
    st, h, data = gw.post("/v1/responses", {"model": "br", "input": "hello", "stream": True})
    done_ev = [d for n, d in sse(data) if n == "response.completed"]
    ok(st == 200 and done_ev and done_ev[0]["response"].get("usage", {}).get("output_tokens") == 80,
       "  to a Responses client: response.completed with the usage", [n for n, _ in sse(data)][-3:])
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec and cost_of(rec) == BEDROCK_COST, "  priced the same", rec and rec["cost_usd"])
    st, h, data = gw.post("/v1/chat/completions", {"model": "br-tools", "stream": True, "tools": [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        "messages": [{"role": "user", "content": "weather?"}]})
    args, ids, finish = stream_calls(data)
    eq([json.loads(a) for a in args], WEATHER, "  tool calls: toolUse input pieces by index")
    ok(finish == "tool_calls" and all((i or "").startswith("tooluse_mock") for i in ids),
       "  with the provider's toolUseIds, finish_reason tool_calls", (finish, ids))
    st, h, data = gw.post("/v1/chat/completions", {"model": "br-bad", "stream": True,
                                                    "messages": [{"role": "user", "content": "hi"}]})
    errs = [d for _, d in sse(data) if isinstance(d, dict) and d.get("error")]
    ok(st == 200 and errs and "corrupt" in errs[0]["error"].get("message", ""),
       "a frame with a bad CRC: the stream ends with an error saying so", sse(data)[-3:])
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec and "stream_incomplete" in json.dumps(rec), "  and its record says the stream was cut", rec)
    ok(gw.request("GET", "/health")[0] == 200, "  the gateway goes on")


def test_errors_and_params(gw, mock):
    st, h, data = gw.post("/v1/messages", {"model": "g-429", "max_tokens": 10,
                                           "messages": [{"role": "user", "content": "x"}]})
    e = json.loads(data)
    ok(st == 429 and e.get("type") == "error" and e.get("error", {}).get("type") == "rate_limit_error",
       "an OpenAI provider's 429 reaches an Anthropic client as Anthropic's error", (st, e))
    st, h, data = gw.post("/v1/chat/completions", {"model": "c-429", "messages": [{"role": "user", "content": "x"}]})
    e = json.loads(data)
    ok(st == 429 and isinstance(e.get("error"), dict) and e["error"].get("message") and "type" not in e,
       "an Anthropic provider's 429 reaches a chat client as OpenAI's error", (st, e))

    body = {"messages": [{"role": "user", "content": "x"}], "logit_bias": {"50256": -100}}
    st, h, data = gw.post("/v1/chat/completions", dict(body, model="c"))
    _, up = judged_valid(mock, "drop_params")
    ok(st == 200 and "logit_bias" not in up, "drop_params: true drops a field Anthropic has no equivalent of",
       (st, data[:200]))
    st, h, data = gw.post("/v1/chat/completions", dict(body, model="c-strict"))
    e = json.loads(data).get("error", {})
    ok(st == 400 and e.get("param") == "logit_bias" and "logit_bias" in e.get("message", ""),
       "drop_params: false on the deployment: 400 naming the field", (st, e))
    st, h, data = gw.post("/v1/messages", {"model": "g", "max_tokens": 5, "messages": "nope"})
    e = json.loads(data)
    ok(st == 400 and e.get("type") == "error", "a malformed Anthropic body: 400 in Anthropic's format", (st, e))


def test_check_config(gw):
    """tollgated -t: a deployment tollgate cannot serve is a warning, and --strict an error."""
    with tempfile.TemporaryDirectory(prefix="tollgate-strict-") as d:
        cfg = os.path.join(d, "c.yaml")
        with open(cfg, "w") as f:
            f.write("model_list:\n"
                    "  - model_name: copilot\n    litellm_params: {model: github_copilot/gpt-4o}\n"
                    "  - model_name: m\n    litellm_params: {model: mistral/mistral-small-latest}\n"
                    "tollgate:\n  price_files: [%s]\n" % os.path.join(gw.dir, "prices.yaml"))
        run = [os.path.join(BUILD, "tollgated"), "-t", "-c", cfg]
        out = subprocess.run(run, capture_output=True, text=True, timeout=60)
        ok(out.returncode == 0 and "c.yaml:2: model 'copilot': provider 'github_copilot' needs "
           "GitHub's device-flow login" in out.stderr and "left out" in out.stderr,
           "tollgated -t: the unservable deployment is a warning naming its file:line, exit 0",
           (out.returncode, out.stderr[-600:]))
        out = subprocess.run(run + ["--strict"], capture_output=True, text=True, timeout=60)
        ok(out.returncode == 1 and "--strict makes them errors" in out.stderr,
           "tollgated -t --strict: the warnings are errors, exit 1", (out.returncode, out.stderr[-600:]))
    st, h, data = gw.post("/v1/chat/completions", {"model": "copilot-here", "messages": []})
    e = json.loads(data).get("error", {})
    ok(st == 400 and e.get("code") == "model_not_servable" and "device-flow" in e.get("message", ""),
       "a model with no servable deployment answers 400 saying why", (st, e))


def main():
    mock = Mock()

    def native_json_model(g):
        # a Claude the price map says has structured output of its own
        with open(os.path.join(g.dir, "prices.yaml"), "a") as f:
            f.write("claude-native-9:\n  input_cost_per_token: 3e-6\n  output_cost_per_token: 1.5e-5\n"
                    "  supports_native_structured_output: true\n"
                    "gemini-2.5-flash:\n  input_cost_per_token: 3e-7\n  output_cost_per_token: 2.5e-6\n"
                    "  cache_read_input_token_cost: 7.5e-8\n"
                    "\"%s\":\n  input_cost_per_token: 3e-6\n  output_cost_per_token: 1.5e-5\n"
                    "  cache_read_input_token_cost: 3e-7\n" % BEDROCK_MODEL)
    gw = Gateway(mock, EXTRA.replace("%(mock)d", str(mock.port)), prepare=native_json_model)
    try:
        for t in (test_chat_to_anthropic, test_chat_stream_to_anthropic, test_tool_requests,
                  test_anthropic_to_openai, test_tools_anthropic_to_openai, test_responses,
                  test_tool_answers, test_responses_upstream, test_json_output, test_gemini,
                  test_bedrock, test_errors_and_params):
            try:
                t(gw, mock)
            except Exception as e:  # a shape that is not there: that test fails, the others run
                ok(False, "%s runs to its end" % t.__name__, repr(e))
        test_check_config(gw)
    finally:
        teardown(gw, mock)
    done()


main()
