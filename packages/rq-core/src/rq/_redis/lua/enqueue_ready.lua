-- enqueue_ready.lua: drain RQ 3.0's ready registry of one queue: put its jobs (dependents whose
-- parents' outcomes are stored, status 'ready_to_enqueue') on the queue, each one atomically.
--
-- An id is handled only by the call that takes it out of the registry (ZREM), so concurrent drains
-- (ours, or an rq 3.0 process's WATCH-guarded one) never queue a job twice. A taken id whose job
-- hash is gone, or whose status is no longer 'ready_to_enqueue' (canceled, deleted, queued by
-- someone else meanwhile), is only dropped. The others become 'queued' with enqueued_at and are
-- pushed onto the queue (at the front when enqueue_at_front is '1'), or, with a rate limit (fields
-- rate_limit_key and rate_limit_concurrency), go through their limiter (lib_rate_limit's rl_admit):
-- queued if a slot is free, otherwise waiting as 'rate_limited'.
--
-- KEYS[1]  rq:ready:<q>
-- KEYS[2]  rq:queue:<q>
-- KEYS[3]  rq:queues
-- KEYS[3 + i]  rq:job:<id> of the i-th id (i from 1)
-- (with a rate limit, also rq:rl-keys, rq:rl:<key>, rq:rl:<key>:allowed, rq:rl:<key>:rate_limited
-- and the hashes and queues of the jobs a free slot promotes: see lib_rate_limit)
-- ARGV[1]  enqueued_at timestamp to write
-- ARGV[2]  now (float seconds): the score of a rate-limited job's wait and slot
-- ARGV[3 .. 6]  the rate-limit context (see lib_rate_limit)
-- ARGV[7 ..]    the ids, in the order to queue them (a bounded batch: see rq._redis.ready_ops)
--
-- Returns the ids handed on (queued, or waiting for a rate-limit slot), in order.

-- @include lib_rate_limit

local FIRST_ID = 7
local ctx = {ARGV[3], ARGV[4], ARGV[5], ARGV[6]}
local handed = {}
for i = FIRST_ID, #ARGV do
    local id = ARGV[i]
    local job_key = KEYS[3 + i - FIRST_ID + 1]
    if redis.call('ZREM', KEYS[1], id) == 1 then
        local fields = redis.call('HMGET', job_key, 'status', 'enqueue_at_front', 'rate_limit_key',
            'rate_limit_concurrency')
        if fields[1] == 'ready_to_enqueue' then
            rl_place(ctx, id, KEYS[2], fields[2] == '1', ARGV[1], ARGV[2], fields[3], fields[4])
            redis.call('SADD', KEYS[3], KEYS[2])
            handed[#handed + 1] = id
        end
    end
end
return handed
