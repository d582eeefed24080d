-- wrk script: POSTs one small OpenAI chat completion request, again and again,
-- to the URL wrk is given (the mock provider itself, or the gateway in front of it).
--
--   wrk -t1 -c64 -d5s -s contrib/mockprovider/post.lua http://127.0.0.1:4001/v1/chat/completions
--
-- Environment:
--   MODEL=name   the request's model (default gpt-4o-mini)
--   STREAM=1     ask for a stream, with stream_options.include_usage
--   AUTH=key     send "Authorization: Bearer key" (a gateway key)
--   BODY=json    send this body instead

local model = os.getenv("MODEL") or "gpt-4o-mini"
local stream = os.getenv("STREAM") == "1"
local auth = os.getenv("AUTH")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if auth then
	wrk.headers["Authorization"] = "Bearer " .. auth
end
wrk.body = os.getenv("BODY") or string.format(
	'{"model":"%s","messages":[{"role":"user","content":"Say hello in one sentence."}]%s}',
	model, stream and ',"stream":true,"stream_options":{"include_usage":true}' or "")
