-- wrk: POST a small chat completion.  Environment: KEY (the bearer key),
-- STREAM=1 for a stream, CHUNK_DELAY_MS to make the mock's streams last
-- (50 chunks), MODEL (default bench), PORTKEY_UPSTREAM=http://host:port/v1 for Portkey's routing headers.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("KEY") or "sk-bench")
local upstream = os.getenv("PORTKEY_UPSTREAM")
if upstream then
  wrk.headers["x-portkey-provider"] = "openai"
  wrk.headers["x-portkey-custom-host"] = upstream
end
local stream = os.getenv("STREAM") == "1" and '"stream": true, ' or ''
local delay = os.getenv("CHUNK_DELAY_MS")
local mock = delay and (', "mock": {"chunk_delay_ms": ' .. delay .. '}') or ''
wrk.body = '{"model": "' .. (os.getenv("MODEL") or "bench") .. '", ' .. stream .. '"messages": [{"role": "user", "content": "hello"}]' .. mock .. '}'
