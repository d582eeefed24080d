#!/usr/bin/python3
"""The mock provider's own promises, which the translation tests lean on:
its judge accepts what each provider takes and refuses (strict=1: a 400 in
the provider's format, naming the field) what it would refuse; /mock/last
and /mock/stats report the verdicts; and the tool_calls knob answers with
tool calls in each dialect, whole and streamed, whose streamed pieces
reassemble into the whole answer's calls."""
import http.client
import json
import os
import sys

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

mock.stop()
done()
