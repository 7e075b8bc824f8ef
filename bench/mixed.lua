-- Requests the paths listed in the file named by $PATHS in turn (a mix of searches, as
-- readers make them), and prints the 95th percentile as p95.lua does.
local paths = {}
for line in io.lines(os.getenv("PATHS")) do
  paths[#paths + 1] = line
end
local i = 0

request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end

done = function(summary, latency, requests)
  io.write(string.format("p95_us=%d\n", latency:percentile(95)))
  io.write(string.format("requests=%d\n", summary.requests))
end
