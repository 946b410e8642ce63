-- lib_rate_limit.lua: RQ 3.0's concurrency rate limits, as functions that scripts include (a line
-- "-- @include lib_rate_limit" is replaced by this file when a script is loaded).
--
-- A rate-limit key K has a config hash rq:rl:K {concurrency}, the zset rq:rl:K:allowed of the jobs
-- holding a slot (queued or started; score: when they got it) and the zset rq:rl:K:rate_limited of
-- the jobs waiting for one (score: when they began to wait; the oldest is promoted first); every K in
-- use is in the set rq:rl-keys. The names of the jobs and queues a promotion touches are only known
-- once read, so every function takes the context ctx = {rl_prefix, rl_keys_key, job_prefix,
-- queue_prefix} (rq._redis.keys.RATE_LIMIT_CONTEXT, which follows RQ_KEY_PREFIX).
--
-- rl_fill(ctx, key, concurrency, timestamp, enqueued_at) -> promoted ids
--     While fewer than `concurrency` (nil: the config's) jobs hold a slot, take the oldest waiter; one
--     whose hash is gone, has no origin or is no longer 'rate_limited' is dropped; the others get a
--     slot, are pushed onto their queue (at the front when enqueue_at_front is '1') and become
--     'queued' with `enqueued_at`.
-- rl_wait(ctx, key, concurrency, job_id, timestamp)
--     Make a job wait for a slot of `key` (status 'rate_limited'), recording the key and its
--     concurrency (the last writer's concurrency wins, as in RQ 3.0).
-- rl_admit(ctx, key, concurrency, job_id, timestamp, enqueued_at) -> 1 queued now, 0 waiting
--     rl_wait then rl_fill: the way every rate-limited job reaches its queue.
-- rl_place(ctx, job_id, queue_key, at_front, enqueued_at, timestamp, limit_key, limit_concurrency)
--     -> 1 on its queue now, 0 waiting
--     Put a job whose time has come (enqueued, due, released, requeued) on its queue: through its
--     limiter when it has a rate limit (limit_key and limit_concurrency, false or nil for none),
--     otherwise 'queued' with `enqueued_at`, at the front when `at_front`.
-- rl_settle(ctx, key, job_id, timestamp, enqueued_at, live_executions_key) -> promoted ids
--     After a change of the job (its outcome, a cancel, a delete): a job no longer queued, started or
--     waiting gives its slot back and the next waiters are promoted. With `live_executions_key`
--     (rq:executions:<id>), a job that still has a live execution (its worker is running it: a cancel
--     or delete while it runs) keeps its slot until that run ends.

local function rl_names(ctx, key)
    local base = ctx[1] .. key
    return base, base .. ':allowed', base .. ':rate_limited'
end

local function rl_fill(ctx, key, concurrency, timestamp, enqueued_at)
    local config, allowed, waiting = rl_names(ctx, key)
    concurrency = tonumber(concurrency or redis.call('HGET', config, 'concurrency') or 0) or 0
    local promoted = {}
    while redis.call('ZCARD', allowed) < concurrency do
        local popped = redis.call('ZPOPMIN', waiting)
        if #popped == 0 then
            break
        end
        local job_id = popped[1]
        local job_key = ctx[3] .. job_id
        local fields = redis.call('HMGET', job_key, 'origin', 'status', 'enqueue_at_front')
        if fields[1] and fields[2] == 'rate_limited' then
            redis.call('ZADD', allowed, timestamp, job_id)
            if fields[3] == '1' then
                redis.call('LPUSH', ctx[4] .. fields[1], job_id)
            else
                redis.call('RPUSH', ctx[4] .. fields[1], job_id)
            end
            redis.call('HSET', job_key, 'status', 'queued', 'enqueued_at', enqueued_at)
            promoted[#promoted + 1] = job_id
        end
    end
    return promoted
end

local function rl_wait(ctx, key, concurrency, job_id, timestamp)
    local config, _, waiting = rl_names(ctx, key)
    redis.call('SADD', ctx[2], key)
    redis.call('HSET', config, 'concurrency', concurrency)
    redis.call('HSET', ctx[3] .. job_id, 'status', 'rate_limited')
    redis.call('ZADD', waiting, timestamp, job_id)
end

local function rl_admit(ctx, key, concurrency, job_id, timestamp, enqueued_at)
    rl_wait(ctx, key, concurrency, job_id, timestamp)
    for _, promoted_id in ipairs(rl_fill(ctx, key, concurrency, timestamp, enqueued_at)) do
        if promoted_id == job_id then
            return 1
        end
    end
    return 0
end

local function rl_place(ctx, job_id, queue_key, at_front, enqueued_at, timestamp, limit_key, limit_concurrency)
    if limit_key and limit_concurrency then
        return rl_admit(ctx, limit_key, limit_concurrency, job_id, timestamp, enqueued_at)
    end
    redis.call('HSET', ctx[3] .. job_id, 'status', 'queued', 'enqueued_at', enqueued_at)
    if at_front then
        redis.call('LPUSH', queue_key, job_id)
    else
        redis.call('RPUSH', queue_key, job_id)
    end
    return 1
end

local function rl_settle(ctx, key, job_id, timestamp, enqueued_at, live_executions_key)
    local _, allowed, waiting = rl_names(ctx, key)
    local status = redis.call('HGET', ctx[3] .. job_id, 'status')
    if status == 'queued' or status == 'started' or status == 'rate_limited' then
        return {}
    end
    if live_executions_key and redis.call('ZCOUNT', live_executions_key, '(' .. timestamp, '+inf') > 0 then
        return {}
    end
    redis.call('ZREM', waiting, job_id)
    redis.call('ZREM', allowed, job_id)
    return rl_fill(ctx, key, nil, timestamp, enqueued_at)
end
