-- move_dependents.lua: release a job's deferred dependents whose dependencies are all met, and say
-- which: queue them now (mode 'queue'), move them to RQ 3.0's ready registry for a drain to queue
-- (mode 'ready': status 'ready_to_enqueue', in rq:ready:<origin>, see enqueue_ready.lua), or only
-- list them, writing nothing (mode 'look'). The rules are lib_release's (which see): safe to run any
-- number of times and from inside a MULTI, as it reads everything it decides on itself.
--
-- KEYS[1]  rq:job:<parent>:dependents
-- KEYS[2]  rq:queues
-- ARGV[1]  parent id
-- ARGV[2]  enqueued_at timestamp for queued jobs
-- ARGV[3]  mode: 'queue', 'ready' or 'look'
-- ARGV[4]  a dependency id counted as met whatever its status (RQ 3.0's exclude_job_id), or ''
-- ARGV[5]  the parent's status to judge it by, or '' to read the stored one
-- ARGV[6]  '1': RQ 3.0's rule for the parent (met unless canceled, stopped, or failed while the
--          dependent does not allow failures: see lib_release's lenient_parent), '0': lib_release's
-- ARGV[7]  'rq:job:'       } prefixes of the dependents' keys, which are only known once the set
-- ARGV[8]  'rq:deferred:'  } is read (they come from rq._redis.keys): rq:job:<id>,
-- ARGV[9]  'rq:queue:'     } rq:job::<id>:dependencies, rq:deferred:<origin>, rq:queue:<origin>,
-- ARGV[10] 'rq:ready:'     } rq:ready:<origin>
-- ARGV[11] now (float seconds): the score of a rate-limited dependent's wait and slot, and (whole
--          seconds) of a ready entry
-- ARGV[12 .. 15]  the rate-limit context (see lib_rate_limit)
--
-- Returns {origin, id, origin, id, ...}: the dependents released (mode 'look': that would be).

-- @include lib_release

local listed = {}
local opts = {mode = ARGV[3], ready_prefix = ARGV[10], listed = listed, lenient_parent = ARGV[6] == '1'}
if ARGV[3] == 'queue' then
    opts.mode = nil
end
if ARGV[4] ~= '' then
    opts.excluded = ARGV[4]
end
if ARGV[5] ~= '' then
    opts.parent_status = ARGV[5]
end
release_dependents(KEYS[1], KEYS[2], ARGV[1], ARGV[2], '0', ARGV[7], ARGV[8], ARGV[9], ARGV[11],
    {ARGV[12], ARGV[13], ARGV[14], ARGV[15]}, opts)
return listed
