-- wrk script for scripts/bench: GET the 4 KiB objects written by put.lua.
-- wrk ... -s get.lua URL -- URLS_FILE INDEX_FILE NTHREADS
-- URLS_FILE: one presigned GET URL a line (key index = line number - 1);
-- INDEX_FILE: the key indices known to be stored, one a line. Thread t starts at
-- its own offset t*len/NTHREADS in that list and walks it round.

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   local all = {}
   for line in io.lines(args[1]) do
      local p = line:match("^https?://[^/]+(/.*)$")
      if p then all[#all + 1] = p end
   end
   paths = {}
   for line in io.lines(args[2]) do
      local idx = tonumber(line)
      if idx and all[idx + 1] then paths[#paths + 1] = all[idx + 1] end
   end
   if #paths == 0 then error("no stored keys to GET") end
   local nthreads = tonumber(args[3])
   pos = math.floor(id * #paths / nthreads)
end

function request()
   pos = pos % #paths + 1
   return wrk.format("GET", paths[pos])
end
