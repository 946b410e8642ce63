-- finish_job.lua: record a successful run in one step (a worker's fast path): the job's new
-- fields, its result entry, the finished registry, TTLs, the release of its dependents, the end of
-- its execution and the worker's counters. Nothing of the job is written if its hash is gone
-- (deleted while it ran); the execution and the worker are still cleaned up.
--
-- KEYS[1]  rq:job:<id>
-- KEYS[2]  rq:results:<id>
-- KEYS[3]  rq:finished:<q>
-- KEYS[4]  rq:wip:<q>
-- KEYS[5]  rq:execution:<id>:<execution_id>
-- KEYS[6]  rq:executions:<id>
-- KEYS[7]  rq:worker:<name>
-- KEYS[8]  rq:job:<id>:dependents
-- KEYS[9]  rq:job::<id>:dependencies
-- KEYS[10] rq:queues
-- KEYS[11] rq:worker:<name>:executions   (the worker's execution index: '<id>:<execution_id>' is removed)
--
-- ARGV[1]  job id
-- ARGV[2]  execution id
-- ARGV[3]  result_ttl: > 0 seconds, or -1 for ever (0 never comes here)
-- ARGV[4]  finished registry score (now + ttl, or '+inf')
-- ARGV[5]  started_at, ARGV[6] ended_at (hash timestamps), ARGV[7] worker name
-- ARGV[8]  working seconds (float text), for the worker's total_working_time
-- ARGV[9]  stream maxlen (approximate)
-- ARGV[10] enqueued_at timestamp for released dependents
-- ARGV[11] 'rq:job:', ARGV[12] 'rq:deferred:', ARGV[13] 'rq:queue:'   (prefixes, see lib_release)
-- ARGV[14] now (float seconds), ARGV[15 .. 18] the rate-limit context   (for released dependents
--          that have a rate limit, see lib_release; the job itself has none: jobs with a rate
--          limit record their outcome through rq._outcome)
-- ARGV[19 ..] the result entry's field, value pairs
--
-- Returns 1 when the job was recorded, 0 when its hash was gone, 2 when this execution was already
-- recorded (its started entry is gone, and a result of it is in the job's results), 3 when the
-- result came late: its started entry is gone and no result of this execution was recorded (the
-- job was failed, or retried, as abandoned meanwhile). A late result is added to the job's results
-- (so job.results() shows both) and counted for the worker; the job itself (status, registries,
-- dependents, a retry running elsewhere) is left as it is.

-- @include lib_release

local job_id = ARGV[1]
local ttl = tonumber(ARGV[3])
local recorded = 0

local function count_for_worker()
    redis.call('HINCRBY', KEYS[7], 'successful_job_count', 1)
    redis.call('HINCRBYFLOAT', KEYS[7], 'total_working_time', ARGV[8])
    redis.call('HSET', KEYS[7], 'state', 'idle')
    redis.call('HDEL', KEYS[7], 'current_job')
end

-- The end of this execution, wherever the call ends: its hash, its entry in the job's executions
-- and in the worker's execution index.
local function end_execution()
    redis.call('DEL', KEYS[5])
    redis.call('ZREM', KEYS[6], ARGV[2])
    redis.call('SREM', KEYS[11], job_id .. ':' .. ARGV[2])
end

-- Whether the job's results hold one of this execution (the stream is short: MAXLEN ~ ARGV[9]).
local function recorded_before()
    for _, entry in ipairs(redis.call('XRANGE', KEYS[2], '-', '+')) do
        local fields = entry[2]
        for i = 1, #fields, 2 do
            if fields[i] == 'execution_id' and fields[i + 1] == ARGV[2] then
                return true
            end
        end
    end
    return false
end

-- Once recorded, the execution's started entry is gone: a call re-sent after a lost reply changes
-- nothing. Gone without a result of this execution: the job was failed as abandoned meanwhile (the
-- worker was cut off from Redis for longer than its entry lived); the result is kept all the same.
if not redis.call('ZSCORE', KEYS[4], job_id .. ':' .. ARGV[2]) then
    if redis.call('EXISTS', KEYS[1]) == 0 or recorded_before() then
        redis.call('SREM', KEYS[11], job_id .. ':' .. ARGV[2])
        return 2
    end
    local stream_ttl = redis.call('TTL', KEYS[2])
    local entry = {}
    for i = 19, #ARGV do
        entry[#entry + 1] = ARGV[i]
    end
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[9], '*', unpack(entry))
    -- (a stream of the job's earlier results keeps its TTL; a new one gets the result's)
    if stream_ttl == -2 and ttl > 0 then
        redis.call('EXPIRE', KEYS[2], ttl)
    end
    end_execution()
    count_for_worker()
    return 3
end

if redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('HSET', KEYS[1], 'status', 'finished', 'started_at', ARGV[5], 'ended_at', ARGV[6],
        'last_heartbeat', ARGV[6], 'worker_name', ARGV[7])
    local entry = {}
    for i = 19, #ARGV do
        entry[#entry + 1] = ARGV[i]
    end
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[9], '*', unpack(entry))
    redis.call('ZADD', KEYS[3], ARGV[4], job_id)
    release_dependents(KEYS[8], KEYS[10], job_id, ARGV[10], '0', ARGV[11], ARGV[12], ARGV[13], ARGV[14],
        {ARGV[15], ARGV[16], ARGV[17], ARGV[18]})
    if ttl > 0 then
        redis.call('EXPIRE', KEYS[2], ttl)
        redis.call('EXPIRE', KEYS[1], ttl)
        redis.call('EXPIRE', KEYS[8], ttl)
        redis.call('EXPIRE', KEYS[9], ttl)
    else
        redis.call('PERSIST', KEYS[2])
    end
    recorded = 1
end

end_execution()
redis.call('ZREM', KEYS[4], job_id .. ':' .. ARGV[2])
count_for_worker()
return recorded
