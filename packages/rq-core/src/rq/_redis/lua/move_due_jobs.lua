-- move_due_jobs.lua: move due scheduled jobs onto their queue, each one atomically.
--
-- A job is either still in the scheduled registry or on its queue, never both or neither; a job id
-- that another scheduler moved meanwhile (it is no longer in the registry, or was rescheduled
-- later) is left alone, so concurrent schedulers never queue a job twice.
--
-- KEYS[1]  rq:scheduled:<q>
-- KEYS[2]  rq:queue:<q>
-- KEYS[3]  rq:queues
-- then, for the i-th id (i from 1):
-- KEYS[3 + 3i - 2]  rq:job:<id>
-- KEYS[3 + 3i - 1]  rq:job:<id>:dependents
-- KEYS[3 + 3i]      rq:job::<id>:dependencies
-- ARGV[1]  due bound: ids scored at or before this are due (whole UTC seconds)
-- ARGV[2]  enqueued_at timestamp to write
-- ARGV[3]  now (float seconds), ARGV[4 .. 7] the rate-limit context (see lib_rate_limit)
-- ARGV[8..]  the job ids, in the order to queue them
--
-- Each moved job gets status 'queued' and enqueued_at; a job with a ttl expires that long after
-- being queued (with its dependency sets). It goes to the front of the queue when enqueue_at_front
-- is '1', or when enqueue_at_front_on_retry is '1' and it has run before (started_at is set);
-- otherwise to the back. A job with a rate limit (RQ 3.0) goes through its limiter instead: queued
-- if a slot is free, otherwise it waits as 'rate_limited' (both count as moved). An id whose job
-- hash is gone is only taken out of the registry.
--
-- Returns {moved, dropped}.

-- @include lib_rate_limit

local FIRST_ID = 8
local ctx = {ARGV[4], ARGV[5], ARGV[6], ARGV[7]}
local moved, dropped = 0, 0
local due = tonumber(ARGV[1])
for i = FIRST_ID, #ARGV do
    local id = ARGV[i]
    local base = 3 + 3 * (i - FIRST_ID + 1)
    local job_key = KEYS[base - 2]
    local score = redis.call('ZSCORE', KEYS[1], id)
    if score and tonumber(score) <= due then
        redis.call('ZREM', KEYS[1], id)
        if redis.call('EXISTS', job_key) == 1 then
            local fields = redis.call('HMGET', job_key, 'enqueue_at_front', 'enqueue_at_front_on_retry',
                'started_at', 'ttl', 'rate_limit_key', 'rate_limit_concurrency')
            local at_front = fields[1] == '1'
                or (fields[2] == '1' and fields[3] ~= false and fields[3] ~= '')
            local ttl = tonumber(fields[4] or '')
            if ttl and ttl > 0 then
                redis.call('EXPIRE', job_key, ttl)
                redis.call('EXPIRE', KEYS[base - 1], ttl)
                redis.call('EXPIRE', KEYS[base], ttl)
            end
            if at_front and fields[5] and fields[6] then
                -- (the limiter pushes by enqueue_at_front alone: a retry's front placement is kept on it)
                redis.call('HSET', job_key, 'enqueue_at_front', '1')
            end
            rl_place(ctx, id, KEYS[2], at_front, ARGV[2], ARGV[3], fields[5], fields[6])
            redis.call('SADD', KEYS[3], KEYS[2])
            moved = moved + 1
        else
            dropped = dropped + 1
        end
    end
end
return {moved, dropped}
