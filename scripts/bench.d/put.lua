-- wrk script for scripts/bench: PUT 4 KiB objects to presigned URLs.
-- wrk ... -s put.lua URL -- URLS_FILE NTHREADS BODY_FILE
-- URLS_FILE: one presigned PUT URL a line (key index = line number - 1).
-- Thread t walks its own share [t*seg, (t+1)*seg) of the list, wrapping round
-- (an overwrite) only when it runs past its share. Each body is the 4 KiB of
-- BODY_FILE with its first 9 bytes replaced by the key index, so no two objects
-- have the same content (no deduplication shortcut).
-- At the end it writes "first seg issued" per thread to $BENCH_WRK_WRITTEN, from
-- which scripts/bench derives the keys that were certainly acknowledged.

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   paths = {}
   for line in io.lines(args[1]) do
      local p = line:match("^https?://[^/]+(/.*)$")
      if p then paths[#paths + 1] = p end
   end
   local nthreads = tonumber(args[2])
   seg = math.floor(#paths / nthreads)
   if seg < 1 then error("fewer URLs than threads") end
   first = id * seg -- 0-based key index
   local f = assert(io.open(args[3], "rb"))
   base = f:read("*a")
   f:close()
   rest = base:sub(10)
   n = 0
end

function request()
   local idx = first + (n % seg)
   n = n + 1
   return wrk.format("PUT", paths[idx + 1], nil, string.format("%09d", idx) .. rest)
end

function done(summary, latency, requests)
   local out = os.getenv("BENCH_WRK_WRITTEN")
   if not out then return end
   local f = assert(io.open(out, "w"))
   for _, t in ipairs(threads) do
      f:write(string.format("%d %d %d\n", t:get("first"), t:get("seg"), t:get("n")))
   end
   f:close()
end
