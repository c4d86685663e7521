-- POST /serve/v1/decision with bodies from a prepared file: one "<serving key>\t<json body>" per line.
-- wrk -s decision.lua <url> -- <requests file> [<file prefix to record impression URLs into>]
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require("common")

local prepared = {}
local position = 0
local record = nil

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    local key, body = line:match("^([^\t]*)\t(.*)$")
    prepared[#prepared + 1] = wrk.format("POST", "/serve/v1/decision",
      {["Content-Type"] = "application/json", ["X-Placement-Key"] = key}, body)
  end
  file:close()
  position = (thread_id * 7919) % #prepared  -- each thread starts somewhere else in the list
  if args[2] then
    record = assert(io.open(args[2] .. "." .. thread_id, "w"))
    response = function(status, headers, body)
      if status == 200 then
        for url in body:gmatch('"impression_url": *"[a-z]+://[^/]+([^"]+)"') do
          record:write(url, "\n")
        end
      end
    end
  end
end

function request()
  position = position % #prepared + 1
  return prepared[position]
end
