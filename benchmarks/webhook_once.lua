-- wrk script: POST each pre-signed request of $REQS once, in order ('signature<TAB>body' lines).
-- When $COUNT answers have arrived it prints {"elapsed": seconds} and stops; the caller then
-- interrupts wrk (SIGINT), whose done() prints the latency figures as one JSON line.
-- Adapted from ../shared/peers/loadgen/webhook.lua, which wraps round instead of stopping.
local reqs = {}
local path = os.getenv("REQS")
local target = os.getenv("TARGET_PATH") or "/stripe/webhook"
for line in io.lines(path) do
  local tab = string.find(line, "\t", 1, true)
  reqs[#reqs + 1] = { string.sub(line, 1, tab - 1), string.sub(line, tab + 1) }
end
local count = tonumber(os.getenv("COUNT")) or #reqs
local calls = 0
local answered = 0
local started = nil

local function now()
  local clock = io.popen("date +%s.%N")
  local value = tonumber(clock:read("*l"))
  clock:close()
  return value
end

local function format(r)
  return wrk.format("POST", target, { ["Content-Type"] = "application/json", ["Stripe-Signature"] = r[1] }, r[2])
end

request = function()
  calls = calls + 1
  -- wrk calls request() once per thread to check the request before connecting: not sent.
  if calls == 1 then return format(reqs[1]) end
  if started == nil then started = now() end
  -- Past the end, repeat the last request: a duplicate the server ignores, never counted.
  return format(reqs[math.min(calls - 1, #reqs)])
end

response = function(status, headers, body)
  answered = answered + 1
  if answered == count then
    io.write(string.format('{"elapsed": %.6f}\n', now() - started))
    io.flush()
    wrk.thread:stop()
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "non_2xx": %d, "socket_errors": %d, "p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f}\n',
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
