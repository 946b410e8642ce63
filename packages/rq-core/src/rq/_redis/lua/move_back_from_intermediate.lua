-- move_back_from_intermediate.lua: put an id an (upstream) worker left in a queue's intermediate
-- list back at the front of the queue, atomically, if it is still there.
--
-- KEYS[1]  rq:queue:<q>:intermediate
-- KEYS[2]  rq:queue:<q>
-- KEYS[3]  rq:job:<id>
-- KEYS[4]  rq:queue:<q>:intermediate:first_seen:<id>
-- ARGV[1]  job id
--
-- Returns 1 when the job was put back, 0 when the id was gone or its job hash was (then dropped).
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
    return 0
end
redis.call('DEL', KEYS[4])
if redis.call('EXISTS', KEYS[3]) == 0 then
    return 0
end
redis.call('HSET', KEYS[3], 'status', 'queued')
redis.call('LPUSH', KEYS[2], ARGV[1])
return 1
