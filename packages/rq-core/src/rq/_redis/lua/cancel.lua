-- cancel.lua: cancel a job: status 'canceled', out of its queue and of the registry its status
-- puts it in, into the canceled registry. The hash itself is kept.
--
-- KEYS[1]  rq:job:<id>
-- KEYS[2]  rq:queue:<q>
-- KEYS[3]  rq:canceled:<q>
-- KEYS[4]  rq:wip:<q>          (members '<id>:<execution_id>')
-- KEYS[5]  rq:finished:<q>
-- KEYS[6]  rq:failed:<q>
-- KEYS[7]  rq:deferred:<q>
-- KEYS[8]  rq:scheduled:<q>
-- KEYS[9]  rq:executions:<id>
-- KEYS[10] rq:queue:<q>:intermediate
-- ARGV[1]  job id
-- ARGV[2]  score for the canceled registry (now, whole seconds)
--
-- Returns 1 canceled, 0 already canceled, -1 no such job.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
    return -1
end
if status == 'canceled' then
    return 0
end
local job_id = ARGV[1]
redis.call('HSET', KEYS[1], 'status', 'canceled')
redis.call('LREM', KEYS[2], 0, job_id)
redis.call('LREM', KEYS[10], 0, job_id)
for i = 5, 8 do
    redis.call('ZREM', KEYS[i], job_id)
end
for _, execution_id in ipairs(redis.call('ZRANGE', KEYS[9], 0, -1)) do
    redis.call('ZREM', KEYS[4], job_id .. ':' .. execution_id)
end
redis.call('ZADD', KEYS[3], ARGV[2], job_id)
return 1
