-- wrk script: N (env FILL_N, default 1,000,000) distinct peers, (hash c % 1000, port 1 + c / 1000)
-- for c = 0 .. N-1, split between wrk's threads; afterwards the same peers again (no growth).
-- numwant 0 keeps the replies small; all from 127.0.0.1, so peers differ by (hash, port).
local hashes = {}
for i = 1, 1000 do
  hashes[i] = (string.format("%040x", i):gsub("(..)", "%%%1"))
end
local N = tonumber(os.getenv("FILL_N") or "1000000")
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads - 1)
end
init = function(args)
  c = tid
  step = tonumber(os.getenv("WRK_THREADS") or "2")
end
request = function()
  local k = c % N
  c = c + step
  local path = "/announce?info_hash=" .. hashes[(k % 1000) + 1]
    .. "&peer_id=-WK0001-" .. string.format("%012d", k)
    .. "&port=" .. (1 + math.floor(k / 1000))
    .. "&uploaded=0&downloaded=0&left=100&compact=1&numwant=0"
  return wrk.format("GET", path)
end
