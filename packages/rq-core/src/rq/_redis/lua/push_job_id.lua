-- push_job_id.lua: push a job id onto a queue, once per call even when the client sends the call
-- again (see the token in enqueue.lua).
--
-- KEYS[1]  rq:queue:<q>
-- KEYS[2]  rq:enqueue-token:<token>   this call's token
-- ARGV[1]  job id
-- ARGV[2]  'L' the head of the queue, 'R' its tail
-- ARGV[3]  seconds the token is kept
--
-- Returns the queue's length after the push (the first copy's reply, for a copy sent again).
local earlier = redis.call('GET', KEYS[2])
if earlier then
    return tonumber(earlier)
end
local length
if ARGV[2] == 'L' then
    length = redis.call('LPUSH', KEYS[1], ARGV[1])
else
    length = redis.call('RPUSH', KEYS[1], ARGV[1])
end
redis.call('SET', KEYS[2], length, 'EX', ARGV[3])
return length
