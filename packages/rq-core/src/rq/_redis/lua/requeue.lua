-- requeue.lua: move a job from a registry back onto its queue, if it is in that registry.
--
-- KEYS[1]  the registry (e.g. rq:failed:<q>)
-- KEYS[2]  rq:job:<id>
-- KEYS[3]  rq:queue:<q>
-- KEYS[4]  rq:queues
-- KEYS[5]  rq:enqueue-token:<token>   this call's token (see enqueue.lua)
-- ARGV[1]  job id
-- ARGV[2]  enqueued_at timestamp
-- ARGV[3]  '1' to push at the front
-- ARGV[4]  the legacy exc_info field to write (RQ 2.x writes the zlib compression of '')
-- ARGV[5]  the job's ttl: a queued job expires after it ('-1': it is kept until it runs)
-- ARGV[6]  seconds the token is kept
-- ARGV[7]  now (float seconds), ARGV[8 .. 11] the rate-limit context (see lib_rate_limit)
--
-- The previous run's started_at and ended_at are cleared (the job has not started again yet), as
-- RQ 2.x does. A job with a rate limit (RQ 3.0) goes through its limiter: queued if a slot is free,
-- otherwise it waits as 'rate_limited' (both answer 1).
--
-- Returns 1 requeued, 0 not in the registry, -1 in the registry but the job hash is gone (the
-- stale entry is removed). A copy of a call that the client sent again returns the first copy's
-- reply (recorded under the token) and does nothing: without the token it would answer 0, the job
-- having left the registry.
-- @include lib_rate_limit

local earlier = redis.call('GET', KEYS[5])
if earlier then
    return tonumber(earlier)
end
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
    return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 0 then
    redis.call('SET', KEYS[5], -1, 'EX', ARGV[6])
    return -1
end
redis.call('HSET', KEYS[2], 'status', 'queued', 'enqueued_at', ARGV[2], 'started_at', '', 'ended_at', '',
    'exc_info', ARGV[4])
if tonumber(ARGV[5]) > 0 then
    redis.call('EXPIRE', KEYS[2], ARGV[5])
else
    redis.call('PERSIST', KEYS[2])
end
local limit = redis.call('HMGET', KEYS[2], 'rate_limit_key', 'rate_limit_concurrency')
rl_place({ARGV[8], ARGV[9], ARGV[10], ARGV[11]}, ARGV[1], KEYS[3], ARGV[3] == '1', ARGV[2], ARGV[7], limit[1], limit[2])
redis.call('SADD', KEYS[4], KEYS[3])
redis.call('SET', KEYS[5], 1, 'EX', ARGV[6])
return 1
