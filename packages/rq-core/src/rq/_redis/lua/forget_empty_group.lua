-- forget_empty_group.lua: drop jobs that no longer exist from a group, and forget the group name
-- once its set is empty; atomic, so a job enqueued into the group meanwhile keeps it listed.
--
-- KEYS[1]  rq:group:<name>
-- KEYS[2]  rq:groups
-- ARGV[1]  the group name
-- ARGV[2]  the job key prefix, 'rq:job:'
--
-- Returns the number of ids dropped.
local dropped = 0
for _, job_id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    if redis.call('EXISTS', ARGV[2] .. job_id) == 0 then
        redis.call('SREM', KEYS[1], job_id)
        dropped = dropped + 1
    end
end
if redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('SREM', KEYS[2], ARGV[1])
end
return dropped
