#!/usr/bin/python3
"""The mock provider's own promises, which the translation tests lean on:
its judge accepts what each provider takes and refuses (strict=1: a 400 in
the provider's format, naming the field) what it would refuse; /mock/last
and /mock/stats report the verdicts; and the tool_calls knob answers with
tool calls in each dialect, whole and streamed, whose streamed pieces
reassemble into the whole answer's calls; and what routing tests lean on:
the Retry-After and retry-after-ms headers of an error, the error faults
(context_length, content_policy, error_usage) in each provider's words,
/mock/defaults changing a running mock, and the failed count."""
import email.utils
import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import Mock, done, eq, ok  # noqa: E402

mock = Mock()


def post(path, body, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=10)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    c.request("POST", path, body=json.dumps(body), headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def post_h(path, body, headers=None, m=None):
    """(status, headers by lower-case name, parsed body or raw bytes)"""
    c = http.client.HTTPConnection("127.0.0.1", (m or mock).port, timeout=10)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    c.request("POST", path, body=json.dumps(body), headers=h)
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    try:
        return r.status, hdrs, json.loads(data)
    except ValueError:
        return r.status, hdrs, data


def events(data):
    out = []
    for block in data.decode().split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: ") and line[6:] != "[DONE]":
                out.append(json.loads(line[6:]))
    return out


STRICT = {"X-Mock-strict": "1"}
USER = {"role": "user", "content": "hi"}

# ---- valid requests pass, strict or not ----------------------------------------------
VALID = [
    ("/v1/messages", {"model": "m", "max_tokens": 64, "system": "be brief", "messages": [
        USER,
        {"role": "assistant", "content": [{"type": "text", "text": "calling"},
                                          {"type": "tool_use", "id": "toolu_1", "name": "f",
                                           "input": {"a": 1}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": "42"}, {"type": "text", "text": "and?"}]}],
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "auto"}}),
    ("/v1/chat/completions", {"model": "m", "messages": [
        {"role": "system", "content": "be brief"}, USER,
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "call_2", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_2", "content": "b"},
        {"role": "tool", "tool_call_id": "call_1", "content": "a"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "stream": True, "stream_options": {"include_usage": True}}),
    ("/v1/responses", {"model": "m", "instructions": "be brief", "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "42"}],
        "tools": [{"type": "function", "name": "f", "parameters": {}}],
        "max_output_tokens": 64}),
]
for path, body in VALID:
    status, data = post(path, body, STRICT)
    eq(status, 200, "%s: a valid request is answered" % path)
    eq(mock.get("/mock/last").get("verdict"), "ok", "%s: its verdict is ok" % path)

# ---- invalid requests: what the provider would say -------------------------------------
INVALID = [
    ("/v1/messages", {"model": "m", "messages": [USER]}, "max_tokens"),
    ("/v1/messages", {"model": "m", "max_tokens": 9, "messages": [USER, USER]},
     "messages[1].role: roles must alternate"),
    ("/v1/messages", {"model": "m", "max_tokens": 9, "messages": [
        USER, {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]}, USER]},
     "messages[2]: tool_use ids of messages[1]"),
    ("/v1/messages", {"model": "m", "max_tokens": 9, "messages": [
        USER, {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9"}]}]},
     "messages[2].content[0].tool_use_id"),
    ("/v1/messages", {"model": "m", "max_tokens": 9, "messages": [USER], "top_logprobs": 2},
     "top_logprobs: unknown parameter"),
    ("/v1/messages", {"model": "m", "max_tokens": 9, "messages": [
        {"role": "system", "content": "x"}]}, "messages[0].role"),
    ("/v1/messages", {"model": "m", "max_tokens": 2000, "messages": [USER],
                      "thinking": {"type": "enabled", "budget_tokens": 4000}},
     "max_tokens: must be greater than thinking.budget_tokens"),
    ("/v1/chat/completions", {"model": "m", "messages": [
        USER, {"role": "tool", "tool_call_id": "call_1", "content": "x"}]},
     "messages[1].tool_call_id"),
    ("/v1/chat/completions", {"model": "m", "messages": [
        USER, {"role": "assistant", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        USER]}, "messages[2]: an assistant message with 'tool_calls'"),
    ("/v1/chat/completions", {"model": "m", "messages": [USER],
                              "stream_options": {"include_usage": True}}, "stream_options"),
    ("/v1/chat/completions", {"model": "m", "messages": []}, "messages: a non-empty array"),
    ("/v1/responses", {"model": "m", "input": [
        {"type": "function_call_output", "call_id": "call_7", "output": "x"}]},
     "input[0].call_id: no function call found"),
    ("/v1/responses", {"model": "m", "input": "hi", "tools": [
        {"type": "function", "function": {"name": "f"}}]}, "tools[0].function"),
    ("/v1/responses", {"model": "m", "input": "hi", "max_output_tokens": 8},
     "max_output_tokens"),
    ("/v1/responses", {"model": "m", "messages": [USER]}, "messages: unknown parameter"),
]
for path, body, want in INVALID:
    status, data = post(path, body, STRICT)
    eq(status, 400, "%s refuses: %s" % (path, want))
    doc = json.loads(data)
    msg = doc.get("error", {}).get("message", "")
    ok(want in msg, "  naming it: %s" % msg)
    if path == "/v1/messages":
        eq(doc.get("type"), "error", "  in Anthropic's error format")
    verdict = mock.get("/mock/last").get("verdict", "")
    ok(want in verdict, "  /mock/last has the verdict: %s" % verdict)
    # the same without strict: answered, the verdict kept
    status, _ = post(path, body)
    eq(status, 200, "  without strict it is answered")
    ok(want in mock.get("/mock/last").get("verdict", ""), "  and judged all the same")
eq(mock.get("/mock/stats").get("refusable"), 2 * len(INVALID),
   "/mock/stats counts the refusable requests")

# ---- tool calls in each dialect ---------------------------------------------------------
TOOLS = {"X-Mock-tool_calls": "2", "X-Mock-chunks": "5"}
ARGS = ['{"city":"Paris","n":0}', '{"city":"Paris","n":1}']

status, data = post("/v1/chat/completions", {"model": "m", "messages": [USER]}, TOOLS)
m = json.loads(data)["choices"][0]
eq(m["finish_reason"], "tool_calls", "chat: finish_reason tool_calls")
calls = m["message"]["tool_calls"]
eq([c["function"]["arguments"] for c in calls], ARGS, "chat: two calls, their arguments")
ids = [c["id"] for c in calls]
ok(len(set(ids)) == 2 and all(i.startswith("call_") for i in ids), "chat: distinct call ids %s" % ids)
status, data = post("/v1/chat/completions", {"model": "m", "messages": [USER], "stream": True,
                                             "stream_options": {"include_usage": True}}, TOOLS)
got = {}
finish = None
usage = None
for ch in events(data):
    if ch.get("usage"):
        usage = ch["usage"]
    for c in ch.get("choices", []):
        finish = c.get("finish_reason") or finish
        for tc in c["delta"].get("tool_calls", []):
            g = got.setdefault(tc["index"], {"id": None, "args": ""})
            g["id"] = tc.get("id") or g["id"]
            g["args"] += tc.get("function", {}).get("arguments", "")
eq([got[k]["args"] for k in sorted(got)], ARGS, "chat stream: the pieces make the arguments")
eq([got[k]["id"] for k in sorted(got)][0][:5], "call_", "chat stream: ids on the first piece")
eq(finish, "tool_calls", "chat stream: finish_reason tool_calls")
ok(usage is not None, "chat stream: the usage chunk")

status, data = post("/v1/messages", {"model": "m", "max_tokens": 9, "messages": [USER]}, TOOLS)
m = json.loads(data)
eq(m["stop_reason"], "tool_use", "messages: stop_reason tool_use")
eq([json.dumps(b["input"], separators=(",", ":")) for b in m["content"]], ARGS,
   "messages: two tool_use blocks, their inputs")
status, data = post("/v1/messages", {"model": "m", "max_tokens": 9, "messages": [USER],
                                     "stream": True}, TOOLS)
blocks, stop = {}, None
for ev in events(data):
    if ev["type"] == "content_block_start":
        blocks[ev["index"]] = {"id": ev["content_block"]["id"], "json": ""}
    elif ev["type"] == "content_block_delta":
        blocks[ev["index"]]["json"] += ev["delta"]["partial_json"]
    elif ev["type"] == "message_delta":
        stop = ev["delta"]["stop_reason"]
eq([blocks[k]["json"] for k in sorted(blocks)], ARGS, "messages stream: input_json_delta pieces")
eq(stop, "tool_use", "messages stream: stop_reason tool_use")

status, data = post("/v1/responses", {"model": "m", "input": "hi"}, TOOLS)
m = json.loads(data)
eq([(o["type"], o["arguments"]) for o in m["output"]],
   [("function_call", a) for a in ARGS], "responses: two function_call items")
status, data = post("/v1/responses", {"model": "m", "input": "hi", "stream": True}, TOOLS)
args, final = {}, None
for ev in events(data):
    if ev["type"] == "response.function_call_arguments.delta":
        args[ev["output_index"]] = args.get(ev["output_index"], "") + ev["delta"]
    elif ev["type"] == "response.completed":
        final = ev["response"]
eq([args[k] for k in sorted(args)], ARGS, "responses stream: argument deltas")
eq([(o["type"], o["arguments"]) for o in final["output"]],
   [("function_call", a) for a in ARGS], "responses stream: completed lists the calls")
ok(final["usage"]["input_tokens"] > 0, "responses stream: usage on response.completed")

# ---- errors for routing tests: retry headers, error faults, /mock/defaults, failed --------
eq(mock.get("/mock/stats").get("failed"), 0, "/mock/stats: strict refusals are not failed")
CHAT = {"model": "m", "messages": [USER]}
MSG = {"model": "m", "max_tokens": 9, "messages": [USER]}


def retry_headers(h):
    return h.get("retry-after"), h.get("retry-after-ms")


st, h, _ = post_h("/v1/chat/completions", CHAT, {"X-Mock-Status": "429", "X-Mock-Retry-After": "3"})
eq((st, retry_headers(h)), (429, ("3", None)), "retry_after: a 429 with Retry-After: 3 alone")
st, h, _ = post_h("/v1/messages", dict(MSG, mock={"status": 503, "retry_after_ms": 1500}))
eq((st, retry_headers(h)), (503, (None, "1500")), "retry_after_ms: a 503 with retry-after-ms alone")
st, h, _ = post_h("/v1/chat/completions", CHAT, {"X-Mock-Retry-After": "3",
                                                 "X-Mock-Retry-After-Ms": "9"})
eq((st, retry_headers(h)), (200, (None, None)), "the retry knobs on a 200: no retry headers")
st, h, _ = post_h("/v1/chat/completions", CHAT, {"X-Mock-Status": "429", "X-Mock-Retry-After": "30",
                                                 "X-Mock-Retry-After-Date": "1"})
when = email.utils.parsedate_to_datetime(h.get("retry-after") or "Thu, 01 Jan 1970 00:00:00 GMT")
ok(st == 429 and 25 <= when.timestamp() - time.time() <= 31,
   "retry_after_date: Retry-After as an HTTP date 30 s ahead", h.get("retry-after"))


def anthropic_error(message):
    return {"type": "error", "error": {"type": "invalid_request_error", "message": message}}


FAULTS = [
    ("/v1/chat/completions", CHAT, "context_length", {"error": {
        "message": "This model's maximum context length is 128000 tokens. However, your messages "
                   "resulted in 200000 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}),
    ("/v1/chat/completions", CHAT, "content_policy", {"error": {
        "message": "Your request was rejected as a result of our safety system.",
        "type": "invalid_request_error", "param": None, "code": "content_policy_violation"}}),
    ("/v1/messages", MSG, "context_length",
     anthropic_error("prompt is too long: 200000 tokens > 199999 maximum")),
    ("/v1/messages", MSG, "content_policy",
     anthropic_error("Output blocked by content filtering policy")),
]
for path, body, fault, want in FAULTS:
    for stream in (False, True):
        st, _, doc = post_h(path, dict(body, stream=stream), {"X-Mock-Fault": fault})
        eq((st, doc), (400, want), "%s, fault %s%s: 400 in the provider's words" %
           (path, fault, " (stream)" if stream else ""))
st, _, doc = post_h("/v1beta/models/gemini-2.0-flash:generateContent",
                    {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
                    {"X-Mock-Fault": "context_length"})
err = doc.get("error", {})
eq((st, err.get("status"), "input token count" in err.get("message", "")),
   (400, "INVALID_ARGUMENT", True), "Gemini, fault context_length: 400 INVALID_ARGUMENT")
st, h, doc = post_h("/model/m/converse",
                    {"messages": [{"role": "user", "content": [{"text": "hi"}]}]},
                    {"X-Mock-Fault": "content_policy"})
eq((st, h.get("x-amzn-errortype", "").split(":")[0], doc),
   (400, "ValidationException", {"message": "The request was blocked by content filters."}),
   "Converse, fault content_policy: 400 ValidationException")

USAGE = {"X-Mock-Fault": "error_usage", "X-Mock-Prompt-Tokens": "1234",
         "X-Mock-Completion-Tokens": "56"}
st, _, doc = post_h("/v1/chat/completions", CHAT, USAGE)
usage = doc.get("usage", {})
eq((st, doc["error"]["type"], [usage.get(k) for k in ("prompt_tokens", "completion_tokens",
                                                       "total_tokens")]),
   (500, "server_error", [1234, 56, 1290]),
   "chat, fault error_usage: a 500 server_error with the knobs' usage beside it")
st, _, doc = post_h("/v1/messages", MSG, USAGE)
usage = doc.get("usage", {})
eq((st, doc.get("type"), doc["error"]["type"], usage.get("input_tokens"), usage.get("output_tokens")),
   (500, "error", "api_error", 1234, 56),
   "messages, fault error_usage: a 500 api_error with input_tokens and output_tokens")
st, _, doc = post_h("/v1/chat/completions", CHAT, {"X-Mock-Fault": "context_length",
                                                   "X-Mock-Status": "503"})
eq((st, doc["error"]["code"]), (503, "service_unavailable"), "the status knob wins over a fault")
# the three statuses, 8 faults of chat and messages, Gemini's, Converse's, 2 error_usage, 503
eq(mock.get("/mock/stats").get("failed"), 3 + 8 + 2 + 2 + 1,
   "/mock/stats: failed counts the error statuses and faults")

# a second mock, its faults from the command line, then changed while it runs
m2 = Mock("--fail-every", "3", "--retry-after", "7", "--retry-after-ms", "250")


def stats2():
    st = m2.get("/mock/stats")
    return st.get("requests"), st.get("failed")


got = [post_h("/v1/chat/completions", CHAT, {"X-Mock-Status": "500"} if i == 0 else {}, m2)
       for i in range(6)]
eq([g[0] for g in got], [500, 200, 503, 200, 200, 503],
   "--fail-every 3: every third POST, the status knob's failure counted among them")
eq([retry_headers(g[1]) for g in got],
   [("7", "250"), (None, None), ("7", "250"), (None, None), (None, None), ("7", "250")],
   "--retry-after 7 --retry-after-ms 250: on the errors only")
eq(stats2(), (6, 3), "/mock/stats: 6 requests, failed ones included, 3 failed")
d = m2.get("/mock/defaults")
eq([d.get(k) for k in ("fail_every", "retry_after", "retry_after_ms", "fault", "prompt_tokens")],
   [3, 7, 250, "none", 1000], "GET /mock/defaults: the command line's")
st, _, d = post_h("/mock/defaults", {"status": 0, "fault": "none", "fail_every": 0,
                                     "retry_after": 0}, m=m2)
eq((st, [d.get(k) for k in ("fail_every", "retry_after", "retry_after_ms")]), (200, [0, 0, 250]),
   "POST /mock/defaults: the new defaults, the others kept")
eq([post_h("/v1/chat/completions", CHAT, m=m2)[0] for _ in range(3)], [200] * 3,
   "after it: the failing mock is healthy (the ninth POST is not failed)")
post_h("/mock/defaults", {"status": 429, "retry_after": "2"}, m=m2)
st, h, _ = post_h("/v1/chat/completions", CHAT, m=m2)
eq((st, retry_headers(h)), (429, ("2", "250")), "/mock/defaults status 429, retry_after 2")
post_h("/mock/defaults", {"status": 0, "fault": "content_policy"}, m=m2)
st, _, doc = post_h("/v1/messages", MSG, m=m2)
eq((st, doc), (400, anthropic_error("Output blocked by content filtering policy")),
   "/mock/defaults fault content_policy: the next request gets it")
st, _, doc = post_h("/mock/defaults", {"fault": "none", "bogus": 1}, m=m2)
err = doc.get("error", {})
eq((st, err.get("type"), "'bogus'" in err.get("message", "")), (400, "invalid_request_error", True),
   "/mock/defaults: an unknown knob is a 400 naming it")
eq(post_h("/mock/defaults", {"fault": "none", "status": 150}, m=m2)[0], 400,
   "/mock/defaults: a bad value is a 400")
eq(post_h("/mock/defaults", {"fault": "no_such_fault"}, m=m2)[0], 400,
   "/mock/defaults: an unknown fault is a 400")
eq(m2.get("/mock/defaults").get("fault"), "content_policy", "  and a refused change changes nothing")
eq(stats2(), (11, 5), "/mock/stats: /mock/defaults not counted; 11 requests, 5 failed")
post_h("/mock/reset", {}, m=m2)
eq(stats2(), (0, 0), "/mock/reset zeroes failed too")
m2.stop()

mock.stop()
done()
