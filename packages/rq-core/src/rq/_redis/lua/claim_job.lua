-- claim_job.lua: take the next job id off the first non-empty queue and mark the job started by
-- this worker, in one atomic step. After it, the id is either still queued or recorded in the
-- started registry with an execution, so a worker killed at any moment loses nothing: a started
-- entry whose heartbeat stops expires and is failed or retried by any live worker.
--
-- KEYS[1 .. n]        rq:queue:<q>         the queues, in the order to try them
-- KEYS[n+1 .. 2n]     rq:wip:<q>           their started registries
-- KEYS[2n+1]          rq:worker:<name>     the worker hash
-- KEYS[2n+2]          rq:suspended         when it exists, nothing is claimed
-- KEYS[2n+3]          rq:worker:<name>:executions   the worker's execution index (rq 3.0's): the
--                     claimed '<job_id>:<execution_id>' is added, EXPIRE ttl rounded up + 60
--
-- ARGV[1]  n, the number of queues
-- ARGV[2]  worker name
-- ARGV[3]  execution id
-- ARGV[4]  timestamp for the job hash (started_at, last_heartbeat), '%Y-%m-%dT%H:%M:%S.%fZ'
-- ARGV[5]  float epoch for the execution hash (created_at, last_heartbeat)
-- ARGV[6]  now, whole UTC seconds
-- ARGV[7]  heartbeat ttl in seconds (may have a fraction): started score ARGV[5]+ttl (the exact moment, not whole seconds: with a
--          1 s heartbeat a score floored to the second could expire before the first heartbeat),
--          execution hash and worker hash EXPIRE ttl rounded up, executions score now+ttl+60
-- ARGV[8]  'rq:job:'        } prefixes of the keys of the job that is popped, which cannot be known
-- ARGV[9]  'rq:execution:'  } before the pop (they come from rq._redis.keys)
-- ARGV[10] 'rq:executions:' }
-- ARGV[11] '1' when the worker sends this claim again because the reply to the first one was lost
--          (optional: '0' or absent for a first claim)
-- ARGV[12] the most dead ids (see below) to drop in this call (optional: 1000 when absent)
-- ARGV[13] the worker's slot that will run the job, written as the execution hash's 'slot' (optional:
--          a worker that runs many jobs at once says which of its slots runs each)
--
-- Returns nil when every queue is empty, -1 when workers are suspended, {0, number dropped} when
-- ARGV[12] dead ids were dropped and nothing was claimed yet (the caller calls again), else
-- the claim in one string (one bulk string decodes much faster than a list of them): the queue's
-- index (1-based), the length of the job id and of each field and each value of the job hash, in
-- decimal and separated by commas, a semicolon, then the job id, the fields and the values, one
-- after another. Ids whose job hash no longer exists (an expired ttl) are dropped on the way, at most
-- ARGV[12] of them per call: a queue holding millions of them would otherwise keep Redis busy
-- (every other client refused with BUSY) for seconds.
--
-- Repeating a call is safe: when a job is already started under this execution id (the first call
-- applied but its reply was lost, and the client sent it again), that same job is returned again,
-- its execution renewed (started entry, execution hash, worker hash, execution index), and nothing
-- else is taken.
-- The job is found through the worker hash's current_job or, for a call marked as sent again
-- (ARGV[11]) and whenever the worker hash is gone, by its execution id in the started registries
-- (a scan, never on a live worker's ordinary claim): the worker hash lives only one heartbeat ttl
-- without a beat, and an outage of Redis (or of the worker's link to it) may outlast it. (A call
-- that redis-py itself sends again after a lost reply is not marked: the worker hash being gone
-- is what sends such a call to the scan.)

local function claimed(index, job_id, job_key)
    local flat = redis.call('HGETALL', job_key)
    local lengths = {index, #job_id}
    for i = 1, #flat do
        lengths[i + 2] = #flat[i]
    end
    return table.concat(lengths, ',') .. ';' .. job_id .. table.concat(flat)
end

local n = tonumber(ARGV[1])
local worker_key = KEYS[2 * n + 1]
local now = tonumber(ARGV[6])
local moment = tonumber(ARGV[5])
local ttl = tonumber(ARGV[7])
local expire_ttl = math.ceil(ttl)
local index_key = KEYS[2 * n + 3]

-- The worker's execution index, as rq 3.0 readers look for it (get_current_executions()).
local function index_execution(job_id)
    redis.call('SADD', index_key, job_id .. ':' .. ARGV[3])
    redis.call('EXPIRE', index_key, expire_ttl + 60)
end

-- The claim of this execution applied already (queue index i, job job_id): renew what a heartbeat
-- renews, and what may have expired meanwhile, and return the same job.
local function taken_again(i, job_id)
    local execution_id = ARGV[3]
    redis.call('ZADD', KEYS[n + i], 'XX', moment + ttl, job_id .. ':' .. execution_id)
    local execution_key = ARGV[9] .. job_id .. ':' .. execution_id
    redis.call('HSETNX', execution_key, 'created_at', ARGV[5])
    redis.call('HSET', execution_key, 'id', execution_id, 'job_id', job_id, 'last_heartbeat', ARGV[5], 'worker_name',
        ARGV[2])
    if ARGV[13] then
        redis.call('HSET', execution_key, 'slot', ARGV[13])
    end
    redis.call('EXPIRE', execution_key, expire_ttl)
    local executions_key = ARGV[10] .. job_id
    redis.call('ZADD', executions_key, now + ttl + 60, execution_id)
    redis.call('EXPIRE', executions_key, expire_ttl + 60)
    index_execution(job_id)
    redis.call('HSET', worker_key, 'state', 'busy', 'current_job', job_id, 'last_heartbeat', ARGV[4])
    redis.call('EXPIRE', worker_key, expire_ttl)
    return claimed(i, job_id, ARGV[8] .. job_id)
end

local current = redis.call('HGET', worker_key, 'current_job')
if current then
    for i = 1, n do
        if redis.call('ZSCORE', KEYS[n + i], current .. ':' .. ARGV[3]) then
            return taken_again(i, current)
        end
    end
end
if ARGV[11] == '1' or (not current and redis.call('EXISTS', worker_key) == 0) then
    local suffix = ':' .. ARGV[3]
    for i = 1, n do
        for _, member in ipairs(redis.call('ZRANGE', KEYS[n + i], 0, -1)) do
            if #member > #suffix and string.sub(member, -#suffix) == suffix then
                return taken_again(i, string.sub(member, 1, #member - #suffix))
            end
        end
    end
end

if redis.call('EXISTS', KEYS[2 * n + 2]) == 1 then
    return -1
end

local dead_limit = tonumber(ARGV[12] or '1000')
local dead = 0
for i = 1, n do
    while true do
        local job_id = redis.call('LPOP', KEYS[i])
        if not job_id then
            break
        end
        local job_key = ARGV[8] .. job_id
        if redis.call('EXISTS', job_key) == 0 then
            dead = dead + 1
            if dead >= dead_limit then
                return {0, dead}
            end
        else
            local execution_id = ARGV[3]
            redis.call('HSET', job_key, 'status', 'started', 'started_at', ARGV[4], 'last_heartbeat', ARGV[4],
                'worker_name', ARGV[2])
            redis.call('PERSIST', job_key)
            redis.call('ZADD', KEYS[n + i], moment + ttl, job_id .. ':' .. execution_id)
            local execution_key = ARGV[9] .. job_id .. ':' .. execution_id
            redis.call('HSET', execution_key, 'id', execution_id, 'job_id', job_id, 'created_at', ARGV[5],
                'last_heartbeat', ARGV[5], 'worker_name', ARGV[2])
            if ARGV[13] then
                redis.call('HSET', execution_key, 'slot', ARGV[13])
            end
            redis.call('EXPIRE', execution_key, expire_ttl)
            local executions_key = ARGV[10] .. job_id
            redis.call('ZADD', executions_key, now + ttl + 60, execution_id)
            redis.call('EXPIRE', executions_key, expire_ttl + 60)
            index_execution(job_id)
            redis.call('HSET', worker_key, 'state', 'busy', 'current_job', job_id, 'current_job_working_time', '0',
                'last_heartbeat', ARGV[4])
            redis.call('EXPIRE', worker_key, expire_ttl)
            return claimed(i, job_id, job_key)
        end
    end
end
return nil
