-- wrk script: announces spread over 1000 info-hashes (00..01 .. 00..3e8, the bench whitelist),
-- random peer id and port, numwant 50. WRK_CLOSE=1 adds "Connection: close" (a connection per
-- request, the way opentracker serves everyone anyway).
local hashes = {}
for i = 1, 1000 do
  hashes[i] = (string.format("%040x", i):gsub("(..)", "%%%1"))
end
local headers = {}
if os.getenv("WRK_CLOSE") == "1" then headers["Connection"] = "close" end
local n = 0
setup = function(thread)
  n = n + 1
  thread:set("tid", n)
end
init = function(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
end
request = function()
  local path = "/announce?info_hash=" .. hashes[math.random(1, 1000)]
    .. "&peer_id=-WK0001-" .. string.format("%012d", math.random(0, 999999999999))
    .. "&port=" .. math.random(1, 65535)
    .. "&uploaded=0&downloaded=0&left=100&compact=1&numwant=50"
  return wrk.format("GET", path, headers)
end
