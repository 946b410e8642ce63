-- enqueue.lua: save a job hash and place it, atomically: on its queue, deferred behind unmet
-- dependencies, in the scheduled registry, or nowhere (save only).
--
-- KEYS[1]  rq:job:<id>                 job hash
-- KEYS[2]  rq:queue:<q>                queue list (also the member written to rq:queues)
-- KEYS[3]  rq:queues                   set of queue keys
-- KEYS[4]  rq:deferred:<q>             deferred registry
-- KEYS[5]  rq:scheduled:<q>            scheduled registry
-- KEYS[6]  rq:job:<id>:dependents      this job's dependents set (only expired with the job)
-- KEYS[7]  rq:job::<id>:dependencies   this job's dependencies set
-- KEYS[8]  rq:group:<g>                group set (untouched when ARGV[8] is '')
-- KEYS[9]  rq:groups                   set of group names
-- KEYS[10] rq:enqueue-token:<token>    this call's token (see below)
-- KEYS[11 .. 10+n]     rq:job:<dep>             the n dependency job hashes
-- KEYS[11+n .. 10+2n]  rq:job:<dep>:dependents  their dependents sets
-- (with a rate limit, also rq:rl-keys, rq:rl:<key>, rq:rl:<key>:allowed, rq:rl:<key>:rate_limited
-- and the hashes and queues of the jobs a free slot promotes: see lib_rate_limit)
--
-- ARGV[1]  job id
-- ARGV[2]  placement: 'R' queue tail, 'L' queue head, 'S' scheduled, 'N' save only
-- ARGV[3]  '1': refuse (return 0, write nothing) when the job hash already exists
-- ARGV[4]  ttl in seconds for the job and its sets, '-1' for none
-- ARGV[5]  registry score: due time for 'S', deferral time otherwise (whole UTC seconds)
-- ARGV[6]  enqueued_at timestamp, written only when the job lands on its queue
-- ARGV[7]  '1': a failed dependency counts as met (Dependency(allow_failure=True))
-- ARGV[8]  group id, or ''
-- ARGV[9]  n, the number of dependencies
-- ARGV[10] seconds the token is kept
-- ARGV[11] the job's rate-limit key (RQ 3.0), or '': a job that would be queued waits for a slot
-- ARGV[12] its concurrency
-- ARGV[13] now (float seconds), ARGV[14 .. 17] the rate-limit context (see lib_rate_limit)
-- ARGV[18 .. 17+n]  the dependency ids
-- ARGV[18+n ..]     field, value, field, value ... of the job hash
--
-- Returns 0 duplicate, 1 queued, 2 deferred, 3 scheduled, 4 saved, 5 waiting for a rate-limit slot
-- (status 'rate_limited'; with a free slot it is queued at once: 1).
--
-- Each call carries a token of its own, unique to it (KEYS[10]). A call that writes records its
-- outcome under the token; a copy of the same call (redis-py sends a command again when the reply
-- did not come in time, and both copies run once the server answers) finds the token and returns
-- that outcome without doing anything else: the job is never queued twice, and the client reads
-- the reply it would have read from the first copy. The copy writes the token again (same value,
-- fresh TTL): a replica-acknowledged enqueue sends WAIT after the call on the same connection, and
-- WAIT counts that connection's own writes only; the copy's write comes after the first copy's in
-- the replication stream, so a replica that acknowledges it holds the job too.

-- The rate-limit functions are defined only for a job that has a limit: defining them costs a
-- quarter of a plain enqueue's time in the server.
local function rate_limits()
-- @include lib_rate_limit
    return rl_place
end

local job_id = ARGV[1]
local placement = ARGV[2]
local ttl = tonumber(ARGV[4])
local n = tonumber(ARGV[9])
local token_key = KEYS[10]
local rate_limit_key = ARGV[11]

local earlier = redis.call('GET', token_key)
if earlier then
    redis.call('SET', token_key, earlier, 'EX', ARGV[10])
    return tonumber(earlier)
end

if ARGV[3] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then
    return 0
end

if #ARGV >= 18 + n then
    redis.call('HSET', KEYS[1], unpack(ARGV, 18 + n, #ARGV))
end

local outcome
if placement == 'S' then
    redis.call('HSET', KEYS[1], 'status', 'scheduled')
    redis.call('ZADD', KEYS[5], ARGV[5], job_id)
    redis.call('SADD', KEYS[3], KEYS[2])
    outcome = 3
elseif placement == 'N' then
    redis.call('SADD', KEYS[3], KEYS[2])
    outcome = 4
else
    local unmet = false
    for i = 1, n do
        local status = redis.call('HGET', KEYS[10 + i], 'status')
        if status and status ~= 'finished' and not (ARGV[7] == '1' and status == 'failed') then
            unmet = true
        end
    end
    redis.call('SADD', KEYS[3], KEYS[2])
    if unmet then
        redis.call('HSET', KEYS[1], 'status', 'deferred')
        redis.call('ZADD', KEYS[4], ARGV[5], job_id)
        for i = 1, n do
            redis.call('SADD', KEYS[10 + n + i], job_id)
            redis.call('SADD', KEYS[7], ARGV[17 + i])
        end
        outcome = 2
    else
        if rate_limit_key == '' then
            redis.call('HSET', KEYS[1], 'status', 'queued', 'enqueued_at', ARGV[6])
            if placement == 'L' then
                redis.call('LPUSH', KEYS[2], job_id)
            else
                redis.call('RPUSH', KEYS[2], job_id)
            end
            outcome = 1
        else
            local ctx = {ARGV[14], ARGV[15], ARGV[16], ARGV[17]}
            local place = rate_limits()
            if place(ctx, job_id, KEYS[2], placement == 'L', ARGV[6], ARGV[13], rate_limit_key, ARGV[12]) == 1 then
                outcome = 1
            else
                outcome = 5
            end
        end
    end
end

if ARGV[8] ~= '' then
    redis.call('SADD', KEYS[8], job_id)
    redis.call('SADD', KEYS[9], ARGV[8])
end

if ttl > 0 then
    redis.call('EXPIRE', KEYS[1], ttl)
    redis.call('EXPIRE', KEYS[6], ttl)
    redis.call('EXPIRE', KEYS[7], ttl)
end
redis.call('SET', token_key, outcome, 'EX', ARGV[10])
return outcome
