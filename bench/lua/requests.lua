-- Replay pre-built requests: one per line of a file that the bench writes, so every
-- request of a scenario goes to a distinct item or user (a purchase buys its own item
-- with its own buyer's token). Each wrk thread takes every n-th line.
--
--   wrk -s requests.lua URL -- FILE MODE THREADS
--
-- A line is "METHOD<TAB>PATH<TAB>TOKEN<TAB>BODY" ("-" for no token or no body).
-- MODE "cycle" starts over at the end (reads, deposits, logins); MODE "once" means
-- each line may be used once (purchases): past the end it starts over too, but counts
-- the reused requests as `exhausted` so that the bench reports them.
-- done() prints one line "BENCH_JSON {...}": requests, status codes, socket errors and
-- the latency distribution (microseconds: min, mean, max, p50/p90/p99/p99.9, and every
-- percentile from 1 to 99 plus 99.9, so that the bench can pool several runs).

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("tid", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

function init(args)
   local path, mode, nthreads = args[1], args[2], tonumber(args[3])
   once = (mode == "once")
   requests = {}
   local i = 0
   for line in io.lines(path) do
      if i % nthreads == tid then
         local method, target, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
         local headers = {}
         if token ~= "-" then
            headers["x-auth-token"] = token
         end
         if body == "-" then
            body = nil
         else
            headers["Content-Type"] = "application/json"
         end
         requests[#requests + 1] = wrk.format(method, target, headers, body)
      end
      i = i + 1
   end
   count = #requests
   sent = 0
   non2xx = 0
   codes = {}
end

function request()
   sent = sent + 1
   return requests[(sent - 1) % count + 1]
end

function response(status, headers, body)
   local key = tostring(status)
   codes[key] = (codes[key] or 0) + 1
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
   end
end

function done(summary, latency, requests)
   local non2xx_total, exhausted_total, by_code = 0, 0, {}
   for _, thread in ipairs(threads) do
      non2xx_total = non2xx_total + thread:get("non2xx")
      if thread:get("once") then
         exhausted_total = exhausted_total + math.max(thread:get("sent") - thread:get("count"), 0)
      end
      local thread_codes = thread:get("codes")
      for code, n in pairs(thread_codes) do
         by_code[code] = (by_code[code] or 0) + n
      end
   end
   local parts = {}
   for code, n in pairs(by_code) do
      parts[#parts + 1] = string.format('"%s": %d', code, n)
   end
   local percentiles = {}
   for p = 1, 99 do
      percentiles[#percentiles + 1] = string.format("%d", latency:percentile(p))
   end
   percentiles[#percentiles + 1] = string.format("%d", latency:percentile(99.9))
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "non2xx": %d, ' ..
      '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
      '"status": {%s}, "exhausted": %d, ' ..
      '"latency_us": {"min": %d, "mean": %.1f, "max": %d, "stdev": %.1f, ' ..
      '"p50": %d, "p90": %d, "p99": %d, "p999": %d}, ' ..
      '"percentiles_us": [%s]}\n',
      summary.requests, summary.duration, summary.bytes, non2xx_total,
      e.connect, e.read, e.write, e.timeout,
      table.concat(parts, ", "), exhausted_total,
      latency.min, latency.mean, latency.max, latency.stdev,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), table.concat(percentiles, ", ")))
end
