-- forget_empty_group.lua: one step of a scan of a group's set: drop the ids whose job no longer
-- exists, and forget the group name once its set is empty; atomic, so a job enqueued into the
-- group meanwhile keeps it listed. The caller runs the steps (ops.cleanup_group) until the cursor
-- comes back to '0': one call looks at about ARGV[4] ids, however large the group.
--
-- KEYS[1]  rq:group:<name>
-- KEYS[2]  rq:groups
-- ARGV[1]  the group name
-- ARGV[2]  the job key prefix, 'rq:job:'
-- ARGV[3]  the SSCAN cursor ('0' to start)
-- ARGV[4]  the SSCAN COUNT hint
--
-- Returns {next cursor ('0' when the scan is over), number of ids dropped}.
local dropped = 0
local step = redis.call('SSCAN', KEYS[1], ARGV[3], 'COUNT', ARGV[4])
for _, job_id in ipairs(step[2]) do
    if redis.call('EXISTS', ARGV[2] .. job_id) == 0 then
        redis.call('SREM', KEYS[1], job_id)
        dropped = dropped + 1
    end
end
if redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('SREM', KEYS[2], ARGV[1])
end
return {step[1], dropped}
