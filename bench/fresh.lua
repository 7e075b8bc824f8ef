-- Requests the paths listed in the file named by $PATHS, each at most once while the list
-- lasts: of $THREADS wrk threads, thread k asks the k-th, (k + n)-th, ... path. Prints the
-- 95th percentile as p95.lua does, and how many requests were made of how many paths.
local paths = {}
for line in io.lines(os.getenv("PATHS")) do
  paths[#paths + 1] = line
end
local started = 0

setup = function(thread)
  started = started + 1
  thread:set("id", started)
end

local n = tonumber(os.getenv("THREADS"))
local i = nil

request = function()
  i = i and i + n or id
  return wrk.format("GET", paths[(i - 1) % #paths + 1])
end

done = function(summary, latency, requests)
  io.write(string.format("p95_us=%d\n", latency:percentile(95)))
  io.write(string.format("requests=%d\n", summary.requests))
  io.write(string.format("paths=%d\n", #paths))
end
