// The official OpenAI and Anthropic SDKs against tollgate: each call prints
// one JSON line with what the SDK made of the answer (text, tool calls,
// usage), the response headers (withResponse() where the SDK has it, else
// those the fetch below saw) and, for streams, the raw SSE text's
// ": tollgate-cost" comment, which no SDK exposes. Run by sdk.t with
// NODE_PATH at the installed packages; PORT and KEY in the environment.
"use strict";
const OpenAI = require("openai");
const Anthropic = require("@anthropic-ai/sdk");

const PORT = process.env.PORT;
const KEY = process.env.KEY;
// {claude, claude_tools, gpt, gpt_tools}; further rounds, their names prefixed "gemini/",
// "bedrock/", "vertex/" and "vertex-gemini/", send every call to the deployments of
// MODELS_GEMINI, MODELS_BEDROCK, MODELS_VERTEX and MODELS_VERTEX_GEMINI
let M = JSON.parse(process.env.MODELS), prefix = "";

// what the wire carried for the call under way: headers, and an SSE body's text
let tap = null;
async function tapFetch(url, init) {
  const res = await fetch(url, init);
  const t = tap;
  if (t) {
    t.status = res.status;
    t.headers = Object.fromEntries(res.headers.entries());
  }
  if (!t || !res.body || !(res.headers.get("content-type") || "").includes("text/event-stream"))
    return res;
  const [mine, theirs] = res.body.tee();
  t.raw = new Response(theirs).text();
  return new Response(mine, { status: res.status, statusText: res.statusText, headers: res.headers });
}

const oa = new OpenAI({ baseURL: `http://127.0.0.1:${PORT}/v1`, apiKey: KEY, maxRetries: 0, timeout: 30000,
                        fetch: tapFetch });
const an = new Anthropic({ baseURL: `http://127.0.0.1:${PORT}`, apiKey: KEY, maxRetries: 0, timeout: 30000,
                           fetch: tapFetch });

const WEATHER = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
const CHAT_TOOLS = [{ type: "function", function: { name: "get_weather", description: "weather", parameters: WEATHER } }];
const RESP_TOOLS = [{ type: "function", name: "get_weather", description: "weather", parameters: WEATHER, strict: false }];
const ANT_TOOLS = [{ name: "get_weather", description: "weather", input_schema: WEATHER }];

function hdrs(response) {
  return response ? Object.fromEntries(response.headers.entries()) : null;
}

async function run(name, fn) {
  tap = {};
  const out = { name: prefix + name };
  try {
    Object.assign(out, await fn());
    out.ok = true;
  } catch (e) {
    out.ok = false;
    out.error = `${e && e.constructor && e.constructor.name}: ${e && e.message}`;
    if (e && e.status) out.error_status = e.status;
  }
  out.wire_status = tap.status;
  out.wire_headers = tap.headers || null;
  if (tap.raw) {
    try {
      const text = await Promise.race([tap.raw, new Promise((_, no) => setTimeout(() => no(new Error("raw body timed out")), 30000))]);
      const m = text.match(/^: ?tollgate-cost (\S+)/m);
      out.sse_cost = m ? m[1] : null;
      out.sse_tail = text.slice(-400);
    } catch (e) {
      out.sse_error = String(e);
    }
  }
  tap = null;
  console.log(JSON.stringify(out));
}

const chatCalls = (calls) => (calls || []).map((c) => ({ id: c.id, name: c.function && c.function.name,
                                                        arguments: c.function && c.function.arguments }));

