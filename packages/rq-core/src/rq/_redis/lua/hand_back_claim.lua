-- hand_back_claim.lua: undo a claim whose job the worker will not run (the claim was sent together
-- with the previous job's recording, and Redis refused that recording). The job goes back to the
-- front of its queue, queued, as if the claim had never taken it: its started entry, its execution
-- (also in the worker's execution index) and the worker hash's current_job are removed.
--
-- KEYS[1]  rq:queue:<q>
-- KEYS[2]  rq:wip:<q>
-- KEYS[3]  rq:job:<id>
-- KEYS[4]  rq:execution:<id>:<execution_id>
-- KEYS[5]  rq:executions:<id>
-- KEYS[6]  rq:worker:<name>
-- KEYS[7]  rq:worker:<name>:executions
--
-- ARGV[1]  job id
-- ARGV[2]  execution id of the claim
--
-- Returns 1 when the job was handed back, 0 when that claim's started entry was gone (nothing to
-- hand back: the claim did not take this job, or another step ended it).
--
-- Out of memory: Redis (6 and 7, a script without flags) checks maxmemory only at a script's first
-- write, and only for commands that may use memory (HSET, LPUSH ...). The first write here is a
-- ZREM, which Redis never refuses: the step runs whole even when used memory is above maxmemory
-- (it frees more than it takes), so a refused recording never leaves the next job started with
-- nobody running it.

local member = ARGV[1] .. ':' .. ARGV[2]
if redis.call('ZREM', KEYS[2], member) == 0 then
    return 0
end
redis.call('DEL', KEYS[4])
redis.call('ZREM', KEYS[5], ARGV[2])
redis.call('SREM', KEYS[7], member)
if redis.call('EXISTS', KEYS[3]) == 1 then
    redis.call('HDEL', KEYS[3], 'started_at', 'last_heartbeat', 'worker_name')
    redis.call('HSET', KEYS[3], 'status', 'queued')
    redis.call('LPUSH', KEYS[1], ARGV[1])
end
if redis.call('HGET', KEYS[6], 'current_job') == ARGV[1] then
    redis.call('HDEL', KEYS[6], 'current_job')
end
return 1
