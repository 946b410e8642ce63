-- rate_limit_settle.lua: after a job changed (its run's outcome, a cancel, a delete), give its
-- rate-limit slot back unless it still needs one, and promote the next waiters (RQ 3.0's release).
--
-- KEYS[1]  rq:job:<id>
-- KEYS[2]  rq:executions:<id>
-- ARGV[1]  the job's rate-limit key
-- ARGV[2]  job id
-- ARGV[3]  now (float seconds), ARGV[4] enqueued_at timestamp for promoted jobs
-- ARGV[5]  '1': keep the slot while the job has a live execution (a cancel or delete while it
--          runs: the run's own outcome gives it back); '0': the caller records that run's end
-- ARGV[6 .. 9]  the rate-limit context (see lib_rate_limit)
--
-- A job still queued, started or waiting keeps its place. Returns the promoted ids.

-- @include lib_rate_limit

local live = nil
if ARGV[5] == '1' then
    live = KEYS[2]
end
return rl_settle({ARGV[6], ARGV[7], ARGV[8], ARGV[9]}, ARGV[1], ARGV[2], ARGV[3], ARGV[4], live)
