-- empty_queue.lua: pop up to ARGV[2] ids off a queue and delete each job hash, its dependents set
-- and its results stream (as RQ 3.0 does). Registries and dependency sets are left alone (as RQ
-- does). The caller calls again while ids are left (ops.empty_queue): one call never holds Redis
-- for long, however long the queue.
--
-- KEYS[1]  rq:queue:<q>
-- ARGV[1]  the job key prefix, 'rq:job:'
-- ARGV[2]  the most ids to pop in this call
-- ARGV[3]  the results stream prefix, 'rq:results:'
--
-- Returns {ids removed, ids left in the queue}.
local count = 0
local limit = tonumber(ARGV[2])
while count < limit do
    local job_id = redis.call('LPOP', KEYS[1])
    if not job_id then
        break
    end
    redis.call('DEL', ARGV[1] .. job_id, ARGV[1] .. job_id .. ':dependents', ARGV[3] .. job_id)
    count = count + 1
end
return {count, redis.call('LLEN', KEYS[1])}
