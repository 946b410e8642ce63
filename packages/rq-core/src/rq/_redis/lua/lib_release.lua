-- lib_release.lua: the release of a job's deferred dependents, as a function that scripts include
-- (a line "-- @include lib_release" is replaced by this file when a script is loaded).
--
-- release_dependents(dependents_key, queues_key, parent_id, enqueued_at, ignore_parent,
--                    job_prefix, deferred_prefix, queue_prefix, timestamp, rl_ctx, opts)
--     -> number of jobs released (queued, or waiting for a rate-limit slot)
--
-- A dependency is met when its job is gone, finished, or failed while the dependent allows
-- failures (allow_dependency_failures '1'); ignore_parent '1' also counts the parent as met
-- whatever its status. Dependents that are no longer deferred (gone, canceled, already released)
-- are dropped from the parent's set. The prefixes come from rq._redis.keys: the dependents' keys
-- are only known once the set is read. A dependent with a rate limit (RQ 3.0) goes through its
-- limiter (lib_rate_limit's rl_admit, with `timestamp` and `rl_ctx`): queued if a slot is free,
-- otherwise waiting as 'rate_limited'.
--
-- opts (optional, nil for all of the above) is a table for RQ 3.0's move_dependents_to_ready:
--   excluded       a dependency id counted as met whatever its status (3.0's exclude_job_id)
--   parent_status  the parent's status to judge it by instead of the stored one (nil: read it)
--   lenient_parent true: the parent counts as met unless it is canceled, stopped, or failed while the
--                  dependent does not allow failures (RQ 3.0's rule for the job whose dependents it
--                  moves: its outcome may be stored by the same transaction, after the move)
--   mode           nil: queue the dependents, as above; 'ready': move them to 3.0's ready registry
--                  instead (status 'ready_to_enqueue', ZADD ready_prefix .. origin scored
--                  `timestamp` in whole seconds, out of the deferred registry; a drain queues them,
--                  see enqueue_ready.lua); 'look': write nothing at all, only list them
--   ready_prefix   'rq:ready:' (mode 'ready')
--   listed         a table: the origin and id of each released dependent are appended to it

-- @include lib_rate_limit

local function release_dependents(dependents_key, queues_key, parent_id, enqueued_at, ignore_parent,
                                  job_prefix, deferred_prefix, queue_prefix, timestamp, rl_ctx, opts)
    local released = 0
    opts = opts or {}
    local mode = opts.mode
    local writes = mode ~= 'look'

    local function is_met(dependency_id, allow_failed)
        if (dependency_id == parent_id and ignore_parent == '1') or dependency_id == opts.excluded then
            return true
        end
        local status
        if dependency_id == parent_id and opts.parent_status then
            status = opts.parent_status
        else
            status = redis.call('HGET', job_prefix .. dependency_id, 'status')
        end
        if dependency_id == parent_id and opts.lenient_parent then
            return not (status == 'canceled' or status == 'stopped' or (status == 'failed' and not allow_failed))
        end
        return (not status) or status == 'finished' or (allow_failed and status == 'failed')
    end

    for _, dependent_id in ipairs(redis.call('SMEMBERS', dependents_key)) do
        local job_key = job_prefix .. dependent_id
        local fields = redis.call('HMGET', job_key, 'status', 'origin', 'allow_dependency_failures',
            'enqueue_at_front', 'dependency_ids', 'rate_limit_key', 'rate_limit_concurrency')
        if fields[1] ~= 'deferred' then
            if writes then
                redis.call('SREM', dependents_key, dependent_id)
            end
        else
            local allow_failed = fields[3] == '1'
            local ready = true
            local seen = {}
            local dependencies_key = job_prefix .. ':' .. dependent_id .. ':dependencies'
            for _, dependency_id in ipairs(redis.call('SMEMBERS', dependencies_key)) do
                seen[dependency_id] = true
                if ready and not is_met(dependency_id, allow_failed) then
                    ready = false
                end
            end
            if ready and fields[5] then
                local ok, listed = pcall(cjson.decode, fields[5])
                if ok and type(listed) == 'table' then
                    for _, dependency_id in ipairs(listed) do
                        if ready and not seen[dependency_id] and not is_met(dependency_id, allow_failed) then
                            ready = false
                        end
                    end
                end
            end
            if ready then
                local origin = fields[2] or ''
                local queue_key = queue_prefix .. origin
                if mode == 'ready' then
                    redis.call('ZREM', deferred_prefix .. origin, dependent_id)
                    redis.call('HSET', job_key, 'status', 'ready_to_enqueue')
                    redis.call('ZADD', opts.ready_prefix .. origin, math.floor(tonumber(timestamp)), dependent_id)
                    redis.call('SREM', dependents_key, dependent_id)
                elseif writes then
                    redis.call('ZREM', deferred_prefix .. origin, dependent_id)
                    rl_place(rl_ctx, dependent_id, queue_key, fields[4] == '1', enqueued_at, timestamp, fields[6],
                        fields[7])
                    redis.call('SADD', queues_key, queue_key)
                    redis.call('SREM', dependents_key, dependent_id)
                end
                if opts.listed then
                    local listed = opts.listed
                    listed[#listed + 1] = origin
                    listed[#listed + 1] = dependent_id
                end
                released = released + 1
            end
        end
    end
    return released
end
