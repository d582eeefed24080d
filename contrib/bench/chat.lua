-- wrk: POST a small chat completion (set STREAM=1 in the environment for a stream)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("KEY") or "sk-bench")
if os.getenv("STREAM") == "1" then
  wrk.body = '{"model": "bench", "stream": true, "messages": [{"role": "user", "content": "hello"}]}'
else
  wrk.body = '{"model": "bench", "messages": [{"role": "user", "content": "hello"}]}'
end
