-- The bench's load through wrk (bench/load.ts): exactly TOTAL requests over wrk's connections,
-- `{i}` in the path replaced by each request's number (modulo TOTAL), so no two requests in
-- flight ask for the same result. wrk itself only runs for a duration, so once the last answer
-- is in, or any answer is not a 200 (the run is then refused), this prints "finished" and
-- load.ts stops wrk; the timing is this script's own, from the first request sent to the last
-- answer read. Arguments: PATH TOTAL.
local ffi = require("ffi")
ffi.cdef [[
  struct timespec { long tv_sec; long tv_nsec; };
  int clock_gettime(int clock, struct timespec *now);
]]
local CLOCK_MONOTONIC = 1
local now = ffi.new("struct timespec")

local function micros()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now)
  return tonumber(now.tv_sec) * 1e6 + tonumber(now.tv_nsec) / 1e3
end

-- Per thread (the bench runs one): read back by done() through thread:get.
path, total, numbered, granted, answered, failed, began, ended = nil, 0, 0, 0, 0, 0, 0, 0

function init(args)
  path, total = args[1], tonumber(args[2])
end

-- wrk asks delay() before each request a connection sends (and calls request() once more than
-- it sends), so the budget of TOTAL requests is kept here: a connection past it waits far longer
-- than any run instead of sending.
function delay()
  if granted == total then return 3600000 end
  if granted == 0 then began = micros() end
  granted = granted + 1
  return 0
end

function request()
  local number = numbered % total
  numbered = numbered + 1
  return wrk.format("GET", (path:gsub("{i}", tostring(number))))
end

function response(status, headers, body)
  answered = answered + 1
  if status ~= 200 then failed = failed + 1 end
  if answered == total or failed == 1 then
    ended = micros()
    io.write("finished\n")
    io.flush()
  end
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local t = threads[1]
  io.write(string.format(
    '{"answered":%d,"failed":%d,"seconds":%.6f,"p50":%.3f,"p99":%.3f}\n',
    t:get("answered"), t:get("failed"), (t:get("ended") - t:get("began")) / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
