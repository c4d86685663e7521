-- GET impression links collected from decisions: wrk -s impression.lua <url> -- <threads> <file> [<file> ...]
-- Thread n takes every threads-th link, so no link is fetched twice until a thread runs out of its own.
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require("common")

local prepared = {}
local position = 0

function init(args)
  local threads = tonumber(args[1])
  local index = 0
  for i = 2, #args do
    for line in io.lines(args[i]) do
      if index % threads == thread_id then
        prepared[#prepared + 1] = wrk.format("GET", line, {["User-Agent"] = "Mozilla/5.0 (bench) AppleWebKit/537.36"})
      end
      index = index + 1
    end
  end
end

function request()
  position = position % #prepared + 1
  return prepared[position]
end