async function main() {
  const msgs = [{ role: "user", content: "hello" }];

  // OpenAI chat completions -> an Anthropic deployment
  await run("openai.chat", async () => {
    const { data, response } = await oa.chat.completions.create({ model: M.claude, messages: msgs, max_tokens: 64 })
      .withResponse();
    const c = data.choices[0];
    return { object: data.object, text: c.message.content, finish: c.finish_reason,
             tool_calls: chatCalls(c.message.tool_calls), usage: data.usage, headers: hdrs(response) };
  });
  await run("openai.chat.stream", async () => {
    const { data: stream, response } = await oa.chat.completions.create({
      model: M.claude, messages: msgs, max_tokens: 64, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    let text = "", finish = null, usage = null, chunks = 0;
    for await (const ch of stream) {
      chunks++;
      if (ch.usage) usage = ch.usage;
      for (const c of ch.choices || []) {
        if (c.delta && c.delta.content) text += c.delta.content;
        if (c.finish_reason) finish = c.finish_reason;
      }
    }
    return { text, finish, usage, chunks, headers: hdrs(response) };
  });
  await run("openai.chat.tools", async () => {
    const { data, response } = await oa.chat.completions.create({
      model: M.claude_tools, messages: [{ role: "user", content: "weather?" }], tools: CHAT_TOOLS, tool_choice: "auto" })
      .withResponse();
    const c = data.choices[0];
    return { text: c.message.content, finish: c.finish_reason, tool_calls: chatCalls(c.message.tool_calls),
             usage: data.usage, headers: hdrs(response) };
  });
  await run("openai.chat.tools.stream", async () => {
    // the SDK's own helper assembles the deltas (and throws on ones it cannot)
    const stream = oa.chat.completions.stream({
      model: M.claude_tools, messages: [{ role: "user", content: "weather?" }], tools: CHAT_TOOLS,
      stream_options: { include_usage: true } });
    const done = await stream.finalChatCompletion();
    const c = done.choices[0];
    return { text: c.message.content, finish: c.finish_reason, tool_calls: chatCalls(c.message.tool_calls),
             usage: done.usage };
  });

  // OpenAI Responses -> an Anthropic deployment
  const respCalls = (r) => (r.output || []).filter((o) => o.type === "function_call")
    .map((o) => ({ id: o.call_id, name: o.name, arguments: o.arguments }));
  // the text of a raw response object: output_text is the SDK's own, added only to what it parses whole
  const respText = (r) => (r.output || []).filter((o) => o.type === "message")
    .flatMap((o) => o.content || []).filter((c) => c.type === "output_text").map((c) => c.text).join("");
  await run("openai.responses", async () => {
    const { data, response } = await oa.responses.create({ model: M.claude, instructions: "be brief", input: "hello",
                                                            max_output_tokens: 50 }).withResponse();
    return { object: data.object, status: data.status, text: data.output_text, tool_calls: respCalls(data),
             usage: data.usage, headers: hdrs(response) };
  });
  await run("openai.responses.stream", async () => {
    const stream = oa.responses.stream({ model: M.claude, input: "hello", max_output_tokens: 50 });
    let deltas = "", events = 0;
    stream.on("response.output_text.delta", (e) => { deltas += e.delta; });
    stream.on("event", () => { events++; });
    const r = await stream.finalResponse();
    return { status: r.status, text: r.output_text, deltas, events, tool_calls: respCalls(r), usage: r.usage };
  });
  await run("openai.responses.tools", async () => {
    const { data, response } = await oa.responses.create({ model: M.claude_tools, input: "weather?",
                                                            tools: RESP_TOOLS }).withResponse();
    return { status: data.status, text: data.output_text, tool_calls: respCalls(data), usage: data.usage,
             headers: hdrs(response) };
  });
  await run("openai.responses.tools.stream", async () => {
    const { data: stream, response } = await oa.responses.create({ model: M.claude_tools, input: "weather?",
                                                                    tools: RESP_TOOLS, stream: true }).withResponse();
    const args = {}, names = [];
    let final = null;
    for await (const e of stream) {
      names.push(e.type);
      if (e.type === "response.function_call_arguments.delta") args[e.item_id] = (args[e.item_id] || "") + e.delta;
      if (e.type === "response.completed") final = e.response;
    }
    if (!final) throw new Error("no response.completed event: " + names.join(","));
    const calls = respCalls(final);
    return { status: final.status, text: respText(final), tool_calls: calls, deltas: args,
             usage: final.usage, headers: hdrs(response) };
  });

  // Anthropic messages -> an OpenAI-compatible deployment
  const antCalls = (m) => (m.content || []).filter((b) => b.type === "tool_use")
    .map((b) => ({ id: b.id, name: b.name, arguments: JSON.stringify(b.input), input: b.input }));
  const antText = (m) => (m.content || []).filter((b) => b.type === "text").map((b) => b.text).join("");
  await run("anthropic.messages", async () => {
    const { data, response } = await an.messages.create({ model: M.gpt, max_tokens: 100, messages: msgs })
      .withResponse();
    return { type: data.type, text: antText(data), finish: data.stop_reason, tool_calls: antCalls(data),
             usage: data.usage, headers: hdrs(response) };
  });
  await run("anthropic.messages.stream", async () => {
    const stream = an.messages.stream({ model: M.gpt, max_tokens: 100, messages: msgs });
    const { response } = await stream.withResponse();
    const m = await stream.finalMessage();
    return { text: antText(m), finish: m.stop_reason, tool_calls: antCalls(m), usage: m.usage, headers: hdrs(response) };
  });
  await run("anthropic.messages.tools", async () => {
    const { data, response } = await an.messages.create({ model: M.gpt_tools, max_tokens: 100, tools: ANT_TOOLS,
                                                          messages: [{ role: "user", content: "weather?" }] })
      .withResponse();
    return { text: antText(data), finish: data.stop_reason, tool_calls: antCalls(data), usage: data.usage,
             headers: hdrs(response) };
  });
  await run("anthropic.messages.tools.stream", async () => {
    // the raw event iterator, assembling input_json_delta by hand as a client would
    const { data: stream, response } = await an.messages.create({ model: M.gpt_tools, max_tokens: 100,
      tools: ANT_TOOLS, stream: true, messages: [{ role: "user", content: "weather?" }] }).withResponse();
    const blocks = {}, usage = {};
    let finish = null, text = "";
    for await (const e of stream) {
      if (e.type === "message_start") Object.assign(usage, e.message.usage);
      if (e.type === "content_block_start") blocks[e.index] = Object.assign({ json: "" }, e.content_block);
      if (e.type === "content_block_delta" && e.delta.type === "input_json_delta") blocks[e.index].json += e.delta.partial_json;
      if (e.type === "content_block_delta" && e.delta.type === "text_delta") text += e.delta.text;
      if (e.type === "message_delta") {
        finish = e.delta.stop_reason;
        for (const [k, v] of Object.entries(e.usage || {})) if (v !== null && v !== undefined) usage[k] = v;
      }
    }
    const calls = Object.values(blocks).filter((b) => b.type === "tool_use")
      .map((b) => ({ id: b.id, name: b.name, arguments: b.json }));
    return { text, finish, tool_calls: calls, usage, headers: hdrs(response) };
  });
}

// after the first round, every call again to the deployments of each of these, its names prefixed
async function rounds() {
  await main();
  for (const [env, p] of [["MODELS_GEMINI", "gemini/"], ["MODELS_BEDROCK", "bedrock/"],
      ["MODELS_VERTEX", "vertex/"], ["MODELS_VERTEX_GEMINI", "vertex-gemini/"]]) {
    if (!process.env[env]) continue;
    M = JSON.parse(process.env[env]);
    prefix = p;
    await main();
  }
}

rounds().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
