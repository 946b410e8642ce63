-- enqueue_batch.lua: save a batch of plain jobs and push them onto their queue, atomically: for
-- each job exactly what enqueue.lua writes for a job it queues at once (its hash, then status
-- 'queued' and enqueued_at, its id pushed at the tail or the head, its group, its TTLs), in one
-- call instead of one call per job. A plain job has no dependency, no
-- rate limit and is not unique: nothing about it needs reading before it is placed, so a batch of
-- them is a loop of writes. The others keep going through enqueue.lua, one call each.
--
-- KEYS[1]  rq:queue:<q>               the queue (also the member written to rq:queues)
-- KEYS[2]  rq:queues                  set of queue keys
-- KEYS[3]  rq:group:<g>               group set (untouched when ARGV[3] is '')
-- KEYS[4]  rq:groups                  set of group names
-- KEYS[5]  rq:enqueue-token:<token>   this call's token (as in enqueue.lua)
-- KEYS[6]  rq:enqueue-token:<token>   optional: the token of the call sent just before this one on
--                                     the same connection whose reply had not come yet (see below)
--
-- ARGV[1]  'rq:job:', the prefix of the job keys (rq._redis.keys.JOB_PREFIX): the job hash is
--          <prefix><id>, its dependents set <prefix><id>:dependents and its dependencies set
--          <prefix>:<id>:dependencies, as rq._redis.keys spells them
-- ARGV[2]  enqueued_at timestamp of every job of the batch
-- ARGV[3]  group id, or ''
-- ARGV[4]  seconds the token is kept
-- ARGV[5 ..] per job, in order: id, 'R' (queue tail) or 'L' (queue head), ttl in seconds ('-1'
--          for none), n, then the n items field, value, field, value ... of its hash
--
-- Returns the number of jobs placed, or -1 when KEYS[6] is given and does not exist: the call
-- before this one did not run (every enqueue or enqueue_batch call that runs writes its token; this
-- one's script was unknown to the server, or it failed), so this one writes nothing either and the
-- client sends both again in order. Without this check, a client that writes calls without waiting
-- for each reply could see a later batch run while an earlier one did not, and the queue's order
-- would no longer be the order given.
--
-- Work is proportional to the batch, which the client keeps small (rq._redis.batch_ops.BATCH_JOBS
-- jobs, BATCH_BYTES bytes at most).
--
-- The token works as in enqueue.lua: a copy of the call (the client sends it again when a reply did
-- not come) finds the first copy's outcome under it, writes the token again with a fresh TTL and
-- returns that outcome, pushing nothing.
--
-- Pushes commute: LPUSH works on the head and RPUSH on the tail, so pushing every 'R' id in order
-- with one RPUSH and every 'L' id in order with one LPUSH leaves the list as one push per job
-- would. Hash fields are written in the order given, then status and enqueued_at, which leaves the
-- hash (its fields' order included) as enqueue.lua leaves it.

local token_key = KEYS[5]

local earlier = redis.call('GET', token_key)
if earlier then
    redis.call('SET', token_key, earlier, 'EX', ARGV[4])
    return tonumber(earlier)
end
if KEYS[6] and redis.call('EXISTS', KEYS[6]) == 0 then
    return -1
end

local prefix = ARGV[1]
local enqueued_at = ARGV[2]
local group_id = ARGV[3]
local tail, head, members = {}, {}, {}
local i = 5
local last = #ARGV
while i <= last do
    local job_id = ARGV[i]
    local ttl = tonumber(ARGV[i + 2])
    local n = tonumber(ARGV[i + 3])
    local job_key = prefix .. job_id
    if n > 0 then
        redis.call('HSET', job_key, unpack(ARGV, i + 4, i + 3 + n))
    end
    redis.call('HSET', job_key, 'status', 'queued', 'enqueued_at', enqueued_at)
    if ARGV[i + 1] == 'L' then
        head[#head + 1] = job_id
    else
        tail[#tail + 1] = job_id
    end
    members[#members + 1] = job_id
    if ttl > 0 then
        redis.call('EXPIRE', job_key, ttl)
        redis.call('EXPIRE', job_key .. ':dependents', ttl)
        redis.call('EXPIRE', prefix .. ':' .. job_id .. ':dependencies', ttl)
    end
    i = i + 4 + n
end

redis.call('SADD', KEYS[2], KEYS[1])
if #tail > 0 then
    redis.call('RPUSH', KEYS[1], unpack(tail))
end
if #head > 0 then
    redis.call('LPUSH', KEYS[1], unpack(head))
end
if group_id ~= '' and #members > 0 then
    redis.call('SADD', KEYS[3], unpack(members))
    redis.call('SADD', KEYS[4], group_id)
end

redis.call('SET', token_key, #members, 'EX', ARGV[4])
return #members
