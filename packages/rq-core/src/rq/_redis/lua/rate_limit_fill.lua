-- rate_limit_fill.lua: give the free slots of a rate-limit key to its oldest waiters (RQ 3.0's
-- acquire): each promoted job is pushed onto its queue and becomes 'queued'.
--
-- KEYS[1]  rq:rl:<key>:allowed          } named here for readers; the script builds them (and the
-- KEYS[2]  rq:rl:<key>:rate_limited     } promoted jobs' hashes and queues) from the context
-- ARGV[1]  the rate-limit key
-- ARGV[2]  concurrency, or '' for the key's stored one
-- ARGV[3]  now (float seconds), ARGV[4] enqueued_at timestamp for promoted jobs
-- ARGV[5 .. 8]  the rate-limit context (see lib_rate_limit)
--
-- Returns the promoted ids, oldest first.

-- @include lib_rate_limit

local concurrency = nil
if ARGV[2] ~= '' then
    concurrency = ARGV[2]
end
return rl_fill({ARGV[5], ARGV[6], ARGV[7], ARGV[8]}, ARGV[1], concurrency, ARGV[3], ARGV[4])
